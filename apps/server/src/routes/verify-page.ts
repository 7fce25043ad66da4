/**
 * `GET /verify/{id}` — the verify-online page the evidence report's QR code points to. Whoever holds a report
 * (a court clerk, a patient's lawyer, an auditor) opens it without an account: the record id is a random
 * UUID, so knowing it is the capability. The page shows only what the printed report already shows about
 * the signature — never the client IP, the audit position, the patient-visit reference or the original — with
 * the signer's name masked, and the verdict computed now: signature unaltered, certificate chain and status at
 * the signing time, time-stamp. JSON for machines (`Accept: application/json`), HTML for people.
 * Rate-limited per client address; every view is audited (sign.evidence, actor `public:<ip>`).
 */

import { DomainError } from '@medsign/errors';
import { buildEvidence, RateLimiter, type Evidence } from '@medsign/sign';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { maskPersonal } from '../masking.js';
import type { Services } from '../services.js';

/** Views per minute from one client address. */
const PER_MINUTE = 30;

/** What the public page tells: the report's verdicts, no personal details beyond a masked name. */
export type PublicVerification = {
  schema: 'medsign-public-verification/v1';
  signatureId: string;
  /** Signature unaltered, certificate valid and good at the signing time, time-stamp (if any) verifies. */
  valid: boolean;
  signedAt: string;
  signer: { name: string | null; certificateSerial: string; issuer: string };
  signatureUnaltered: boolean | null;
  certificateAtSigning: { ok: boolean; status: string; time?: string; timeSource?: string };
  certificateNow: { status: string };
  timestamp: { ok: boolean; time?: string; tsa?: string } | null;
  digest: { algorithm: string; value: string };
  documentType: string | null;
  checkedAt: string;
};

