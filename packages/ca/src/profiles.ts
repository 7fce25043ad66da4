/**
 * Certificate profiles are data, not code: key types, validity, key usage, subject template, policies,
 * URLs and custom extensions whose values are filled from applicant fields. The built-in set covers a
 * hospital's personal signing and encryption certificates, departments, servers and the service roles.
 */

import type { KeyFamily, KeyUsageName, LintProfile, NameAttribute } from '@medsign/pki';
import { oids } from '@medsign/pki';

/** How a custom extension's rendered template becomes the DER value inside extnValue. */
export type ExtensionEncoding = 'utf8' | 'printable' | 'ia5' | 'der-hex';

export type CustomExtensionTemplate = {
  oid: string;
  critical: boolean;
  encoding: ExtensionEncoding;
  /** Text with {{field}} placeholders filled from the applicant (e.g. "{{employeeNo}}"). */
  value: string;
};

export type Profile = {
  id: string;
  name: string;
  description: string;
  keyFamilies: readonly KeyFamily[];
  /** Smallest RSA modulus accepted. */
  minRsaBits: number;
  validityDays: number;
  keyUsage: readonly KeyUsageName[];
  extKeyUsage?: readonly string[];
  extKeyUsageCritical?: boolean;
  /** Subject attributes in order; values are templates. Attributes whose template renders empty are left out. */
  subject: readonly NameAttribute[];
  /** Applicant fields that must be present. */
  requiredFields: readonly string[];
  policies?: readonly { oid: string; cps?: string }[];
  crlDistributionPoint: boolean;
  authorityInfoAccess: boolean;
  /** GM/T 0015 identity extension from the applicant's ID number. */
  identityExtension?: 'gmt0015-2012' | 'gmt0015-2023';
  customExtensions: readonly CustomExtensionTemplate[];
  /** Extra lints run before signing. */
  lintProfile?: LintProfile;
};

/** Applicant data: well-known fields plus any extra ones a custom extension template refers to. */
export type Applicant = {
  name: string;
  employeeNo?: string;
  department?: string;
  organization?: string;
  country?: string;
  email?: string;
  idNumber?: string;
  phone?: string;
  [field: string]: string | undefined;
};

const personSubject: NameAttribute[] = [
  ['C', '{{country}}'],
  ['O', '{{organization}}'],
  ['OU', '{{department}}'],
  ['CN', '{{name}}'],
  ['SERIALNUMBER', '{{employeeNo}}'],
];

function personal(id: string, name: string, description: string): Profile {
  return {
    id,
    name,
    description,
    keyFamilies: ['sm2', 'rsa', 'ec'],
    minRsaBits: 2048,
    validityDays: 730,
    keyUsage: ['digitalSignature', 'nonRepudiation'],
    subject: personSubject,
    requiredFields: ['name', 'employeeNo', 'department'],
    crlDistributionPoint: true,
    authorityInfoAccess: true,
    identityExtension: 'gmt0015-2023',
    customExtensions: [],
    lintProfile: 'sm2-personal',
  };
}

/** An organisation-level profile (C, O, CN): what departments, servers and the service roles share. */
function service(id: string, name: string, description: string, validityDays: number): Profile {
  return {
    id,
    name,
    description,
    keyFamilies: ['sm2', 'rsa', 'ec'],
    minRsaBits: 2048,
    validityDays,
    keyUsage: ['digitalSignature', 'nonRepudiation'],
    subject: [
      ['C', '{{country}}'],
      ['O', '{{organization}}'],
      ['CN', '{{name}}'],
    ],
    requiredFields: ['name'],
    crlDistributionPoint: true,
    authorityInfoAccess: true,
    customExtensions: [],
  };
}

/** The profiles every installation starts with (operators add their own as data). */
export const BUILT_IN_PROFILES: readonly Profile[] = [
  personal('doctor', '医师个人签名证书 Doctor signing', 'Personal signing certificate of a physician.'),
  personal('nurse', '护士个人签名证书 Nurse signing', 'Personal signing certificate of a nurse.'),
  personal(
    'pharmacist',
    '药师个人签名证书 Pharmacist signing',
    'Personal signing certificate of a pharmacist.',
  ),
  {
    ...personal(
      'personal-encryption',
      '个人加密证书 Personal encryption',
      'The encryption half of a dual-certificate pair.',
    ),
    keyUsage: ['keyEncipherment', 'dataEncipherment', 'keyAgreement'],
  },
  {
    ...service(
      'department',
      '科室/机构证书 Department or institution',
      'Certificate of a department or of the institution (seals, system-level signatures).',
      1095,
    ),
    subject: [
      ['C', '{{country}}'],
      ['O', '{{organization}}'],
      ['OU', '{{department}}'],
      ['CN', '{{name}}'],
    ],
  },
  {
    ...service(
      'tls-server',
      '服务器证书 TLS server',
      'Server or device certificate for TLS; the DNS name is the name field.',
      397,
    ),
    keyUsage: ['digitalSignature', 'keyEncipherment'],
    extKeyUsage: [oids.id_kp_serverAuth],
  },
  {
    ...service(
      'tls-client',
      '客户端证书 TLS client (mTLS)',
      'Client certificate of a hospital system calling the signing API over mutual TLS; ECDSA or RSA (Node.js TLS has no SM2/TLCP).',
      397,
    ),
    keyFamilies: ['rsa', 'ec'],
    keyUsage: ['digitalSignature'],
    extKeyUsage: [oids.id_kp_clientAuth],
  },
  {
    ...service(
      'tsa',
      '时间戳服务证书 Time-stamping unit',
      'RFC 3161 TSA certificate: EKU timeStamping only, critical.',
      1825,
    ),
    extKeyUsage: [oids.id_kp_timeStamping],
    extKeyUsageCritical: true,
  },
  {
    ...service(
      'ocsp-signer',
      'OCSP 签名证书 OCSP responder',
      'Delegated OCSP responder (RFC 6960 §4.2.2.2) with id-pkix-ocsp-nocheck.',
      365,
    ),
    keyUsage: ['digitalSignature'],
    extKeyUsage: [oids.id_kp_OCSPSigning],
    // A delegated responder's own status is not checked (nocheck), so it carries no CRL DP or AIA.
    crlDistributionPoint: false,
    authorityInfoAccess: false,
    customExtensions: [
      { oid: oids.id_pkix_ocsp_nocheck, critical: false, encoding: 'der-hex', value: '0500' },
    ],
  },
  {
    ...service(
      'seal-maker',
      '印章制作者证书 Seal maker',
      'Signs electronic seals (GB/T 38540 SES_SealInfo).',
      1825,
    ),
    keyFamilies: ['sm2'],
  },
];
