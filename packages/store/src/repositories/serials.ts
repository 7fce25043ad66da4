import { randomBytes } from 'node:crypto';
import { normalizeSerial, toIso } from '../codec.js';
import { isUniqueViolation, type Database } from '../database.js';
import { StoreError } from '../errors.js';

/**
 * A fresh random serial: 17 bytes from the CSPRNG with the top bit cleared — 135 random bits, positive,
 * at most 17 DER octets (RFC 5280 allows 20; CA/Browser Forum asks for ≥ 64 random bits).
 * Returned normalised (lower-case hex, no leading zeros).
 */
export function randomSerial(): string {
  for (;;) {
    const bytes = randomBytes(17);
    bytes[0]! &= 0x7f;
    const hex = bytes.toString('hex').replace(/^0+/, '');
    if (hex !== '') return hex;
  }
}

/** Options of {@link SerialRepository.reserveUniqueSerial}. */
export interface ReserveSerialOptions {
  /** Attempts before giving up with an `exhausted` StoreError (default 10). */
  maxAttempts?: number;
  /** Reservation time (default: now). */
  now?: Date;
}

/**
 * The `serials` table: every serial ever handed out per CA. Reserving inserts a row under the
 * (ca_id, serial) primary key, so two processes can never get the same serial, and a serial whose
 * issuance failed is never reused.
 */
export class SerialRepository {
  readonly #database: Database;

  constructor(database: Database) {
    this.#database = database;
  }

  /**
   * Reserves a serial for `caId`: calls `generate` (default {@link randomSerial}) and inserts it, and on a
   * unique-constraint violation (a collision, SQLITE_CONSTRAINT_PRIMARYKEY / PostgreSQL 23505) tries a
   * fresh one. Any other error is thrown at once. Returns the normalised serial.
   */
  async reserveUniqueSerial(
    caId: string,
    generate: () => string | bigint = randomSerial,
    options: ReserveSerialOptions = {},
  ): Promise<string> {
    const maxAttempts = options.maxAttempts ?? 10;
    const reservedAt = toIso(options.now ?? new Date());
    let lastError: unknown;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const serial = normalizeSerial(generate());
      try {
        await this.#database.groupWrite((trx) =>
          trx.insertInto('serials').values({ ca_id: caId, serial, reserved_at: reservedAt }).execute(),
        );
        return serial;
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        lastError = error;
      }
    }
    throw new StoreError('exhausted', `no unique serial for CA ${caId} after ${maxAttempts} attempts`, {
      cause: lastError,
    });
  }

  /** True when the serial was reserved for this CA. */
  async isReserved(caId: string, serial: string | bigint): Promise<boolean> {
    const row = await this.#database.db
      .selectFrom('serials')
      .select('serial')
      .where('ca_id', '=', caId)
      .where('serial', '=', normalizeSerial(serial))
      .executeTakeFirst();
    return row !== undefined;
  }
}