export function publicVerification(e: Evidence): PublicVerification {
  const atSigning = e.identity.statusAtSigning;
  const signatureUnaltered = e.signatureIntact.ok;
  const valid =
    signatureUnaltered === true &&
    e.identity.chain.ok &&
    atSigning.ok &&
    (e.timestamp ? e.timestamp.ok : true);
  return {
    schema: 'medsign-public-verification/v1',
    signatureId: e.signatureId,
    valid,
    signedAt: e.record.createdAt,
    signer: {
      name: e.identity.signer ? maskPersonal(e.identity.signer.name, 1, 0) : null,
      certificateSerial: e.identity.certificate.serial,
      issuer: e.identity.certificate.issuer,
    },
    signatureUnaltered,
    certificateAtSigning: {
      ok: atSigning.ok,
      status: atSigning.status,
      ...(atSigning.time ? { time: atSigning.time } : {}),
      ...(atSigning.timeSource ? { timeSource: atSigning.timeSource } : {}),
    },
    certificateNow: { status: e.identity.statusNow.status },
    timestamp: e.timestamp
      ? {
          ok: e.timestamp.ok,
          ...(e.timestamp.time ? { time: e.timestamp.time } : {}),
          ...(e.timestamp.tsa ? { tsa: e.timestamp.tsa } : {}),
        }
      : null,
    digest: { algorithm: e.record.digestAlgorithm, value: e.record.digest },
    documentType: e.record.metadata.docType ?? null,
    checkedAt: e.generatedAt,
  };
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const mark = (ok: boolean | null) => (ok === null ? '未检查 not checked' : ok ? '通过 PASS' : '未通过 FAIL');

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,"Noto Sans SC","Microsoft YaHei",sans-serif;margin:0;background:#f5f7fa;color:#1f2933}
main{max-width:720px;margin:2rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;box-shadow:0 1px 3px #0002}
h1{font-size:1.4rem;margin:0 0 1rem}.verdict{font-size:1.2rem;font-weight:600;padding:.6rem 1rem;border-radius:6px}
.ok{background:#e3f9e5;color:#05400a}.bad{background:#ffe3e3;color:#610404}
table{border-collapse:collapse;width:100%;margin-top:1rem}th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #e4e7eb;vertical-align:top}
th{width:40%;font-weight:500;color:#52606d}td{word-break:break-all}footer{margin-top:1rem;font-size:.8rem;color:#7b8794}
</style></head><body><main>${body}</main></body></html>
`;
}

function html(v: PublicVerification): string {
  const rows: [string, string][] = [
    ['签名记录 Signature ID', v.signatureId],
    ['签名时间 Signed at', v.signedAt],
    ['签名人 Signer', v.signer.name ?? '—'],
    ['证书序列号 Certificate serial', v.signer.certificateSerial],
    ['颁发者 Issuer', v.signer.issuer],
    ['签名未改 Signature unaltered', mark(v.signatureUnaltered)],
    [
      '签名时证书状态 Certificate at signing',
      `${mark(v.certificateAtSigning.ok)} · ${v.certificateAtSigning.status}` +
        (v.certificateAtSigning.time
          ? ` @ ${v.certificateAtSigning.time} (${v.certificateAtSigning.timeSource ?? ''})`
          : ''),
    ],
    ['当前证书状态 Certificate now', v.certificateNow.status],
    [
      '时间戳 Time-stamp',
      v.timestamp
        ? `${mark(v.timestamp.ok)} · ${v.timestamp.time ?? ''} ${v.timestamp.tsa ?? ''}`
        : '无 none',
    ],
    ['摘要 Digest', `${v.digest.algorithm} ${v.digest.value}`],
    ['文书类型 Document type', v.documentType ?? '—'],
  ];
  return page(
    '电子签名在线验证 Signature verification',
    `<h1>电子签名在线验证 Signature verification</h1>
<div class="verdict ${v.valid ? 'ok' : 'bad'}">${v.valid ? '签名有效 The signature is valid' : '签名无效 The signature is NOT valid'}</div>
<table>${rows.map(([k, val]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(val)}</td></tr>`).join('')}</table>
<footer>校验时间 Checked at ${escapeHtml(v.checkedAt)} · 原文是否一致请使用证据报告或验证接口核对 To check a document against this signature, use the evidence report or the verification API.</footer>`,
  );
}

function wantsJson(accept: string | undefined): boolean {
  return /application\/json/i.test(accept ?? '') && !/text\/html/i.test(accept ?? '');
}

/** The public verify-online page (role `sign`, no authentication). */
export function verifyPageRoutes(services: Services): FastifyPluginAsync {
  const limiter = new RateLimiter();
  return async (app) => {
    app.get<{ Params: { id: string } }>(
      '/verify/:id',
      {
        schema: {
          tags: ['signing'],
          summary: 'Verify online: the public summary of a signature record (the evidence report QR code)',
          description:
            'No authentication (the random record id is the capability); the signer name is masked and nothing beyond the printed report is shown. HTML, or JSON with Accept: application/json. Rate-limited per client address.',
          params: {
            type: 'object',
            required: ['id'],
            properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
          },
        },
      },
      async (request, reply: FastifyReply) => {
        const json = wantsJson(request.headers.accept);
        const wait = limiter.take(`ip:${request.ip}`, PER_MINUTE, services.sign.deps.clock.now());
        if (wait > 0) {
          reply.header('retry-after', String(wait));
          throw new DomainError(
            'VERIFY_PAGE_RATE_LIMITED',
            `too many verifications from this address; retry in ${wait} s`,
          );
        }
        let evidence: Evidence;
        try {
          evidence = await buildEvidence(
            request.params.id,
            { actor: `public:${request.ip}`, summary: true },
            services.sign.evidence,
          );
        } catch (e) {
          if (json || !(e instanceof DomainError) || e.code !== 'SIGN_SIGNATURE_NOT_FOUND') throw e;
          return reply
            .code(404)
            .type('text/html; charset=utf-8')
            .send(
              page(
                '未找到 Not found',
                '<h1>未找到签名记录 No such signature record</h1><p>请核对报告上的编号 Check the id printed on the report.</p>',
              ),
            );
        }
        const v = publicVerification(evidence);
        reply.header('cache-control', 'no-store');
        if (json) return v;
        return reply.type('text/html; charset=utf-8').send(html(v));
      },
    );
  };
}
