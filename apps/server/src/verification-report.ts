/**
 * The verification report: any artifact the universal verifier takes (certificate, chain, CSR, CRL, OCSP
 * response, CMS signature, time-stamp response or token) — and signed PDFs, whose PDF signatures are checked
 * with @medsign/report's reader — verified against this installation's CAs, as an English JSON document and
 * as a Chinese/English PDF that carries the same JSON as an attachment.
 */

import { randomBytes } from 'node:crypto';
import { DomainError } from '@medsign/errors';
import { bytesToHex, sm3 } from '@medsign/gm';
import {
  type ArtifactKind,
  DecodeError,
  digest,
  verifyArtifact,
  type Check,
  type ParsedCertificate,
  type ReportField,
} from '@medsign/pki';
import { verifyPdfSignatures, type ReportDocument, type ReportRow } from '@medsign/report';

/** What was verified: a verifier artifact kind, or `pdf` for a signed PDF. */
export type VerifiedKind = ArtifactKind | 'pdf';

/** The machine-readable verification report (the JSON twin of the PDF; English keys and values). */
export type VerificationReportJson = {
  type: 'medsign.verification-report';
  version: 1;
  reportId: string;
  generatedAt: string;
  issuer: { organization: string; url: string };
  artifact: { kind: VerifiedKind; size: number; sm3: string; sha256: string };
  data?: { size: number; sm3: string; sha256: string };
  result: { valid: boolean; fields: ReportField[]; checks: Check[]; errors: string[] };
  trustAnchors: string[];
};

/** A new report id: VR-YYYYMMDD-<16 hex>. */
export function newReportId(now: Date, prefix = 'VR'): string {
  return `${prefix}-${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(8).toString('hex')}`;
}

function digests(b: Uint8Array) {
  return { size: b.length, sm3: bytesToHex(sm3(b)), sha256: bytesToHex(digest('sha256', b)) };
}

function isPdf(b: Uint8Array): boolean {
  return Buffer.from(b.subarray(0, 1024)).includes('%PDF-', 0, 'latin1');
}

/**
 * Verifies `artifact` (with optional detached `data`) against `trusted` and returns the JSON report.
 * Refuses input that is no artifact medsign knows with REPORT_ARTIFACT_INVALID.
 */
export function buildVerificationReport(o: {
  artifact: Uint8Array;
  data?: Uint8Array;
  trusted: readonly ParsedCertificate[];
  now: Date;
  organization: string;
  url: string;
}): VerificationReportJson {
  let kind: VerifiedKind;
  let result: VerificationReportJson['result'];
  if (isPdf(o.artifact)) {
    kind = 'pdf';
    const r = verifyPdfSignatures(o.artifact, { anchors: o.trusted, at: o.now });
    result = { valid: r.valid, fields: r.fields, checks: r.checks, errors: r.errors };
  } else {
    try {
      const r = verifyArtifact(o.artifact, {
        trusted: o.trusted,
        at: o.now,
        ...(o.data ? { data: o.data } : {}),
      });
      kind = r.kind;
      result = { valid: r.valid, fields: r.fields, checks: r.checks, errors: r.errors };
    } catch (e) {
      if (e instanceof DecodeError) throw new DomainError('REPORT_ARTIFACT_INVALID', e.message);
      throw e;
    }
  }
  return {
    type: 'medsign.verification-report',
    version: 1,
    reportId: newReportId(o.now),
    generatedAt: o.now.toISOString(),
    issuer: { organization: o.organization, url: o.url },
    artifact: { kind, ...digests(o.artifact) },
    ...(o.data ? { data: digests(o.data) } : {}),
    result,
    trustAnchors: o.trusted.map((c) => c.subjectText),
  };
}

const KIND_LABELS: Record<VerifiedKind, string> = {
  certificate: '数字证书 Certificate',
  'certificate-chain': '证书链 Certificate chain',
  csr: '证书请求 Certificate signing request',
  crl: '证书吊销列表 CRL',
  'ocsp-response': 'OCSP 响应 OCSP response',
  cms: '签名数据 CMS / PKCS#7 signature',
  'timestamp-response': '时间戳响应 Time-stamp response',
  'timestamp-token': '时间戳令牌 Time-stamp token',
  pdf: '签名 PDF 文档 Signed PDF',
};

const FIELD_LABELS: Record<string, string> = {
  subject: '主题 Subject',
  issuer: '签发者 Issuer',
  serialNumber: '序列号 Serial number',
  notBefore: '有效期起 Not before',
  notAfter: '有效期止 Not after',
  signatureAlgorithm: '签名算法 Signature algorithm',
  publicKey: '公钥 Public key',
  signer: '签名者 Signer',
  digestAlgorithm: '摘要算法 Digest algorithm',
  signingTime: '签名时间 Signing time',
  genTime: '时间戳时间 Time-stamp time',
  contentType: '内容类型 Content type',
  detached: '分离式签名 Detached',
  policy: '时间戳策略 TSA policy',
  tsa: '时间戳机构 TSA',
  thisUpdate: '本次更新 This update',
  nextUpdate: '下次更新 Next update',
  crlNumber: 'CRL 编号 CRL number',
  revoked: '已吊销 Revoked',
  producedAt: '响应时间 Produced at',
  status: '状态 Status',
  path: '证书路径 Path',
  signatures: '签名个数 Signatures',
  subFilter: '签名格式 SubFilter',
  reason: '签名原因 Reason',
  location: '签名地点 Location',
  byteRange: '签名范围 ByteRange',
};

