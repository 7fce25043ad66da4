/**
 * GM/T 0015 identity extensions (gm-standards.md §1.4): the 2012 private extensions under
 * 1.2.156.10260.4.1 (IdentityCode CHOICE, insurance, IC registration, organisation code, tax number),
 * the 2023 forms (resident ID card 4.1.1.1, passport 4.1.1.2, unified social credit code 4.4 — the last
 * one single-sourced), a reader that tries them in the order field software uses, and
 * `customExtension` for any other private extension.
 *
 * Builders are strict (PrintableString alphabet, non-empty values, EXPLICIT tagging in IdentityCode as
 * XiPKI emits it); readers are tolerant where real certificates differ (EXPLICIT or IMPLICIT tags, a bare
 * string under 4.1.1, UTF8String/IA5String where PrintableString is specified) and throw DecodeError for
 * anything that is not one of those shapes.
 */

import { DecodeError } from '@medsign/gm';
import { checkDerStructure, encodeOid, encodeTlv, readTlv, type Tlv } from '@medsign/gm/der';
import type { CertExtension } from './extensions.js';
import * as oid from './oids.js';

const PRINTABLE_STRING = 0x13;
const UTF8_STRING = 0x0c;
const IA5_STRING = 0x16;

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]+$/;

/** The three alternatives of the GM/T 0015-2012 IdentityCode CHOICE, by context tag number. */
export const IDENTITY_CODE_KINDS = ['residentIdCard', 'militaryOfficerCard', 'passport'] as const;
/** residenterCardNumber [0] PrintableString | militaryOfficerCardNumber [1] UTF8String | passportNumber [2] PrintableString. */
export type IdentityCodeKind = (typeof IDENTITY_CODE_KINDS)[number];

/** One IdentityCode value. */
export type IdentityCode = { kind: IdentityCodeKind; value: string };

/** How a read IdentityCode was tagged: EXPLICIT (XiPKI), IMPLICIT, or an untagged string (field practice). */
export type IdentityCodeTagging = 'explicit' | 'implicit' | 'untagged';

/** The inner string type each CHOICE alternative carries. */
const KIND_STRING_TAG: Readonly<Record<IdentityCodeKind, number>> = {
  residentIdCard: PRINTABLE_STRING,
  militaryOfficerCard: UTF8_STRING,
  passport: PRINTABLE_STRING,
};

function printableString(value: string, what: string): Uint8Array {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string`);
  if (!PRINTABLE.test(value)) throw new RangeError(`${what} must be a non-empty PrintableString`);
  return encodeTlv(PRINTABLE_STRING, new TextEncoder().encode(value));
}

function utf8String(value: string, what: string): Uint8Array {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string`);
  if (value.length === 0) throw new RangeError(`${what} must not be empty`);
  return encodeTlv(UTF8_STRING, new TextEncoder().encode(value));
}

function stringOfTag(tag: number, value: string, what: string): Uint8Array {
  return tag === PRINTABLE_STRING ? printableString(value, what) : utf8String(value, what);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes the contents of a string TLV of `tag`, checking the alphabet the type allows. */
function decodeString(tag: number, bytes: Uint8Array, what: string): string {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new DecodeError(`${what}: invalid UTF-8`);
  }
  if (text.length === 0) throw new DecodeError(`${what}: empty string`);
  if (tag === PRINTABLE_STRING && !PRINTABLE.test(text))
    throw new DecodeError(`${what}: characters outside PrintableString`);
  // eslint-disable-next-line no-control-regex
  if (tag === IA5_STRING && !/^[\x00-\x7f]*$/.test(text))
    throw new DecodeError(`${what}: non-ASCII IA5String`);
  return text;
}

function readStringTlv(tlv: Tlv, what: string): string {
  if (tlv.tag !== PRINTABLE_STRING && tlv.tag !== UTF8_STRING && tlv.tag !== IA5_STRING)
    throw new DecodeError(`${what}: expected a PrintableString, UTF8String or IA5String`);
  return decodeString(tlv.tag, tlv.value, what);
}

