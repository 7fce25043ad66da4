/**
 * `medsign verify` — the universal verifier — and `medsign cert show`. Reports carry Chinese and English
 * labels; `--json` prints the report object itself.
 */

import type { ParsedCertificate } from '@medsign/pki';
import {
  DecodeError,
  UnsupportedError,
  verifyArtifact,
  loadCertificates,
  certificateFields,
  type VerificationReport,
} from '@medsign/pki';
import { verifyPdfSignatures, type PdfVerificationReport } from '@medsign/report';
import { parse, required } from '../args.js';
import { CliError, EXIT, readInput, writeOutput } from '../io.js';

export const VERIFY_USAGE = `Usage:
  medsign verify FILE [--data FILE] [--ca FILE]... [--at ISO-TIME] [--json]
  medsign cert show FILE [--json]

verify recognises certificates and chains, CSRs, CRLs, OCSP responses, CMS/PKCS#7 signatures and RFC 3161
time-stamps (PEM or DER), and signed PDFs (their PDF signatures, e.g. medsign's reports), and checks them
against the trust anchors given with --ca (repeatable; PEM bundles allowed). Exit codes: 0 valid,
1 invalid, 2 not a recognised or readable artifact.`;

/** Bilingual labels for report keys. */
const LABELS: Record<string, string> = {
  certificate: 'X.509 证书 Certificate',
  'certificate-chain': '证书链 Certificate chain',
  csr: '证书请求 Certificate request (PKCS#10)',
  crl: '证书撤销列表 CRL',
  'ocsp-response': 'OCSP 响应 OCSP response',
  cms: 'CMS/PKCS#7 签名 Signed data',
  'timestamp-response': '时间戳响应 Time-stamp response',
  'timestamp-token': '时间戳 Time-stamp token',
  pdf: '签名 PDF 文档 Signed PDF',
  signatures: '签名个数 Signatures',
  subFilter: '签名格式 SubFilter',
  reason: '签名原因 Reason',
  location: '签名地点 Location',
  byteRange: '签名范围 ByteRange',
  subject: '主题 Subject',
  issuer: '颁发者 Issuer',
  serialNumber: '序列号 Serial number',
  notBefore: '生效时间 Not before',
  notAfter: '失效时间 Not after',
  signatureAlgorithm: '签名算法 Signature algorithm',
  publicKey: '公钥 Public key',
  path: '证书路径 Path',
  signer: '签名者 Signer',
  signingTime: '签名时间 Signing time',
  digestAlgorithm: '摘要算法 Digest algorithm',
  genTime: '时间戳时间 Time-stamp time',
  policy: '策略 Policy',
  thisUpdate: '本次更新 This update',
  nextUpdate: '下次更新 Next update',
  crlNumber: 'CRL 编号 CRL number',
  status: '状态 Status',
  keyUsage: '密钥用途 Key usage',
  extKeyUsage: '扩展密钥用途 Extended key usage',
  subjectAltNames: '备用名称 Alternative names',
  basicConstraints: '基本约束 Basic constraints',
  fingerprint: 'SHA-256 指纹 Fingerprint',
  extensions: '扩展 Extensions',
};

const label = (key: string) => {
  const base = key.replace(/^.*\./, '');
  return (
    LABELS[key] ??
    (LABELS[base] ? `${key.includes('.') ? key.slice(0, key.lastIndexOf('.') + 1) : ''}${LABELS[base]}` : key)
  );
};

/** The bilingual text form of a report. */
export function renderReport(report: VerificationReport | PdfVerificationReport): string {
  const lines = [`类型 Type: ${label(report.kind)}`];
  for (const f of report.fields) lines.push(`${label(f.key)}: ${f.value}`);
  lines.push('检查 Checks:');
  for (const c of report.checks) {
    lines.push(
      `  ${c.ok ? '✔ 通过 PASS' : '✘ 失败 FAIL'}  ${c.subject ? `[${c.subject}] ` : ''}${c.check}${c.detail ? ` — ${c.detail}` : ''}`,
    );
  }
  lines.push(`结果 Result: ${report.valid ? '有效 VALID' : '无效 INVALID'}`);
  return lines.join('\n') + '\n';
}

