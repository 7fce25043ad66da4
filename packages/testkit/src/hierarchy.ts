/**
 * Generated test PKI: root → intermediate → leaf for one key type, with the extensions a real
 * hierarchy carries. Generated at test time (relative to `now`), so nothing committed ever expires.
 */

import {
  authorityKeyIdentifierExtension,
  basicConstraintsExtension,
  extKeyUsageExtension,
  issueCertificate,
  keyIdentifier,
  keyUsageExtension,
  ParsedCertificate,
  PrivateKey,
  subjectKeyIdentifierExtension,
  oids,
  type CertExtension,
  type KeyType,
  type NameAttribute,
} from '@medsign/pki';
import { randomBytes } from 'node:crypto';

export type TestEntity = { key: PrivateKey; cert: ParsedCertificate };
export type TestHierarchy = { root: TestEntity; intermediate: TestEntity; leaf: TestEntity; tsa: TestEntity };

const DAY = 86_400_000;

/** A random positive serial of 16 bytes. */
export function randomSerial(): bigint {
  return BigInt('0x' + randomBytes(16).toString('hex')) | 1n;
}

export type IssueOptions = {
  subject: readonly NameAttribute[];
  key: PrivateKey;
  issuer?: TestEntity;
  ca?: boolean;
  pathLength?: number;
  notBefore?: Date;
  notAfter?: Date;
  extensions?: CertExtension[];
  /** Replace the default key usage / EKU extensions entirely. */
  replaceDefaults?: boolean;
};

/** Issues one certificate (self-signed when no issuer is given). */
export async function issueTestCertificate(o: IssueOptions): Promise<TestEntity> {
  const now = Date.now();
  const issuerKey = o.issuer?.key ?? o.key;
  const ski = keyIdentifier(o.key.publicKeyInfo);
  const aki = keyIdentifier(issuerKey.publicKeyInfo);
  const defaults: CertExtension[] = o.replaceDefaults
    ? []
    : [
        basicConstraintsExtension({
          ca: o.ca ?? false,
          ...(o.pathLength !== undefined ? { pathLength: o.pathLength } : {}),
        }),
        keyUsageExtension(o.ca ? ['keyCertSign', 'cRLSign'] : ['digitalSignature', 'nonRepudiation']),
      ];
  const der = await issueCertificate(
    {
      serialNumber: randomSerial(),
      issuer: o.issuer ? o.issuer.cert.subject : o.subject,
      subject: o.subject,
      notBefore: o.notBefore ?? new Date(now - DAY),
      notAfter: o.notAfter ?? new Date(now + 365 * DAY),
      publicKeyInfo: o.key.publicKeyInfo,
      extensions: [
        ...defaults,
        subjectKeyIdentifierExtension(ski),
        authorityKeyIdentifierExtension(aki),
        ...(o.extensions ?? []),
      ],
    },
    issuerKey.signer(),
  );
  return { key: o.key, cert: ParsedCertificate.parse(der) };
}

/** Root CA → intermediate CA → end-entity signing certificate, plus a TSA certificate, all one key type. */
export async function makeHierarchy(type: KeyType = 'sm2', org = '测试医院'): Promise<TestHierarchy> {
  const base: NameAttribute[] = [
    ['C', 'CN'],
    ['O', org],
  ];
  const root = await issueTestCertificate({
    subject: [...base, ['CN', `${org} Root CA`]],
    key: PrivateKey.generate(type),
    ca: true,
  });
  const intermediate = await issueTestCertificate({
    subject: [...base, ['CN', `${org} Issuing CA`]],
    key: PrivateKey.generate(type),
    issuer: root,
    ca: true,
    pathLength: 0,
  });
  const leaf = await issueTestCertificate({
    subject: [...base, ['OU', '心内科'], ['CN', '张三']],
    key: PrivateKey.generate(type),
    issuer: intermediate,
  });
  const tsa = await issueTestCertificate({
    subject: [...base, ['CN', `${org} TSA`]],
    key: PrivateKey.generate(type),
    issuer: intermediate,
    extensions: [extKeyUsageExtension([oids.id_kp_timeStamping], true)],
  });
  return { root, intermediate, leaf, tsa };
}