function ext(id: string, value: Uint8Array): CertExtension {
  // GM/T 0015 lists the identity extensions as non-critical (gm-standards.md §5.1).
  return { oid: id, critical: false, value };
}

/** GM/T 0015-2012 IdentityCode (1.2.156.10260.4.1.1), CHOICE alternative tagged EXPLICIT as XiPKI emits it. */
export function identityCodeExtension(code: IdentityCode): CertExtension {
  const index = IDENTITY_CODE_KINDS.indexOf(code.kind);
  if (index < 0) throw new RangeError(`unknown IdentityCode kind ${String(code.kind)}`);
  const inner = stringOfTag(KIND_STRING_TAG[code.kind], code.value, `IdentityCode.${code.kind}`);
  return ext(oid.id_gmt0015_identityCode, encodeTlv(0xa0 | index, inner));
}

/**
 * Reads an IdentityCode extnValue: the CHOICE with EXPLICIT ([n] constructed around the string) or IMPLICIT
 * ([n] primitive) tags, or — as some CAs write it — a bare string, taken as a resident ID card number.
 */
export function readIdentityCode(value: Uint8Array): IdentityCode & { tagging: IdentityCodeTagging } {
  const what = 'IdentityCode';
  const tlv = readTlv(value, 0);
  if (tlv.end !== value.length) throw new DecodeError(`${what}: trailing bytes`, tlv.end);
  const number = tlv.tag & 0x1f;
  if ((tlv.tag & 0xc0) === 0x80 && number <= 2) {
    const kind = IDENTITY_CODE_KINDS[number]!;
    if (tlv.tag & 0x20) {
      const inner = readTlv(tlv.value, 0);
      if (inner.end !== tlv.value.length) throw new DecodeError(`${what}.${kind}: trailing bytes`);
      return { kind, value: readStringTlv(inner, `${what}.${kind}`), tagging: 'explicit' };
    }
    return {
      kind,
      value: decodeString(KIND_STRING_TAG[kind], tlv.value, `${what}.${kind}`),
      tagging: 'implicit',
    };
  }
  return { kind: 'residentIdCard', value: readStringTlv(tlv, what), tagging: 'untagged' };
}

/** GM/T 0015-2012 InsuranceNumber / 2023 Social Insurance Number (1.2.156.10260.4.1.2), PrintableString. */
export function insuranceNumberExtension(value: string): CertExtension {
  return ext(oid.id_gmt0015_insuranceNumber, printableString(value, 'InsuranceNumber'));
}

/** GM/T 0015-2012 ICRegistrationNumber (企业工商注册号, 1.2.156.10260.4.1.3), PrintableString. */
export function icRegistrationNumberExtension(value: string): CertExtension {
  return ext(oid.id_gmt0015_icRegistrationNumber, printableString(value, 'ICRegistrationNumber'));
}

/** GM/T 0015-2012 OrganizationCode (企业组织机构代码, 1.2.156.10260.4.1.4), PrintableString. */
export function organizationCodeExtension(value: string): CertExtension {
  return ext(oid.id_gmt0015_organizationCode, printableString(value, 'OrganizationCode'));
}

/** GM/T 0015-2012 TaxationNumber (企业税号, 1.2.156.10260.4.1.5), PrintableString. */
export function taxationNumberExtension(value: string): CertExtension {
  return ext(oid.id_gmt0015_taxationNumber, printableString(value, 'TaxationNumber'));
}

/** GM/T 0015-2023 Resident Identity Card Number (1.2.156.10260.4.1.1.1), PrintableString. */
export function residentIdCardExtension(value: string): CertExtension {
  return ext(oid.id_gmt0015_residentIdCard, printableString(value, 'ResidentIdCardNumber'));
}

