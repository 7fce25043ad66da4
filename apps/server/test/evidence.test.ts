// What a signature record proves, end to end over real HTTP on loopback (SQLite, the real audit chain, the
// in-process TSA): client IP, intent and audit position captured at signing time; sealed originals read
// back (audited); status at signing time in verify; USB-key (pre-made) signatures checked and recorded;
// the evidence JSON with its four statements — and the refusals with nothing recorded.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { bytesToHex, sm2SignatureToRaw, sm3 } from '@medsign/gm';
import { buildCsr, ParsedCertificate, PrivateKey, signCms } from '@medsign/pki';
import { MedsignClient, type MedsignApiError } from '@medsign/sdk';
import { createApp, enrolSigner } from '@medsign/sign';
import { runMedsignCliAsync, tempDir, type TempDir } from '@medsign/testkit';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { initDataDir } from '../src/init.js';
import { openServices, type Services } from '../src/services.js';

const rx = '处方 Rx-0107: 阿莫西林 0.5 g tid';

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`${cmd}: ${r.error.message} (install poppler-utils)`);
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

describe('signature evidence over HTTP', () => {
  let dir: TempDir;
  let services: Services;
  let app: FastifyInstance;
  let base: string;
  let client: MedsignClient;
  let credentials = { id: '', secret: '' };
  const count = async () => (await services.store.signing.searchSignatures({ limit: 1 })).total;
  const code = (c: string) => (e: MedsignApiError) => e.code === c;

  before(async () => {
    dir = tempDir('medsign-evidence-');
    // ECDSA too: the report-signing key is ECDSA when the installation has that CA, so pdfsig validates it.
    const init = await initDataDir({ dataDir: dir.path, algorithms: ['ecdsa'], env: {} });
    services = await openServices(init.config);
    app = await buildApp(services, { logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const created = await createApp(
      { name: 'HIS', systemType: 'HIS', ipRanges: ['127.0.0.0/8'] },
      'test',
      services.sign.deps,
    );
    credentials = { id: created.app.id, secret: created.secret };
    client = new MedsignClient({
      url: base,
      appId: created.app.id,
      appSecret: created.secret,
      maxBackoffMs: 50,
    });
    for (const [name, employeeNo] of [
      ['张三', 'D001'],
      ['李四', 'D002'],
    ] as const)
      await enrolSigner(
        { name, employeeNo, departmentCode: '0101', pin: '123456' },
        'op:alice',
        services.sign.deps,
      );
  });
  after(async () => {
    await app?.close();
    await services?.close();
    dir?.cleanup();
  });

  test('the new routes are in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${base}/api/docs/json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    for (const [p, m] of [
      ['/api/v1/signatures', 'post'],
      ['/api/v1/signatures/{id}/original', 'get'],
      ['/api/v1/signatures/{id}/evidence.json', 'get'],
      ['/api/v1/signatures/{id}/evidence', 'post'],
      ['/api/v1/signatures/{id}/evidence.pdf', 'get'],
    ] as const)
      assert.ok(doc.paths[p]?.[m], `${m} ${p} missing`);
  });

  test('PIN + time-stamp + stored original: the four statements hold, with their facts', async () => {
    const signed = await client.sign({
      signer: 'D001',
      pin: '123456',
      data: rx,
      format: 'p7-detached',
      timestamp: true,
      storeOriginal: true,
      metadata: { docType: 'prescription', docId: 'RX0107' },
    });
    const record = (await services.store.signing.getSignature(signed.id))!;
    assert.equal(record.clientIp, '127.0.0.1');
    assert.deepEqual(record.intent, { method: 'pin' });
    const [event] = await services.store.audit.byTarget(signed.id, { action: 'sign.signature' });
    assert.deepEqual(record.audit, { seq: event!.seq, hash: event!.hash });

    // The original, for preview; the read is audited.
    const original = await client.original(signed.id);
    assert.equal(Buffer.from(original.data, 'base64').toString(), rx);
    assert.equal(original.digestMatches, true);
    assert.equal(
      (await services.store.audit.byTarget(signed.id, { action: 'sign.original-read' })).length,
      1,
    );

    const e = await client.evidence(signed.id);
    assert.equal(e.schema, 'medsign-evidence/v1');
    assert.equal(e.ok, true, JSON.stringify(e, null, 1));
    const signer = (await services.store.signing.getSignerByEmployeeNo('D001'))!;
    const cert = ParsedCertificate.parse(signer.certificate);
    // 真实身份
    assert.equal(e.identity.statement, '真实身份');
    assert.equal(e.identity.ok, true);
    assert.deepEqual(e.identity.signer, { name: '张三', employeeNo: 'D001', departmentCode: '0101' });
    assert.equal(e.identity.certificate.serial, cert.serialNumber);
    assert.equal(e.identity.certificate.fingerprintSm3, cert.fingerprint('sm3'));
    assert.equal(e.identity.chain.ok, true);
    assert.equal(e.identity.chain.path.length, 3);
    assert.equal(e.identity.issuingCa.id, signer.caId);
    assert.equal(e.identity.review.method, 'signer-enrolment');
    assert.match(e.identity.review.summary, /op:alice/);
    assert.equal(e.identity.statusAtSigning.status, 'good');
    assert.equal(e.identity.statusAtSigning.timeSource, 'timestamp');
    assert.equal(e.identity.statusNow.status, 'good');
    // 真实意愿
    assert.equal(e.intent.statement, '真实意愿');
    assert.equal(e.intent.method, 'pin');
    assert.equal(e.intent.clientIp, '127.0.0.1');
    assert.deepEqual(e.intent.application, { id: record.appId, name: 'HIS', systemType: 'HIS' });
    assert.equal(e.intent.audit.seq, event!.seq);
    assert.equal(e.intent.audit.hash, event!.hash);
    assert.equal(e.intent.audit.matches, true);
    assert.equal(e.intent.audit.chainVerified, true);
    assert.equal(e.intent.audit.checked, event!.seq);
    // 签名未改, 原文未改
    assert.equal(e.signatureIntact.ok, true);
    assert.equal(e.signatureIntact.checkedOver, 'data');
    assert.equal(e.originalIntact.ok, true);
    assert.equal(e.originalIntact.source, 'stored');
    assert.equal(e.originalIntact.sm3, bytesToHex(sm3(rx)));
    assert.equal(e.originalIntact.signedDigest, signed.digest);
    // Time-stamp and the verify-online link.
    assert.equal(e.timestamp?.ok, true);
    assert.ok(e.timestamp?.time && e.timestamp.serial && e.timestamp.tsa);
    assert.equal(e.verification.id, signed.id);
    assert.equal(e.verification.url, `${base}/verify/${signed.id}`);
    assert.equal((await services.store.audit.byTarget(signed.id, { action: 'sign.evidence' })).length, 1);
  });

  test('digest-only and P1 records: 原文未改 unchecked until an original is supplied; a wrong one fails', async () => {
    const digest = bytesToHex(sm3(rx));
    const d = await client.sign({ signer: 'D001', pin: '123456', digest, format: 'p7-detached' });
    let e = await client.evidence(d.id);
    assert.equal(e.originalIntact.ok, null);
    assert.equal(e.originalIntact.source, null);
    assert.equal(e.signatureIntact.ok, true);
    assert.equal(e.signatureIntact.checkedOver, 'signed-attributes');
    assert.equal(e.ok, true);
    e = await client.evidence(d.id, { data: rx });
    assert.equal(e.originalIntact.ok, true);
    assert.equal(e.originalIntact.source, 'supplied');
    e = await client.evidence(d.id, { data: rx + ' (altered)' });
    assert.equal(e.originalIntact.ok, false);
    assert.equal(e.signatureIntact.ok, false);
    assert.equal(e.ok, false);
    // No original was stored, and a digest request cannot store one.
    await assert.rejects(client.original(d.id), code('SIGN_ORIGINAL_NOT_STORED'));
    await assert.rejects(
      client.sign({ signer: 'D001', pin: '123456', digest, storeOriginal: true }),
      code('SIGN_DATA_INVALID'),
    );

    const p1 = await client.sign({ signer: 'D001', pin: '123456', data: rx, format: 'p1' });
    e = await client.evidence(p1.id);
    assert.equal(e.signatureIntact.ok, null);
    assert.equal(e.timestamp, null);
    e = await client.evidence(p1.id, { data: rx });
    assert.equal(e.signatureIntact.ok, true);
    assert.equal(e.originalIntact.ok, true);
    await assert.rejects(client.evidence('no-such-id'), code('SIGN_SIGNATURE_NOT_FOUND'));
  });

  test('under a signing authorisation, the grant is part of the intent', async () => {
    const grant = await client.authorise({ signer: 'D002', pin: '123456', durationMinutes: 120 });
    const s = await client.sign({ signer: 'D002', data: rx, storeOriginal: true });
    const e = await client.evidence(s.id);
    assert.equal(e.intent.ok, true);
    assert.equal(e.intent.method, 'authorisation');
    assert.equal(e.intent.authorisation?.id, grant.id);
    assert.equal(e.intent.authorisation?.grantedAt, grant.createdAt);
    assert.equal(e.intent.authorisation?.expiresAt, grant.expiresAt);
    assert.equal(e.intent.authorisation?.inForce, true);
    const [granted] = await services.store.audit.byTarget(grant.id, { action: 'signer.authorise' });
    assert.deepEqual(e.intent.authorisation?.grantEvent, {
      seq: granted!.seq,
      hash: granted!.hash,
      time: granted!.time,
      actor: granted!.actor,
      action: 'signer.authorise',
    });
    // Revoking the grant later does not change what the record says; the revocation is shown.
    await client.revokeAuthorisation(grant.id);
    const later = await client.evidence(s.id);
    assert.equal(later.intent.authorisation?.inForce, true);
    assert.equal(later.intent.ok, true);
    assert.equal(later.intent.authorisation?.revokeEvent?.action, 'signer.authorisation-revoke');
  });

  test('a sign job: each document’s record names the job, its evidence cites the job’s authorisation', async () => {
    const job = await client.createSignJob({
      signer: 'D001',
      pin: '123456',
      documents: [
        { businessId: 'NR-1', data: '护理记录 1' },
        { businessId: 'NR-2', data: '护理记录 2' },
      ],
    });
    const done = await client.waitForSignJob(job.id, { intervalMs: 50, timeoutMs: 30_000 });
    assert.equal(done.state, 'completed');
    const results = await client.signJobResults(job.id);
    const id = results.items[0]!.signatureId!;
    const record = (await services.store.signing.getSignature(id))!;
    assert.deepEqual(record.intent, { method: 'pin', job: job.id });
    assert.equal(record.clientIp, '127.0.0.1', 'the address of the request that authorised the job');
    const e = await client.evidence(id, { data: '护理记录 1' });
    assert.equal(e.intent.clientIp, '127.0.0.1');
    assert.equal(e.ok, true, JSON.stringify(e.intent, null, 1));
    assert.equal(e.intent.method, 'pin');
    const [authorised] = await services.store.audit.byTarget(job.id, { action: 'sign.job-authorise' });
    assert.equal(
      (e.intent as unknown as { job: { id: string; authoriseEvent: { seq: number } } }).job.authoriseEvent
        .seq,
      authorised!.seq,
    );
    assert.equal(e.originalIntact.ok, true);
  });

  test('revoked after signing: verify and evidence say good when signed (time-stamp), revoked now', async () => {
    await enrolSigner(
      { name: '王五', employeeNo: 'D003', departmentCode: '0102', pin: '123456' },
      'op:alice',
      services.sign.deps,
    );
    const s = await client.sign({ signer: 'D003', pin: '123456', data: rx, timestamp: true });
    const signer = (await services.store.signing.getSignerByEmployeeNo('D003'))!;
    // Verified once while good (the chain and the certificates are cached then), then revoked: the status
    // is read every time, so the next verification fails.
    const before = await client.verify({ signature: s.signature, data: rx });
    assert.equal(before.valid, true);
    assert.equal(before.certificateStatus.status, 'good');
    await services.backend.revoke({
      caId: signer.caId,
      serial: signer.certSerial,
      reason: 'keyCompromise',
      actor: 'test',
    });
    const v = await client.verify({ signature: s.signature, data: rx });
    assert.equal(v.valid, false);
    assert.equal(v.certificateStatus.status, 'revoked');
    assert.equal(v.certificateStatus.reason, 'keyCompromise');
    assert.ok(v.certificateStatus.revokedAt);
    assert.equal(v.statusAtSigning.status, 'good');
    assert.equal(v.statusAtSigning.timeSource, 'timestamp');
    const e = await client.evidence(s.id);
    assert.equal(e.identity.statusNow.status, 'revoked');
    assert.equal(e.identity.statusAtSigning.ok, true);
    assert.equal(e.identity.ok, true);
  });

  test('verify online (the QR code): public page and JSON, masked name, no private facts, 404, rate limit', async () => {
    const s = await client.sign({
      signer: 'D001',
      pin: '123456',
      data: rx,
      timestamp: true,
      metadata: { docType: 'prescription', docId: 'RX-PUB', visitRef: 'VISIT-SECRET-9' },
    });
    const url = (await client.evidence(s.id)).verification.url!;
    assert.equal(url, `${base}/verify/${s.id}`);
    // No authentication headers: whoever holds the report may look.
    const json = await fetch(url, { headers: { accept: 'application/json' } });
    assert.equal(json.status, 200);
    const v = (await json.json()) as Record<string, unknown> & { signer: { name: string } };
    assert.equal(v.valid, true);
    assert.equal(v.signatureUnaltered, true);
    assert.equal(v.signer.name, '张*');
    assert.deepEqual(v.certificateAtSigning, {
      ok: true,
      status: 'good',
      time: (v.certificateAtSigning as { time: string }).time,
      timeSource: 'timestamp',
    });
    const text = JSON.stringify(v);
    for (const secret of ['VISIT-SECRET-9', '127.0.0.1', '张三', 'D001', 'RX-PUB'])
      assert.ok(!text.includes(secret), `the public answer does not show ${secret}`);
    const htmlAnswer = await fetch(url);
    assert.match(htmlAnswer.headers.get('content-type') ?? '', /^text\/html/);
    const html = await htmlAnswer.text();
    assert.match(html, /签名有效 The signature is valid/);
    assert.ok(html.includes(s.id) && !html.includes('VISIT-SECRET-9') && !html.includes('张三'));
    assert.ok(
      (await services.store.audit.byTarget(s.id, { action: 'sign.evidence' })).some((e) =>
        e.actor.startsWith('public:'),
      ),
      'public views are audited',
    );
    const missing = await fetch(`${base}/verify/00000000-0000-4000-8000-000000000000`);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /No such signature record/);
    const missingJson = await fetch(`${base}/verify/nope`, { headers: { accept: 'application/json' } });
    assert.equal(missingJson.status, 404);
    assert.equal(((await missingJson.json()) as { code: string }).code, 'SIGN_SIGNATURE_NOT_FOUND');
    // 30 views a minute per address; the next one waits.
    let limited: Response | undefined;
    for (let i = 0; i < 40 && !limited; i++) {
      const r = await fetch(`${base}/verify/nope`, { headers: { accept: 'application/json' } });
      if (r.status === 429) limited = r;
      else await r.arrayBuffer();
    }
    assert.ok(limited, 'rate limited');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal(((await limited.json()) as { code: string }).code, 'VERIFY_PAGE_RATE_LIMITED');
  });

  test('USB key: an approved application’s certificate; pre-made P1 and P7 recorded, forged ones refused', async () => {
    // The doctor's USB key (here a key the test holds) and its certificate through the RA: apply → approve.
    const key = PrivateKey.generate('sm2');
    const csr = await buildCsr({ subject: [['CN', '赵六']], signer: key.signer() });
    const application = await services.lifecycle.apply({
      profileId: 'doctor',
      csr,
      applicant: { name: '赵六', employeeNo: 'U001', department: '0103' },
      actor: 'ra:clerk',
    });
    const { issued } = await services.lifecycle.approve({ id: application.id, actor: 'ra:reviewer' });
    await enrolSigner(
      { name: '赵六', employeeNo: 'U001', departmentCode: '0103', pin: '123456' },
      'op:alice',
      services.sign.deps,
    );
    const usbCert = issued.certificate;
    const data = new TextEncoder().encode(rx);
    const raw = sm2SignatureToRaw(await key.signer().sign(data));

    const n = await count();
    const forged = sm2SignatureToRaw(await PrivateKey.generate('sm2').signer().sign(data));
    await assert.rejects(
      client.recordPremade({
        signer: 'U001',
        format: 'p1',
        data: rx,
        signature: forged,
        certificate: usbCert.toPem(),
      }),
      (e: MedsignApiError) => e.status === 400 && e.code === 'SIGN_PREMADE_SIGNATURE_INVALID',
    );
    await assert.rejects(
      client.recordPremade({
        signer: 'D001',
        format: 'p1',
        data: rx,
        signature: raw,
        certificate: usbCert.toPem(),
      }),
      (e: MedsignApiError) => e.status === 403 && e.code === 'SIGN_PREMADE_SIGNER_MISMATCH',
    );
    await assert.rejects(
      client.recordPremade({ signer: 'U001', format: 'p1', data: rx, signature: 'bad base64!' }),
      code('SIGN_PREMADE_SIGNATURE_INVALID'),
    );
    assert.equal(await count(), n);

    const p1 = await client.recordPremade({
      signer: 'U001',
      format: 'p1',
      data: rx,
      signature: raw,
      certificate: usbCert.toPem(),
      timestamp: true,
      storeOriginal: true,
      metadata: { docType: 'order', docId: 'O-77' },
    });
    assert.equal(p1.certSerial, usbCert.serialNumber);
    assert.ok(p1.token);
    const cms = await signCms({
      content: data,
      detached: true,
      signers: [{ signer: key.signer(), certificate: usbCert }],
      certificates: [usbCert],
    });
    const p7 = await client.recordPremade({
      signer: 'U001',
      format: 'p7-detached',
      data: rx,
      signature: cms,
    });
    assert.equal(await count(), n + 2);
    const v = await client.verify({ signature: p7.signature, data: rx });
    assert.equal(v.valid, true, v.errors.join('; '));

    const e = await client.evidence(p1.id);
    assert.equal(e.ok, true, JSON.stringify(e, null, 1));
    assert.equal(e.intent.method, 'usbkey');
    assert.equal(e.identity.certificate.serial, usbCert.serialNumber);
    assert.equal(e.identity.review.method, 'certificate-application');
    assert.match(e.identity.review.summary, /ra:reviewer/);
    assert.equal(e.signatureIntact.ok, true);
    assert.equal(e.originalIntact.source, 'stored');
    assert.equal(e.timestamp?.ok, true);
    assert.equal(e.identity.statusAtSigning.timeSource, 'timestamp');
  });

  test('evidence.pdf: the four statements and their values in Chinese and English, signed (pdfsig), JSON embedded; the CLI writes it', async () => {
    const signed = await client.sign({
      signer: 'D001',
      pin: '123456',
      data: rx,
      timestamp: true,
      storeOriginal: true,
      metadata: { docType: 'prescription', docId: 'RX0200' },
    });
    const e = await client.evidence(signed.id);
    const pdf = await client.evidencePdf(signed.id);
    assert.equal(Buffer.from(pdf.subarray(0, 5)).toString(), '%PDF-');
    const path = dir.file('evidence.pdf', pdf);
    const text = run('pdftotext', ['-enc', 'UTF-8', path, '-']).stdout.replace(/\s+/g, ' ');
    // Long hex values may wrap at the column edge: compare them with the whitespace taken out.
    const flat = text.replace(/\s+/g, '');
    for (const s of [
      '电子签名证据报告 Signature Evidence Report',
      '真实身份 Real identity',
      '真实意愿 Real intent',
      '签名未改 Signature unaltered',
      '原文未改 Original unaltered',
      '张三',
      'D001',
      '127.0.0.1',
      'RX0200',
    ])
      assert.ok(text.includes(s), `missing ${s} in ${text.slice(0, 600)}`);
    for (const v of [
      e.identity.certificate.serial,
      e.originalIntact.signedDigest,
      e.originalIntact.sm3!,
      e.timestamp!.time!,
      e.intent.audit.hash!,
      signed.id,
    ])
      assert.ok(flat.includes(v.replace(/\s+/g, '')), `missing ${v}`);
    const sig = run('pdfsig', [path]);
    assert.match(sig.stdout, /Signature #1/);
    assert.match(sig.stdout, /Signature is Valid\./);
    const out = dir.file('evidence.json');
    assert.equal(run('pdfdetach', ['-save', '1', '-o', out, path]).code, 0);
    const twin = JSON.parse(readFileSync(out, 'utf8')) as {
      schema: string;
      signatureId: string;
      ok: boolean;
    };
    assert.equal(twin.schema, 'medsign-evidence/v1');
    assert.equal(twin.signatureId, signed.id);
    assert.equal(twin.ok, true);

    // With the SM2 report key (GM relying parties): pdfsig lists it, our reader verifies it.
    const sm2Pdf = await client.evidencePdf(signed.id, { signatureAlgorithm: 'sm2' });
    assert.match(run('pdfsig', [dir.file('evidence-sm2.pdf', sm2Pdf)]).stdout, /Signature #1/);
    assert.match(run('pdftotext', ['-enc', 'UTF-8', dir.file('evidence-sm2.pdf'), '-']).stdout, /真实意愿/);

    // npx medsign evidence --url URL --app-id ID --app-secret S --id SIGNATURE_ID --out report.pdf
    const report = dir.file('report.pdf');
    const cli = await runMedsignCliAsync([
      'evidence',
      '--url',
      base,
      '--app-id',
      credentials.id,
      '--app-secret',
      credentials.secret,
      '--id',
      signed.id,
      '--out',
      report,
    ]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(run('pdftotext', ['-enc', 'UTF-8', report, '-']).stdout, /原文未改 Original unaltered/);
    assert.match(run('pdfsig', [report]).stdout, /Signature is Valid\./);
    const json = dir.file('report.json');
    const cliJson = await runMedsignCliAsync([
      'evidence',
      '--url',
      base,
      '--app-id',
      credentials.id,
      '--app-secret',
      credentials.secret,
      '--id',
      signed.id,
      '--out',
      json,
      '--json',
    ]);
    assert.equal(cliJson.code, 0, cliJson.stderr);
    assert.equal((JSON.parse(readFileSync(json, 'utf8')) as { ok: boolean }).ok, true);
    const missing = await runMedsignCliAsync([
      'evidence',
      '--url',
      base,
      '--app-id',
      credentials.id,
      '--app-secret',
      credentials.secret,
      '--id',
      'nope',
      '--out',
      report,
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /SIGN_SIGNATURE_NOT_FOUND/);
  });

  // Last of the HTTP tests: it breaks the audit chain of this data directory on purpose.
  test('tampering shows: an edited earlier audit event fails 真实意愿, a changed sealed original fails 原文未改', async () => {
    const s = await client.sign({ signer: 'D001', pin: '123456', data: rx, storeOriginal: true });
    const seq = (await services.store.signing.getSignature(s.id))!.audit!.seq;
    assert.equal((await client.evidence(s.id)).ok, true);
    // What someone with database access might do around the append-only triggers.
    const raw = new BetterSqlite3(services.store.database.file!);
    try {
      raw.exec('drop trigger audit_events_no_update; drop trigger signature_originals_no_update');
      raw.prepare(`update audit_events set actor = 'op:mallory' where seq = ?`).run(seq - 1);
      raw
        .prepare('update signature_originals set sealed = ? where signature_id = ?')
        .run(Buffer.alloc(64, 7), s.id);
    } finally {
      raw.close();
    }
    const e = await client.evidence(s.id);
    assert.equal(e.intent.audit.matches, true);
    assert.equal(e.intent.audit.chainVerified, false);
    assert.match(e.intent.audit.detail!, new RegExp(`event ${seq - 1}`));
    assert.equal(e.intent.ok, false);
    assert.equal(e.originalIntact.ok, false);
    assert.equal(e.originalIntact.source, 'stored');
    assert.match(e.originalIntact.detail!, /does not open/);
    assert.equal(e.ok, false);
    // A copy of the original the hospital kept still proves the signed content.
    const withCopy = await client.evidence(s.id, { data: rx });
    assert.equal(withCopy.originalIntact.ok, true);
    assert.equal(withCopy.signatureIntact.ok, true);
  });

  test('config: sign.storeOriginals and sign.publicUrl (file or MEDSIGN_SIGN_*), refused when malformed', () => {
    const d = tempDir('medsign-evidence-config-');
    try {
      const file = d.file(
        'c.yaml',
        'sign:\n  storeOriginals: true\n  publicUrl: https://sign.example.org/\n',
      );
      const c = loadConfig({ dataDir: d.path, configFile: file, env: {} });
      assert.equal(c.sign.storeOriginals, true);
      assert.equal(c.sign.publicUrl, 'https://sign.example.org');
      const e = loadConfig({
        dataDir: d.path,
        configFile: file,
        env: { MEDSIGN_SIGN_STORE_ORIGINALS: 'false', MEDSIGN_SIGN_PUBLIC_URL: 'http://10.0.0.1:8080' },
      });
      assert.equal(e.sign.storeOriginals, false);
      assert.equal(e.sign.publicUrl, 'http://10.0.0.1:8080');
      assert.equal(loadConfig({ dataDir: d.path, env: {} }).sign.storeOriginals, undefined);
      const bad = (yaml: string, env: Record<string, string> = {}) =>
        assert.throws(
          () => loadConfig({ dataDir: d.path, configFile: d.file('bad.yaml', yaml), env }),
          (err: Error) => /^CONFIG_INVALID: sign\./.test(err.message),
        );
      bad('sign:\n  storeOriginals: yes please\n');
      bad('sign:\n  publicUrl: ftp://x\n');
      bad('sign:\n  publicUrl: https://x/?q=1\n');
      bad('{}', { MEDSIGN_SIGN_STORE_ORIGINALS: 'maybe' });
    } finally {
      d.cleanup();
    }
  });
});
