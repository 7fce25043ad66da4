/**
 * Distinguished names: build from short attribute names (C, O, OU, CN, …) with UTF8String values so
 * Chinese names round-trip exactly, format for people, and compare the RFC 5280 §7.1 way.
 */

import { encodeOid, encodeSequence, encodeTlv } from '@medsign/gm/der';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AttributeTypeAndValue, AttributeValue, Name, RelativeDistinguishedName } from '@peculiar/asn1-x509';
import * as oid from './oids.js';

/** Short names for the attribute types medsign writes; any other type is given by its dotted OID. */
export const NAME_ATTRIBUTES = {
  C: oid.id_at_countryName,
  ST: oid.id_at_stateOrProvinceName,
  L: oid.id_at_localityName,
  STREET: oid.id_at_streetAddress,
  O: oid.id_at_organizationName,
  OU: oid.id_at_organizationalUnitName,
  CN: oid.id_at_commonName,
  SN: oid.id_at_surname,
  GN: oid.id_at_givenName,
  T: oid.id_at_title,
  SERIALNUMBER: oid.id_at_serialNumber,
  E: oid.id_emailAddress,
  DC: oid.id_domainComponent,
  UID: oid.id_userId,
} as const;

const SHORT_BY_OID = new Map<string, string>(Object.entries(NAME_ATTRIBUTES).map(([k, v]) => [v, k]));

/** One attribute: a short name (see NAME_ATTRIBUTES) or a dotted OID, and its value. */
export type NameAttribute = [type: string, value: string];

function attributeOid(type: string): string {
  const known = (NAME_ATTRIBUTES as Record<string, string>)[type.toUpperCase()];
  if (known) return known;
  if (/^\d+(\.\d+)+$/.test(type)) return type;
  throw new RangeError(`unknown name attribute ${type}`);
}

const PRINTABLE_STRING = 0x13;
const IA5_STRING = 0x16;
const UTF8_STRING = 0x0c;

/** The string type of an attribute value (checked to fit it). */
function attributeTag(type: string, value: string): number {
  if (value.length === 0) throw new RangeError(`name attribute ${type} must not be empty`);
  // RFC 5280: countryName and serialNumber are PrintableString; emailAddress and DC are IA5String.
  if (type === oid.id_at_countryName || type === oid.id_at_serialNumber) {
    if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(value)) throw new RangeError(`${type} must be printable ASCII`);
    return PRINTABLE_STRING;
  }
  if (type === oid.id_emailAddress || type === oid.id_domainComponent) {
    // eslint-disable-next-line no-control-regex
    if (!/^[\x00-\x7f]*$/.test(value)) throw new RangeError(`${type} must be ASCII`);
    return IA5_STRING;
  }
  return UTF8_STRING;
}

function attributeValue(type: string, value: string): AttributeValue {
  const tag = attributeTag(type, value);
  if (tag === PRINTABLE_STRING) return new AttributeValue({ printableString: value });
  if (tag === IA5_STRING) return new AttributeValue({ ia5String: value });
  return new AttributeValue({ utf8String: value });
}

const utf8 = new TextEncoder();

/**
 * The DER of {@link buildName}(attributes) written directly (the same bytes): a CA encodes a subject per
 * issuance, and the schema serializer is the slow way there.
 */
export function encodeNameAttributes(attributes: readonly NameAttribute[]): Uint8Array {
  return encodeSequence(
    ...attributes.map(([type, value]) => {
      const t = attributeOid(type);
      const atv = encodeSequence(encodeOid(t), encodeTlv(attributeTag(t, value), utf8.encode(value)));
      return encodeTlv(0x31, atv);
    }),
  );
}

/** Builds a Name, one attribute per RDN, in the given order (most significant first, e.g. C, O, OU, CN). */
export function buildName(attributes: readonly NameAttribute[]): Name {
  return new Name(
    attributes.map(([type, value]) => {
      const t = attributeOid(type);
      return new RelativeDistinguishedName([
        new AttributeTypeAndValue({ type: t, value: attributeValue(t, value) }),
      ]);
    }),
  );
}

export function encodeName(name: Name): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(name));
}

export function parseName(der: Uint8Array): Name {
  return AsnConvert.parse(der, Name);
}

function valueText(v: AttributeValue): string {
  return (
    v.utf8String ??
    v.printableString ??
    v.ia5String ??
    v.bmpString ??
    v.teletexString ??
    v.universalString ??
    v.toString()
  );
}

/** The attributes of a name as [short name or OID, value] pairs, in order. */
export function nameAttributes(name: Name): NameAttribute[] {
  // Spread first: mapping the schema's Array subclasses would return those subclasses, not plain arrays.
  return [...name].flatMap((rdn) =>
    [...rdn].map((atv) => [SHORT_BY_OID.get(atv.type) ?? atv.type, valueText(atv.value)] as NameAttribute),
  );
}

/** "C=CN, O=某某医院, OU=心内科, CN=张三" — in encoding order, the way OpenSSL prints names. */
export function formatName(name: Name): string {
  return nameAttributes(name)
    .map(([t, v]) => `${t}=${v.replace(/([,+"\\<>;])/g, '\\$1')}`)
    .join(', ');
}

/** The value of the first attribute of a type (short name or OID), if present. */
export function nameAttribute(name: Name, type: string): string | undefined {
  const t = attributeOid(type);
  for (const rdn of name) for (const atv of rdn) if (atv.type === t) return valueText(atv.value);
  return undefined;
}

const normalise = (s: string) => s.trim().replace(/\s+/g, ' ').toLowerCase();

/**
 * RFC 5280 §7.1 name matching: same number of RDNs and attributes, same types in the same order, values
 * equal after case folding and whitespace compression (a simplification of LDAP StringPrep that holds for
 * the names medsign and its peers write). Exact DER equality always matches.
 */
export function namesMatch(a: Name, b: Name): boolean {
  if (a.length !== b.length) return false;
  return a.every((rdn, i) => {
    const other = b[i]!;
    if (rdn.length !== other.length) return false;
    return rdn.every(
      (atv, j) =>
        atv.type === other[j]!.type &&
        normalise(valueText(atv.value)) === normalise(valueText(other[j]!.value)),
    );
  });
}