/** GM/T 0015-2023 Passport Number (1.2.156.10260.4.1.1.2), UTF8String. */
export function passportNumberExtension(value: string): CertExtension {
  return ext(oid.id_gmt0015_passportNumber, utf8String(value, 'PassportNumber'));
}

/**
 * GM/T 0015-2023 Unified Social Credit Code (1.2.156.10260.4.4), PrintableString. The OID is single-sourced
 * [U]; issuers that must interoperate with older readers may add organizationCodeExtension as well.
 */
export function unifiedSocialCreditCodeExtension(value: string): CertExtension {
  return ext(oid.id_gmt0015_unifiedSocialCreditCode, printableString(value, 'UnifiedSocialCreditCode'));
}

/**
 * Reads the single string of a GM/T 0015 string extension (4.1.1.1, 4.1.1.2, 4.1.2–4.1.5, 4.4). Accepts
 * PrintableString, UTF8String and IA5String whichever the table names, because field CAs vary.
 */
export function readGmStringExtension(value: Uint8Array, what = 'GM/T 0015 extension'): string {
  const tlv = readTlv(value, 0);
  if (tlv.end !== value.length) throw new DecodeError(`${what}: trailing bytes`, tlv.end);
  return readStringTlv(tlv, what);
}

/** The GM/T 0015 identity extension OIDs this module knows, 2012 and 2023. */
export const GM_IDENTITY_EXTENSION_OIDS: readonly string[] = [
  oid.id_gmt0015_identityCode,
  oid.id_gmt0015_insuranceNumber,
  oid.id_gmt0015_icRegistrationNumber,
  oid.id_gmt0015_organizationCode,
  oid.id_gmt0015_taxationNumber,
  oid.id_gmt0015_residentIdCard,
  oid.id_gmt0015_passportNumber,
  oid.id_gmt0015_unifiedSocialCreditCode,
];

const IDENTITY_EXTENSION_NAMES: Readonly<Record<string, string>> = {
  [oid.id_gmt0015_insuranceNumber]: 'InsuranceNumber',
  [oid.id_gmt0015_icRegistrationNumber]: 'ICRegistrationNumber',
  [oid.id_gmt0015_organizationCode]: 'OrganizationCode',
  [oid.id_gmt0015_taxationNumber]: 'TaxationNumber',
  [oid.id_gmt0015_residentIdCard]: 'ResidentIdCardNumber',
  [oid.id_gmt0015_passportNumber]: 'PassportNumber',
  [oid.id_gmt0015_unifiedSocialCreditCode]: 'UnifiedSocialCreditCode',
};

/** Decodes any GM/T 0015 identity extension value by OID (DecodeError when malformed). */
export function readGmIdentityExtension(ext: CertExtension): string {
  if (ext.oid === oid.id_gmt0015_identityCode) return readIdentityCode(ext.value).value;
  const name = IDENTITY_EXTENSION_NAMES[ext.oid];
  if (!name) throw new RangeError(`${ext.oid} is not a GM/T 0015 identity extension`);
  return readGmStringExtension(ext.value, name);
}

/** One identity number found in a certificate, with the extension it came from. */
export type IdentityNumber = { value: string; oid: string };

/** What readIdentityNumbers found; `problems` names extensions that were present but unreadable. */
export type IdentityNumbers = {
  residentIdCard?: IdentityNumber;
  passport?: IdentityNumber;
  militaryOfficerCard?: IdentityNumber;
  socialInsurance?: IdentityNumber;
  /** Unified social credit code (4.4), else organisation code (4.1.4), else IC registration number (4.1.3). */
  organization?: IdentityNumber;
  taxation?: IdentityNumber;
  problems: string[];
};

/**
 * Reads personal and organisation identity numbers from a certificate's extensions in the order of
 * gm-standards.md §1.4: ID card 4.1.1.1 → 4.1.1 (CHOICE or bare string); passport 4.1.1.2 → 4.1.1;
 * organisations 4.4 → 4.1.4 → 4.1.3. Never throws on certificate contents: unreadable extensions are
 * skipped and named in `problems`. Values are returned as written (no prefix stripping).
 */
