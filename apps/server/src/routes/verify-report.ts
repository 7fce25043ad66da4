/**
 * `POST /api/v1/verify/report` (role `sign`, HMAC-signed by an application with the `verify` operation):
 * verifies any artifact the universal verifier takes — or a signed PDF — against this installation's CAs
 * and answers the result as a signed Chinese/English PDF report (the JSON twin embedded) or as the same
 * JSON. Registered inside the signing API plugin (routes/sign.ts), so its request authentication and raw
 * body handling apply.
 */

import { DomainError } from '@medsign/errors';
import type { ParsedCertificate } from '@medsign/pki';
import type { FastifyInstance } from 'fastify';
import { REPORT_ALGORITHMS, type ReportAlgorithm } from '../reports.js';
import type { Services } from '../services.js';
import {
  buildVerificationReport,
  verificationReportDocument,
  type VerificationReportJson,
} from '../verification-report.js';
import { binaryResponse } from './schemas.js';
import { base64BodyLimit, problemResponses, verifyCheckSchema } from './sign-schemas.js';

type VerifyReportBody = {
  artifact: string;
  data?: string;
  format?: 'pdf' | 'json';
  signatureAlgorithm?: ReportAlgorithm;
};

/** Strict base64 (RFC 4648 §4, padding required, no whitespace). */
function decodeBase64(text: string, what: string): Uint8Array {
  const bytes = Buffer.from(text, 'base64');
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || bytes.toString('base64') !== text)
    throw new DomainError('REPORT_ARTIFACT_INVALID', `${what} is not valid base64`);
  return new Uint8Array(bytes);
}

/** Our roots and issuing CAs: what artifacts are verified against. */
function trustedCertificates(services: Services): ParsedCertificate[] {
  const out: ParsedCertificate[] = [];
  for (const ca of services.ca.cas)
    for (const c of [...ca.chain.slice().reverse(), ca.certificate])
      if (!out.some((x) => x.fingerprint() === c.fingerprint())) out.push(c);
  return out;
}

const fieldSchema = {
  type: 'object',
  properties: { key: { type: 'string' }, value: { type: 'string' } },
} as const;
const digestsSchema = {
  type: 'object',
  properties: {
    size: { type: 'integer' },
    sm3: { type: 'string' },
    sha256: { type: 'string' },
  },
} as const;

/** OpenAPI schema of the JSON verification report (also the PDF's embedded attachment). */
export const verificationReportSchema = {
  type: 'object',
  required: ['type', 'version', 'reportId', 'generatedAt', 'issuer', 'artifact', 'result', 'trustAnchors'],
  properties: {
    type: { type: 'string', enum: ['medsign.verification-report'] },
    version: { type: 'integer', enum: [1] },
    reportId: { type: 'string', description: 'VR-YYYYMMDD-<16 hex>' },
    generatedAt: { type: 'string', format: 'date-time' },
    issuer: {
      type: 'object',
      properties: { organization: { type: 'string' }, url: { type: 'string' } },
    },
    artifact: {
      type: 'object',
      properties: {
        kind: {
          type: 'string',
          enum: [
            'certificate',
            'certificate-chain',
            'csr',
            'crl',
            'ocsp-response',
            'cms',
            'timestamp-response',
            'timestamp-token',
            'pdf',
          ],
        },
        ...digestsSchema.properties,
      },
    },
    data: digestsSchema,
    result: {
      type: 'object',
      properties: {
        valid: { type: 'boolean' },
        fields: { type: 'array', items: fieldSchema },
        checks: { type: 'array', items: verifyCheckSchema },
        errors: { type: 'array', items: { type: 'string' } },
      },
    },
    trustAnchors: { type: 'array', items: { type: 'string' } },
  },
} as const;

/** Which answer the caller wants: `format` wins, then Accept; PDF by default. */
function wantsJson(format: VerifyReportBody['format'], accept: string | undefined): boolean {
  if (format) return format === 'json';
  const a = (accept ?? '').toLowerCase();
  return a.includes('application/json') && !a.includes('application/pdf');
}

/** Adds the route to the signing API plugin instance. */
export function registerVerifyReportRoute(
  app: FastifyInstance,
  services: Services,
  security: readonly Record<string, string[]>[],
): void {
  app.post<{ Body: VerifyReportBody }>(
    '/verify/report',
    {
      config: { operation: 'verify' },
      bodyLimit: base64BodyLimit(services.config.sign.maxDataBytes, 2),
      schema: {
        tags: ['signing'],
        summary: 'Verify any artifact and answer a signed verification report (PDF, or the same JSON)',
        description:
          "The artifact (certificate, chain, CSR, CRL, OCSP response, CMS/PKCS#7 signature, RFC 3161 response or token, or a signed PDF such as our own reports) is verified against this installation's CAs. `format: pdf` (default; or `Accept: application/pdf`) answers a Chinese/English PDF signed by the platform (PAdES, time-stamped) with the JSON embedded as verification-report.json; `format: json` (or `Accept: application/json`) answers that JSON.",
        security: [...security],
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['artifact'],
          properties: {
            artifact: {
              type: 'string',
              minLength: 1,
              description: 'base64 of the artifact (DER, PEM or PDF)',
            },
            data: { type: 'string', description: 'base64 detached content (CMS detached, time-stamp token)' },
            format: { type: 'string', enum: ['pdf', 'json'] },
            signatureAlgorithm: {
              type: 'string',
              enum: [...REPORT_ALGORITHMS],
              description:
                "the PDF report's signature: ecdsa (default; PDF readers verify it) or sm2 (GM relying parties; NSS-based readers cannot check SM2)",
            },
          },
        },
        response: {
          200: {
            description: 'The verification report',
            content: {
              'application/pdf': binaryResponse('application/pdf', 'signed PDF report').content[
                'application/pdf'
              ],
              'application/json': { schema: verificationReportSchema },
            },
          },
          ...problemResponses(400, 401, 403, 413, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const artifact = decodeBase64(request.body.artifact, 'artifact');
      const data = request.body.data === undefined ? undefined : decodeBase64(request.body.data, 'data');
      const now = services.ca.clock.now();
      const report: VerificationReportJson = buildVerificationReport({
        artifact,
        ...(data ? { data } : {}),
        trusted: trustedCertificates(services),
        now,
        organization: services.config.organization,
        url: services.config.publicBaseUrl,
      });
      await services.store.audit.append({
        actor: request.caller?.actor ?? 'unknown',
        action: 'report.verification',
        target: report.reportId,
        detail: {
          kind: report.artifact.kind,
          artifactSm3: report.artifact.sm3,
          valid: report.result.valid,
        },
      });
      reply.header('x-medsign-report-id', report.reportId);
      if (wantsJson(request.body.format, request.headers.accept)) return report;
      const algorithm = request.body.signatureAlgorithm ?? 'ecdsa';
      const signer = await services.reports.signer(algorithm);
      const pdf = await services.reports.signedReport(
        verificationReportDocument(report, {
          subject: signer.certificate.subjectText,
          serial: signer.certificate.serialNumber,
        }),
        { algorithm },
      );
      return reply
        .type('application/pdf')
        .header('content-disposition', `inline; filename="${report.reportId}.pdf"`)
        .send(Buffer.from(pdf));
    },
  );
}