const CHECK_LABELS: Record<string, string> = {
  signature: '签名值 Signature',
  'certificate chain': '证书链 Certificate chain',
  'signer certificate': '签名证书 Signer certificate',
  'messageDigest attribute': '原文摘要 messageDigest',
  'covers the whole document': '文档完整 Covers the whole document',
  ByteRange: '签名范围 ByteRange',
  'PDF signatures present': 'PDF 签名 PDF signatures present',
};

/** "签名者 Signer" for `signer`, "签名 2 · 签名者 Signer" for `signature2.signer`. */
function fieldLabel(key: string): string {
  const m = /^(signature|signer|response|certificate)(\d+)\.(.+)$/.exec(key);
  if (m) return `${m[1]} ${m[2]} · ${FIELD_LABELS[m[3]!] ?? m[3]}`;
  return FIELD_LABELS[key] ?? key;
}

function checkText(c: Check): string {
  const head = CHECK_LABELS[c.check] ?? c.check;
  return `${head}${c.subject ? ` — ${c.subject}` : ''}${c.detail ? `: ${c.detail}` : ''}`;
}

/** The Chinese/English PDF document for a verification report (its JSON attached). */
export function verificationReportDocument(
  r: VerificationReportJson,
  reportSigner: { subject: string; serial: string },
): ReportDocument {
  const failed = r.result.checks.filter((c) => !c.ok).length;
  const digestRows = (prefix: string, d: { size: number; sm3: string; sha256: string }): ReportRow[] => [
    { label: `${prefix}大小 Size`, value: `${d.size} bytes` },
    { label: `${prefix}SM3`, value: d.sm3 },
    { label: `${prefix}SHA-256`, value: d.sha256 },
  ];
  return {
    title: '电子签名验证报告 Verification Report',
    subtitle: `${r.issuer.organization} · 依据《中华人民共和国电子签名法》出具 Issued under the PRC Electronic Signature Law`,
    meta: [
      { label: '报告编号 Report ID', value: r.reportId },
      { label: '生成时间 Generated at', value: r.generatedAt },
      { label: '验证对象 Artifact', value: KIND_LABELS[r.artifact.kind] },
      { label: '出具方 Issued by', value: `${r.issuer.organization} (${r.issuer.url})` },
    ],
    qr: {
      payload: `medsign:verification-report:${r.reportId}:sm3:${r.artifact.sm3}`,
      caption: `报告编号 ${r.reportId}`,
    },
    sections: [
      {
        heading: '结论 Conclusion',
        statements: [
          {
            ok: r.result.valid,
            text: r.result.valid
              ? `验证通过 Verified: 全部 ${r.result.checks.length} 项检查通过 all ${r.result.checks.length} checks passed`
              : `验证未通过 Not verified: ${failed} 项检查未通过 ${failed} check(s) failed`,
          },
        ],
      },
      {
        heading: '检查项 Checks',
        statements: r.result.checks.map((c) => ({ ok: c.ok, text: checkText(c) })),
        rows: r.result.errors.length
          ? r.result.errors.map((e, i) => ({ label: `错误 Error ${i + 1}`, value: e }))
          : [],
      },
      {
        heading: '详细信息 Details',
        rows: r.result.fields.map((f) => ({ label: fieldLabel(f.key), value: f.value })),
      },
      {
        heading: '验证对象摘要 Artifact digests',
        rows: [
          ...digestRows('验证对象 Artifact ', r.artifact),
          ...(r.data ? digestRows('原文 Data ', r.data) : []),
        ],
      },
      {
        heading: '方法与信任 Method and trust',
        rows: [
          ...r.trustAnchors.map((a, i) => ({ label: `信任锚 Trust anchor ${i + 1}`, value: a })),
          { label: '验证时间 Verified at', value: r.generatedAt },
          { label: '报告签名证书 Report signer', value: reportSigner.subject },
          { label: '证书序列号 Serial', value: reportSigner.serial },
        ],
        note:
          '本报告附有平台的 PDF 电子签名（PAdES，含时间戳），任何改动都会使签名失效；机器可读的 JSON 版本作为附件 verification-report.json 嵌入本文件。' +
          " This report carries the platform's PDF signature (PAdES, time-stamped): any change invalidates it. The machine-readable JSON is embedded as the attachment verification-report.json.",
      },
    ],
    attachments: [
      {
        name: 'verification-report.json',
        mimeType: 'application/json',
        data: new TextEncoder().encode(JSON.stringify(r, null, 2)),
        description: '机器可读验证结果 Machine-readable verification result',
      },
    ],
    footer: `${r.issuer.organization} · ${r.reportId}`,
    info: { author: r.issuer.organization, subject: 'Verification report', creator: 'medsign' },
    createdAt: new Date(r.generatedAt),
  };
}
