// Signed PDF reports on the server: the report-signing key and certificate made by init (and again when
// missing), services.reports.signedReport (PAdES B-T by the platform key, time-stamped by the in-process
// TSA, audited), and POST /api/v1/verify/report over real HTTP through the SDK — PDF and JSON answers,
// checked with poppler (pdftotext, pdfsig, pdfdetach) and our reader; bad input as problem+json.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { MedsignClient, type MedsignApiError } from '@medsign/sdk';
import { createApp, enrolSigner } from '@medsign/sign';
import { readPdfSignatures } from '@medsign/report';
import { tempDir, type TempDir } from '@medsign/testkit';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { initDataDir } from '../src/init.js';
import { findReportSigner, REPORT_SIGNER_LABEL } from '../src/reports.js';
import { openServices, type Services } from '../src/services.js';

const execFileAsync = promisify(execFile);

/** A free loopback port, so the certificates' CRL/OCSP/caIssuers URLs (MEDSIGN_PUBLIC_URL) reach this server. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`${cmd}: ${r.error.message} (install poppler-utils)`);
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

describe('signed reports', () => {
  let dir: TempDir;
  let services: Services;
  let app: FastifyInstance;
  let base: string;
  let client: MedsignClient;
  let appId: string;
  let appSecret: string;
  const roots = () => services.ca.cas.map((c) => c.chain.at(-1)!);

  before(async () => {
    dir = tempDir('medsign-reports-');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const init = await initDataDir({
      dataDir: dir.path,
      algorithms: ['ecdsa'],
      env: { MEDSIGN_PUBLIC_URL: base },
    });
    assert.ok(
      init.steps.some((s) => /^issued ecdsa report-signing certificate .* under ecdsa-issuing$/.test(s)),
      init.steps.join('\n'),
    );
    services = await openServices(init.config);
    app = await buildApp(services, { logger: false });
    await app.listen({ host: '127.0.0.1', port });
    const created = await createApp(
      { name: 'HIS', systemType: 'HIS', ipRanges: ['127.0.0.0/8'] },
      'test',
      services.sign.deps,
    );
    appId = created.app.id;
    appSecret = created.secret;
    client = new MedsignClient({ url: base, appId, appSecret, maxBackoffMs: 50 });
    await enrolSigner(
      { name: '张三', employeeNo: 'D001', departmentCode: '0101', pin: '123456', keyType: 'sm2' },
      'test',
      services.sign.deps,
    );
  });
  after(async () => {
    await app?.close();
    await services?.close();
    dir?.cleanup();
  });

  test('init made an ECDSA P-256 report signer under the ECDSA issuing CA; a second init changes nothing', async () => {
    const s = await services.reports.signer();
    assert.equal(s.caId, 'ecdsa-issuing');
    assert.equal(s.certificate.publicKey.family, 'ec');
    assert.match(s.certificate.subjectText, /Report Signing/);
    assert.ok(s.certificate.keyUsage?.includes('digitalSignature'));
    const again = await initDataDir({ dataDir: dir.path, env: { MEDSIGN_PUBLIC_URL: base } });
    assert.equal(again.created, false, again.steps.join('\n'));
  });

  test('signedReport: a PAdES B-T PDF that pdfsig validates, time-stamped by the ECDSA TSA unit, audited', async () => {
    const before = (await services.store.audit.list({ limit: 100_000 })).length;
    const pdf = await services.reports.signedReport({
      title: '测试报告 Test report',
      sections: [
        { heading: '结论 Conclusion', statements: [{ ok: true, text: '签名未改 Signature unaltered' }] },
      ],
      attachments: [{ name: 'x.json', mimeType: 'application/json', data: new TextEncoder().encode('{}') }],
    });
    const [sig, ...rest] = readPdfSignatures(pdf, { anchors: roots() });
    assert.equal(rest.length, 0);
    assert.deepEqual(sig?.errors, []);
    assert.equal(sig?.valid, true);
    assert.equal(sig?.coversWholeFile, true);
    assert.equal(sig?.padesAttributes, true);
    assert.match(sig?.signer ?? '', /Report Signing/);
    const ts = sig?.verification?.signers[0]?.timestamp;
    assert.equal(ts?.valid, true);
    assert.match(ts?.tsaCertificate?.subjectText ?? '', /TSA \(ECDSA\)/);
    const out = run('pdfsig', [dir.file('signed.pdf', pdf)]);
    assert.match(out.stdout, /Signature Validation: Signature is Valid\./);
    assert.match(out.stdout, /Total document signed/);
    // A reader that trusts our ECDSA root trusts the report certificate: the issuing CA is embedded, and
    // NSS asks our OCSP responder (AIA) for its status — run asynchronously so this server can answer.
    if (spawnSync('certutil', ['--help']).error) {
      if (process.env.CI === 'true') assert.fail('certutil missing: install libnss3-tools');
    } else {
      const db = `sql:${dir.file('nss')}`;
      mkdirSync(dir.file('nss'));
      const root = services.ca.cas.find((c) => c.id === 'ecdsa-issuing')!.chain.at(-1)!;
      assert.equal(run('certutil', ['-N', '-d', db, '--empty-password']).code, 0);
      const pem = dir.file('ecdsa-root.pem', root.toPem());
      assert.equal(run('certutil', ['-A', '-d', db, '-n', 'root', '-t', 'CT,C,C', '-a', '-i', pem]).code, 0);
      const trusted = await execFileAsync('pdfsig', ['-nssdir', db, dir.file('signed.pdf')]);
      assert.match(trusted.stdout, /Certificate Validation: Certificate is Trusted\./, trusted.stdout);
    }
    const events = (await services.store.audit.list({ limit: 100_000 })).slice(before);
    const use = events.find(
      (e) => e.action === 'key.sign' && JSON.stringify(e.detail).includes('PDF report'),
    );
    assert.ok(use, `no key.sign audit event for the report key: ${events.map((e) => e.action).join(', ')}`);
  });

  test('a revoked report certificate is replaced by a new one on next use', async () => {
    const old = await services.reports.signer();
    await services.backend.revoke({
      caId: old.caId,
      serial: old.certificate.serialNumber,
      reason: 'superseded',
      actor: 'test',
    });
    assert.equal(
      await findReportSigner(services.store, services.keystore, services.ca.cas, () => new Date()),
      undefined,
    );
    // A fresh services object (the cached signer is per process) issues a new certificate for the same key.
    const fresh = await openServices(services.config);
    try {
      const steps = await fresh.reports.ensure();
      assert.equal(steps.length, 1, steps.join('; '));
      const s = await fresh.reports.signer();
      assert.notEqual(s.certificate.serialNumber, old.certificate.serialNumber);
      assert.equal((await fresh.keystore.list()).filter((k) => k.label === REPORT_SIGNER_LABEL).length, 1);
    } finally {
      await fresh.close();
    }
  });

  test('POST /api/v1/verify/report is in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${base}/api/docs/json`)).json()) as {
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    assert.ok(doc.paths['/api/v1/verify/report']?.post?.security);
  });

  test('verifyReport: a P7 signature with its data → signed PDF with Chinese text, pdfsig-valid, JSON twin attached', async () => {
    const data = '检验报告 LIS-0001: 血常规 正常';
    const signed = await client.sign({
      signer: 'D001',
      pin: '123456',
      data,
      format: 'p7-detached',
      timestamp: true,
    });
    const pdf = await client.verifyReport({ artifact: Buffer.from(signed.signature, 'base64'), data });
    assert.equal(Buffer.from(pdf.subarray(0, 5)).toString(), '%PDF-');
    const path = dir.file('verification.pdf', pdf);
    const text = run('pdftotext', ['-enc', 'UTF-8', path, '-']).stdout.replace(/\s+/g, ' ');
    for (const s of [
      '电子签名验证报告 Verification Report',
      '验证通过 Verified',
      '签名数据 CMS / PKCS#7 signature',
      '签名者 Signer',
      'CN=张三',
      '信任锚 Trust anchor',
      '报告签名证书 Report signer',
    ])
      assert.ok(text.includes(s), `missing ${s} in ${text.slice(0, 400)}`);
    const sig = run('pdfsig', [path]);
    assert.match(sig.stdout, /Signature is Valid\./);
    assert.equal(run('qpdf', ['--check', path]).code, 0);
    const out = dir.file('verification.json');
    assert.equal(run('pdfdetach', ['-save', '1', '-o', out, path]).code, 0);
    const twin = JSON.parse(readFileSync(out, 'utf8')) as { reportId: string; result: { valid: boolean } };
    assert.equal(twin.result.valid, true);
    assert.ok(text.includes(twin.reportId));
    // The PDF report itself verifies through the same endpoint.
    const again = await client.verifyReport({ artifact: pdf }, 'json');
    assert.equal(again.artifact.kind, 'pdf');
    assert.deepEqual(again.result.errors, []);
    assert.equal(again.result.valid, true);
    // … and a changed byte in it does not.
    const tampered = Buffer.from(pdf);
    const at = tampered.indexOf('/MediaBox [0 0 595.28 841.89]', 0, 'latin1');
    tampered.write('/MediaBox [0 0 595.28 841.88]', at, 'latin1');
    const bad = await client.verifyReport({ artifact: tampered }, 'json');
    assert.equal(bad.result.valid, false);
    assert.ok(
      bad.result.errors.some((e) => e.includes('messageDigest')),
      bad.result.errors.join('; '),
    );
  });

  test('signatureAlgorithm sm2: the report is signed by an SM2 report key (made on first use) under the SM2 CA', async () => {
    const cert = (await services.reports.signer()).certificate.toPem();
    const pdf = await client.verifyReport({ artifact: cert, signatureAlgorithm: 'sm2' });
    const [sig] = readPdfSignatures(pdf, { anchors: roots() });
    assert.deepEqual(sig?.errors, []);
    assert.equal(sig?.valid, true);
    const signer = sig?.verification?.signers[0];
    assert.equal(signer?.signatureAlgorithm, 'SM3withSM2');
    assert.match(signer?.timestamp?.tsaCertificate?.subjectText ?? '', /TSA \(SM2\)/);
    assert.equal((await services.reports.signer('sm2')).caId, 'sm2-issuing');
    // Listed by pdfsig, which cannot check SM2 (NSS) — hence ECDSA by default.
    assert.match(run('pdfsig', [dir.file('sm2-report.pdf', pdf)]).stdout, /Signature #1:/);
  });

  test('verifyReport JSON: the same report; wrong data fails the integrity check', async () => {
    const data = '医嘱 Order 42';
    const signed = await client.sign({ signer: 'D001', pin: '123456', data, format: 'p7-detached' });
    const ok = await client.verifyReport({ artifact: Buffer.from(signed.signature, 'base64'), data }, 'json');
    assert.equal(ok.type, 'medsign.verification-report');
    assert.equal(ok.artifact.kind, 'cms');
    assert.equal(ok.result.valid, true);
    assert.ok(ok.data?.sm3);
    const bad = await client.verifyReport(
      { artifact: Buffer.from(signed.signature, 'base64'), data: 'tampered' },
      'json',
    );
    assert.equal(bad.result.valid, false);
    const pdf = await client.verifyReport({
      artifact: Buffer.from(signed.signature, 'base64'),
      data: 'tampered',
    });
    const text = run('pdftotext', ['-enc', 'UTF-8', dir.file('bad.pdf', pdf), '-']).stdout;
    assert.ok(text.replace(/\s+/g, ' ').includes('验证未通过 Not verified'));
    assert.ok(text.includes('未通过 FAIL'));
    // A certificate (PEM text) works too.
    const cert = await client.verifyReport({ artifact: signed.certificate }, 'json');
    assert.equal(cert.artifact.kind, 'certificate');
    assert.equal(cert.result.valid, true, cert.result.errors.join('; '));
  });

  test('Accept: application/json without format answers JSON; bad input is problem+json', async () => {
    const post = async (body: unknown, headers: Record<string, string> = {}) => {
      const { AUTH_HEADERS, bodyDigest, signRequest } = await import('@medsign/sign');
      const text = JSON.stringify(body);
      const timestamp = Math.floor(Date.now() / 1000);
      const nonce = `n${Math.random().toString(36).slice(2)}${Date.now()}`.padEnd(20, 'x');
      const path = '/api/v1/verify/report';
      const r = await fetch(base + path, {
        method: 'POST',
        headers: {
          [AUTH_HEADERS.appId]: appId,
          [AUTH_HEADERS.timestamp]: String(timestamp),
          [AUTH_HEADERS.nonce]: nonce,
          [AUTH_HEADERS.signature]: signRequest(appSecret, {
            method: 'POST',
            path,
            bodyDigest: bodyDigest(text),
            timestamp,
            nonce,
            appId,
          }),
          'content-type': 'application/json',
          ...headers,
        },
        body: text,
      });
      return {
        status: r.status,
        type: r.headers.get('content-type') ?? '',
        body: await r.text(),
        id: r.headers.get('x-medsign-report-id'),
      };
    };
    const cert = Buffer.from((await services.reports.signer()).certificate.der).toString('base64');
    const json = await post({ artifact: cert }, { accept: 'application/json' });
    assert.equal(json.status, 200);
    assert.match(json.type, /application\/json/);
    assert.equal((JSON.parse(json.body) as { reportId: string }).reportId, json.id);

    for (const [body, code] of [
      [{ artifact: 'not base64!' }, 'REPORT_ARTIFACT_INVALID'],
      [{ artifact: Buffer.from('hello, not an artifact').toString('base64') }, 'REPORT_ARTIFACT_INVALID'],
      [{ artifact: cert, data: '***' }, 'REPORT_ARTIFACT_INVALID'],
      [{ artifact: cert, format: 'docx' }, 'REQUEST_INVALID'],
      [{}, 'REQUEST_INVALID'],
    ] as const) {
      const r = await post(body);
      assert.equal(r.status, 400, r.body);
      assert.match(r.type, /application\/problem\+json/);
      assert.equal((JSON.parse(r.body) as { code: string }).code, code);
    }
    const unsigned = await fetch(`${base}/api/v1/verify/report`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ artifact: cert }),
    });
    assert.equal(unsigned.status, 401);
    await assert.rejects(
      client.verifyReport({ artifact: 'garbage' }),
      (e: MedsignApiError) => e.status === 400 && e.code === 'REPORT_ARTIFACT_INVALID',
    );
  });
});
