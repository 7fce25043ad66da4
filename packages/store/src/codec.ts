// Value mapping between the domain's types and the portable column types (see migrations.ts).

/**
 * A timestamp as stored: ISO-8601 UTC with milliseconds, always 24 characters
 * (`2026-11-28T09:40:00.000Z`). Fixed width makes text order equal time order on both dialects,
 * and text avoids any driver or session time-zone conversion (PG `timestamptz`, SQLite's lack of one).
 * Years outside 0000–9999 would break the fixed width and are refused.
 */
export function toIso(date: Date): string {
  const t = date.getTime();
  if (!Number.isFinite(t)) throw new RangeError('date must be a valid Date');
  const iso = date.toISOString();
  if (iso.length !== 24) throw new RangeError(`date ${iso} is outside the years 0000–9999`);
  return iso;
}

/** Reads a stored timestamp (see {@link toIso}). */
export function fromIso(text: string): Date {
  const d = new Date(text);
  if (Number.isNaN(d.getTime()))
    throw new RangeError(`stored timestamp ${JSON.stringify(text)} is not ISO-8601`);
  return d;
}

/**
 * Bytes as handed to a driver: better-sqlite3 binds a Buffer as BLOB, pg a Buffer as bytea.
 * The Buffer shares memory with the input (no copy).
 */
export function toDbBytes(bytes: Uint8Array): Buffer {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('expected a Uint8Array');
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Bytes as read from a driver (a Buffer on both), copied into a plain Uint8Array so callers own them. */
export function fromDbBytes(value: Uint8Array): Uint8Array {
  return new Uint8Array(value);
}

/**
 * The one spelling of a certificate serial number in the database and in every query: lower-case hex
 * without leading zeros, as `ParsedCertificate.serialNumber` in @medsign/pki prints it. Accepts a
 * bigint, or hex in any case with optional `0x` prefix, colons or spaces (as `openssl x509 -serial` and
 * operators type it). Zero and negative serials are refused (RFC 5280 §4.1.2.2: positive integers).
 */
export function normalizeSerial(serial: string | bigint): string {
  let value: bigint;
  if (typeof serial === 'bigint') {
    value = serial;
  } else if (typeof serial === 'string') {
    const hex = serial.replace(/[\s:]/g, '').replace(/^0x/i, '');
    if (!/^[0-9a-fA-F]+$/.test(hex)) throw new RangeError(`serial ${JSON.stringify(serial)} is not hex`);
    if (hex.length > 42) throw new RangeError('serial must fit in 20 octets');
    value = BigInt('0x' + hex);
  } else {
    throw new TypeError('serial must be a hex string or a bigint');
  }
  if (value <= 0n) throw new RangeError('serial must be positive');
  const out = value.toString(16);
  if (out.length > 40) throw new RangeError('serial must fit in 20 octets');
  return out;
}

/** Lower-case hex of bytes (hash columns are stored as hex text: readable in exports and psql). */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
