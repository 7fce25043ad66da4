/**
 * The evidence report of one signature as a PDF (Chinese with English labels): the four statements of the
 * Electronic Signature Law §13 with the facts behind each, the time-stamp, a QR code of the verify-online
 * link, and the machine-readable evidence (medsign-evidence/v1) embedded as evidence.json. The route signs
 * it with the platform's report key and time-stamps it (reports.ts), so it cannot be edited unnoticed.
 */

import type { ReportDocument, ReportRow } from '@medsign/report';
import type { Evidence } from '@medsign/sign';

const METHOD_TEXT: Record<string, string> = {
  pin: '签名 PIN（本次请求） PIN with this request',
  authorisation: '签名授权（事先以 PIN 授予） Signing authorisation granted with the PIN',
  usbkey: 'USB Key 客户端签名 Signature made with the signer’s USB key',
};

const STATUS_TEXT: Record<string, string> = {
  good: '有效 good',
  revoked: '已吊销 revoked',
  hold: '已冻结 on hold',
  unknown: '未知 unknown',
  expired: '已过期 expired',
  'not-yet-valid': '尚未生效 not yet valid',
};

const TIME_SOURCE_TEXT: Record<string, string> = {
  timestamp: '时间戳 time-stamp',
  signingTime: '签名时间属性 CMS signingTime',
  record: '签名记录时间 record time',
};

const SOURCE_TEXT: Record<string, string> = {
  stored: '平台留存原文 stored original',
  supplied: '请求方提供的原文 supplied original',
  embedded: '签名内嵌原文 original embedded in the signature',
};

const yes = (ok: boolean | null | undefined) =>
  ok === true ? '是 yes' : ok === false ? '否 no' : '未检查 not checked';

function row(label: string, value: string | number | null | undefined): ReportRow[] {
  return value === undefined || value === null || value === '' ? [] : [{ label, value: String(value) }];
}