export function loadTrusted(paths: string[]): ParsedCertificate[] {
  return paths.flatMap((p) => {
    try {
      return loadCertificates(readInput(p, 'CA file'));
    } catch (e) {
      if (e instanceof CliError) throw e;
      throw new CliError(`cannot read certificates from ${p}: ${(e as Error).message}`);
    }
  });
}

function parseAt(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) throw new CliError(`--at must be an ISO date-time, got ${value}`);
  return at;
}

export function verifyCommand(argv: string[]): number {
  const { values, positionals } = parse(
    argv,
    {
      data: { type: 'string' },
      ca: { type: 'string', multiple: true },
      at: { type: 'string' },
      json: { type: 'boolean' },
    },
    1,
  );
  const file = required(positionals[0], 'FILE');
  const input = readInput(file, 'file');
  const trusted = loadTrusted(values.ca ?? []);
  const at = parseAt(values.at);
  let report: VerificationReport | PdfVerificationReport;
  try {
    report = isPdf(input)
      ? verifyPdfSignatures(input, { anchors: trusted, ...(at ? { at } : {}) })
      : verifyArtifact(input, {
          trusted,
          ...(values.data !== undefined ? { data: readInput(values.data, 'data') } : {}),
          ...(at ? { at } : {}),
        });
  } catch (e) {
    if (e instanceof DecodeError || e instanceof UnsupportedError)
      throw new CliError(`${file}: ${e.message}`);
    throw e;
  }
  writeOutput(undefined, values.json ? JSON.stringify(report) + '\n' : renderReport(report));
  return report.valid ? EXIT.ok : EXIT.invalid;
}

/** A PDF file: `%PDF-` in its first kilobyte (ISO 32000 §7.5.2 allows leading bytes). */
function isPdf(input: Uint8Array): boolean {
  return Buffer.from(input.subarray(0, 1024)).includes('%PDF-', 0, 'latin1');
}

export function certCommand(argv: string[]): number {
  const [sub, ...rest] = argv;
  if (sub !== 'show') throw new CliError(sub ? `unknown command cert ${sub}` : 'missing cert command (show)');
  const { values, positionals } = parse(rest, { json: { type: 'boolean' } }, 1);
  const file = required(positionals[0], 'FILE');
  let certs: ParsedCertificate[];
  try {
    certs = loadCertificates(readInput(file, 'certificate'));
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`${file}: not a readable certificate: ${(e as Error).message}`);
  }
  const shown = certs.map((cert) => {
    const fields = certificateFields(cert);
    const bc = cert.basicConstraints;
    if (bc)
      fields.push({
        key: 'basicConstraints',
        value: `CA:${bc.ca ? 'TRUE' : 'FALSE'}${bc.pathLength !== undefined ? `, pathlen:${bc.pathLength}` : ''}`,
      });
    if (cert.keyUsage) fields.push({ key: 'keyUsage', value: cert.keyUsage.join(', ') });
    if (cert.extKeyUsage) fields.push({ key: 'extKeyUsage', value: cert.extKeyUsage.join(', ') });
    if (cert.subjectAltNames.length)
      fields.push({ key: 'subjectAltNames', value: cert.subjectAltNames.join(', ') });
    fields.push({
      key: 'extensions',
      value: cert.extensions.map((e) => `${e.oid}${e.critical ? ' (critical)' : ''}`).join(', ') || '-',
    });
    fields.push({ key: 'fingerprint', value: cert.fingerprint('sha256') });
    return fields;
  });
  if (values.json) {
    writeOutput(
      undefined,
      JSON.stringify(shown.map((fields) => Object.fromEntries(fields.map((f) => [f.key, f.value])))) + '\n',
    );
  } else {
    writeOutput(
      undefined,
      shown.map((fields) => fields.map((f) => `${label(f.key)}: ${f.value}`).join('\n')).join('\n\n') + '\n',
    );
  }
  return EXIT.ok;
}