export function readIdentityNumbers(
  cert: { readonly extensions: readonly CertExtension[] } | readonly CertExtension[],
): IdentityNumbers {
  const exts: readonly CertExtension[] = Array.isArray(cert)
    ? (cert as readonly CertExtension[])
    : (cert as { readonly extensions: readonly CertExtension[] }).extensions;
  const out: IdentityNumbers = { problems: [] };
  const readString = (id: string): IdentityNumber | undefined => {
    const e = exts.find((x) => x.oid === id);
    if (!e) return undefined;
    try {
      return { value: readGmStringExtension(e.value, IDENTITY_EXTENSION_NAMES[id]), oid: id };
    } catch (err) {
      out.problems.push(`${id}: ${(err as Error).message}`);
      return undefined;
    }
  };
  let code: (IdentityCode & { tagging: IdentityCodeTagging }) | undefined;
  const codeExt = exts.find((x) => x.oid === oid.id_gmt0015_identityCode);
  if (codeExt) {
    try {
      code = readIdentityCode(codeExt.value);
    } catch (err) {
      out.problems.push(`${oid.id_gmt0015_identityCode}: ${(err as Error).message}`);
    }
  }
  const fromCode = (kind: IdentityCodeKind): IdentityNumber | undefined =>
    code?.kind === kind ? { value: code.value, oid: oid.id_gmt0015_identityCode } : undefined;
  const first = (...found: (() => IdentityNumber | undefined)[]) => {
    for (const f of found) {
      const v = f();
      if (v) return v;
    }
    return undefined;
  };
  const set = <K extends Exclude<keyof IdentityNumbers, 'problems'>>(
    key: K,
    v: IdentityNumber | undefined,
  ) => {
    if (v) out[key] = v;
  };
  set(
    'residentIdCard',
    first(
      () => readString(oid.id_gmt0015_residentIdCard),
      () => fromCode('residentIdCard'),
    ),
  );
  set(
    'passport',
    first(
      () => readString(oid.id_gmt0015_passportNumber),
      () => fromCode('passport'),
    ),
  );
  set('militaryOfficerCard', fromCode('militaryOfficerCard'));
  set('socialInsurance', readString(oid.id_gmt0015_insuranceNumber));
  set(
    'organization',
    first(
      () => readString(oid.id_gmt0015_unifiedSocialCreditCode),
      () => readString(oid.id_gmt0015_organizationCode),
      () => readString(oid.id_gmt0015_icRegistrationNumber),
    ),
  );
  set('taxation', readString(oid.id_gmt0015_taxationNumber));
  return out;
}

const OID_PATTERN = /^(0|1|2)(\.(0|[1-9]\d*))+$/;

/** True for a dotted OID X.660 allows (first arc 0–2, second arc < 40 under 0 and 1, no leading zeros). */
export function isValidOid(text: string): boolean {
  if (typeof text !== 'string' || !OID_PATTERN.test(text)) return false;
  const arcs = text.split('.');
  return arcs[0] === '2' || BigInt(arcs[1]!) < 40n;
}

/**
 * Any private or not-yet-supported extension: `valueDer` is the DER that goes inside extnValue and must
 * be exactly one well-formed DER element. Throws RangeError for a bad OID, TypeError for wrong argument
 * types and DecodeError for a value that is not strict DER.
 */
export function customExtension(id: string, critical: boolean, valueDer: Uint8Array): CertExtension {
  if (!isValidOid(id)) throw new RangeError(`custom extension OID ${String(id)} is not a valid dotted OID`);
  encodeOid(id);
  if (typeof critical !== 'boolean') throw new TypeError('custom extension: critical must be a boolean');
  if (!(valueDer instanceof Uint8Array)) throw new TypeError('custom extension: value must be a Uint8Array');
  checkDerStructure(valueDer, `extension ${id} value`);
  return { oid: id, critical, value: valueDer.slice() };
}