/** The report document of an evidence JSON (see the module comment). */
export function evidenceReportDocument(
  e: Evidence,
  o: { organization: string; reportSigner: { subject: string; serial: string } },
): ReportDocument {
  const id = e.identity;
  const it = e.intent;
  const si = e.signatureIntact;
  const oi = e.originalIntact;
  const ts = e.timestamp;
  const verifyAt = e.verification.url ?? `medsign:signature:${e.verification.id}`;
  return {
    title: '电子签名证据报告 Signature Evidence Report',
    subtitle: `${o.organization} · 依据《中华人民共和国电子签名法》第十三条 Under Article 13 of the PRC Electronic Signature Law`,
    meta: [
      { label: '报告编号 Report ID', value: e.reportId },
      { label: '生成时间 Generated at', value: e.generatedAt },
      { label: '签名记录 Signature ID', value: e.signatureId },
      { label: '出具方 Issued by', value: o.organization },
    ],
    qr: { payload: verifyAt, caption: `在线验证 Verify online: ${e.verification.id}` },
    sections: [
      {
        heading: '结论 Conclusion',
        statements: [
          {
            ok: id.ok,
            text: `真实身份 Real identity: ${id.signer ? `${id.signer.name}（工号 ${id.signer.employeeNo}）` : '签名人未知 unknown signer'}，证书由本平台 CA 签发 certificate issued by our CA`,
          },
          {
            ok: it.ok,
            text: `真实意愿 Real intent: ${it.method ? METHOD_TEXT[it.method] : '未记录 not recorded'}`,
          },
          { ok: si.ok, text: `签名未改 Signature unaltered: ${si.detail ?? ''}` },
          {
            ok: oi.ok,
            text: `原文未改 Original unaltered: ${oi.source ? SOURCE_TEXT[oi.source] : ''}${oi.ok === null ? '未提供原文，未检查 no original available, not checked' : oi.ok ? ' 摘要一致 digest matches' : ' 摘要不一致 digest differs'}`,
          },
          ...(ts ? [{ ok: ts.ok, text: `时间戳 Time-stamp: ${ts.time ?? ''} ${ts.tsa ?? ''}` }] : []),
        ],
      },
      {
        heading: '一、真实身份 Real identity',
        rows: [
          ...row('签名人 Signer', id.signer?.name),
          ...row('工号 Employee No.', id.signer?.employeeNo),
          ...row('科室代码 Department code', id.signer?.departmentCode),
          { label: '证书主题 Certificate subject', value: id.certificate.subject },
          { label: '颁发者 Issuer', value: id.certificate.issuer },
          { label: '证书序列号 Certificate serial', value: id.certificate.serial },
          {
            label: '有效期 Validity',
            value: `${id.certificate.notBefore} — ${id.certificate.notAfter}`,
          },
          { label: '密钥算法 Key algorithm', value: id.certificate.keyAlgorithm },
          { label: 'SM3 指纹 SM3 fingerprint', value: id.certificate.fingerprintSm3 },
          { label: 'SHA-256 指纹 SHA-256 fingerprint', value: id.certificate.fingerprintSha256 },
          {
            label: '证书链 Chain',
            value: `${yes(id.chain.ok)} · ${id.chain.path.map((p) => p.subject).join(' → ')}`,
          },
          ...row('根证书 Root', id.chain.root),
          {
            label: '签发 CA Issuing CA',
            value: `${id.issuingCa.id}${id.issuingCa.subject ? ` (${id.issuingCa.subject})` : ''}`,
          },
          { label: '身份审核 Identity review', value: id.review.summary },
          {
            label: '签名时状态 Status at signing',
            value: `${STATUS_TEXT[id.statusAtSigning.status] ?? id.statusAtSigning.status}${id.statusAtSigning.time ? ` @ ${id.statusAtSigning.time}` : ''}${id.statusAtSigning.timeSource ? `（${TIME_SOURCE_TEXT[id.statusAtSigning.timeSource]}）` : ''}`,
          },
          {
            label: '当前状态 Status now',
            value: `${STATUS_TEXT[id.statusNow.status] ?? id.statusNow.status}${id.statusNow.revokedAt ? ` since ${id.statusNow.revokedAt}` : ''}`,
          },
        ],
      },
      {
        heading: '二、真实意愿 Real intent',
        rows: [
          { label: '意愿方式 Method', value: it.method ? METHOD_TEXT[it.method]! : '未记录 not recorded' },
          { label: '签名时间 Time', value: it.time },
          ...(it.authorisation
            ? [
                { label: '授权编号 Authorisation', value: it.authorisation.id },
                ...row('授予时间 Granted at', it.authorisation.grantedAt),
                ...row('到期时间 Expires at', it.authorisation.expiresAt),
                ...row('授权应用 Applications', it.authorisation.apps?.join(', ')),
                { label: '签名时有效 In force when signed', value: yes(it.authorisation.inForce) },
                ...row(
                  '授权审计事件 Grant audit event',
                  it.authorisation.grantEvent
                    ? `#${it.authorisation.grantEvent.seq} ${it.authorisation.grantEvent.time} ${it.authorisation.grantEvent.actor}`
                    : null,
                ),
                ...row(
                  '其后撤销 Revoked later',
                  it.authorisation.revokeEvent
                    ? `#${it.authorisation.revokeEvent.seq} ${it.authorisation.revokeEvent.time}`
                    : null,
                ),
              ]
            : []),
          {
            label: '业务系统 Application',
            value: `${it.application.name ?? ''} (${it.application.systemType ?? ''}) ${it.application.id}`,
          },
          { label: '客户端地址 Client IP', value: it.clientIp ?? '未记录 not recorded' },
          ...row('审计序号 Audit seq', it.audit.seq),
          ...row('审计哈希 Audit hash (SM3)', it.audit.hash),
          {
            label: '审计链校验 Audit chain verified',
            value: `${yes(it.audit.chainVerified)} (${it.audit.checked} events)`,
          },
          ...row('说明 Note', it.audit.detail ?? it.detail),
        ],
      },
      {
        heading: '三、签名未改 Signature unaltered',
        rows: [
          { label: '签名格式 Format', value: e.record.format },
          { label: '验证结果 Verified', value: yes(si.ok) },
          ...row('说明 Detail', si.detail),
        ],
      },
      {
        heading: '四、原文未改 Original unaltered',
        rows: [
          { label: '摘要算法 Digest algorithm', value: oi.digestAlgorithm },
          { label: '签名摘要 Signed digest', value: oi.signedDigest },
          ...row('原文来源 Original', oi.source ? SOURCE_TEXT[oi.source] : null),
          ...row('原文大小 Size', oi.size !== undefined ? `${oi.size} bytes` : null),
          ...row('原文摘要 Original digest', oi.digest),
          ...row('原文 SM3 Original SM3', oi.sm3),
          ...row('原文 SHA-256 Original SHA-256', oi.sha256),
          { label: '一致 Matches', value: yes(oi.ok) },
          ...row('说明 Detail', oi.detail),
        ],
      },
      {
        heading: '五、时间戳 Time-stamp',
        rows: ts
          ? [
              ...row('时间 Time', ts.time),
              ...row('时间戳服务 TSA', ts.tsa),
              ...row('序列号 Serial', ts.serial),
              ...row('策略 Policy', ts.policy),
              { label: '验证 Verified', value: yes(ts.ok) },
              ...row('说明 Detail', ts.detail),
            ]
          : [{ label: '时间戳 Time-stamp', value: '无 none' }],
      },
      {
        heading: '六、业务信息与在线验证 Record and online verification',
        rows: [
          ...row('文档类型 Document type', e.record.metadata.docType),
          ...row('文档编号 Document ID', e.record.metadata.docId),
          ...row('业务系统 System', e.record.metadata.system),
          { label: '在线验证 Verify online', value: verifyAt },
          { label: '报告签名证书 Report signer', value: o.reportSigner.subject },
          { label: '证书序列号 Serial', value: o.reportSigner.serial },
        ],
        note:
          '本报告附有平台的 PDF 电子签名（PAdES，含时间戳），任何改动都会使签名失效；机器可读的证据 JSON 作为附件 evidence.json 嵌入本文件。' +
          " This report carries the platform's PDF signature (PAdES, time-stamped): any change invalidates it. The machine-readable evidence is embedded as the attachment evidence.json.",
      },
    ],
    attachments: [
      {
        name: 'evidence.json',
        mimeType: 'application/json',
        data: new TextEncoder().encode(JSON.stringify(e, null, 2)),
        description: '机器可读证据 Machine-readable evidence (medsign-evidence/v1)',
      },
    ],
    footer: `${o.organization} · ${e.reportId}`,
    info: { author: o.organization, subject: 'Signature evidence report', creator: 'medsign' },
    createdAt: new Date(e.generatedAt),
  };
}
