// The signing core over memory ports: applications and HMAC-SM3 authentication, signers and PINs, P1/P7
// signing with and without time-stamps, verification, idempotency — and the signatures checked by the BC peer.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { DomainError, type ErrorCode } from '@medsign/errors';
import { bytesToHex, sm2SignatureToRaw, sm3 } from '@medsign/gm';
import {
  ParsedCertificate,
  ParsedCms,
  PrivateKey,
  signCms,
  verifyCms,
  verifyTimeStampToken,
} from '@medsign/pki';
import { issueTestCertificate, makeHierarchy, peerOrSkip, tempDir } from '@medsign/testkit';
import {
  authenticateRequest,
  buildEvidence,
  bodyDigest,
  canonicalRequest,
  createApp,
  enrolSigner,
  grantAuthorisation,
  intentOfText,
  intentText,
  openOriginal,
  recordPremadeSignature,
  revokeAuthorisation,
  ipAllowed,
  RateLimiter,
  signDocument,
  signRequest,
  unlockSigner,
  verifyDocument,
  type EvidenceDeps,
  type SignRequest,
  type VerifyDeps,
} from '../src/index.js';
import { makeWorld, testTimeStamper, type MemoryWorld } from './helpers/memory.js';

async function rejects(p: Promise<unknown>, code: ErrorCode): Promise<DomainError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DomainError, String(e));
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64');

function verifyDeps(w: MemoryWorld): VerifyDeps {
  return {
    clock: w.deps.clock,
    status: {
      ...w.deps.status,
      caIdOf: (c) => (c.serialNumber === w.h.intermediate.cert.serialNumber ? 'test' : undefined),
    },
    anchors: [w.h.root.cert],
    intermediates: [w.h.intermediate.cert],
  };
}

describe('applications and request authentication', () => {
  let w: MemoryWorld;
  before(async () => (w = await makeWorld()));

  test('canonical string is the documented one', () => {
    const parts = {
      method: 'post',
      path: '/api/v1/sign',
      bodyDigest: bodyDigest('{}'),
      timestamp: 1764806400,
      nonce: 'abcdefghijklmnop',
      appId: 'app_x',
    };
    assert.equal(
      canonicalRequest(parts),
      `MEDSIGN-HMAC-SM3\nPOST\n/api/v1/sign\n${bytesToHex(sm3('{}'))}\n1764806400\nabcdefghijklmnop\napp_x`,
    );
    assert.match(signRequest('secret', parts), /^[0-9a-f]{64}$/);
  });

  test('create validates fields; the secret is only stored sealed', async () => {
    await rejects(createApp({ name: 'HIS', systemType: 'XYZ' }, 'op', w.deps), 'APP_INVALID');
    await rejects(
      createApp({ name: 'HIS', systemType: 'HIS', ipRanges: ['10.0.0.0/33'] }, 'op', w.deps),
      'APP_INVALID',
    );
    await rejects(
      createApp({ name: 'HIS', systemType: 'HIS', operations: ['delete'] }, 'op', w.deps),
      'APP_INVALID',
    );
    await rejects(createApp({ name: 'HIS', systemType: 'HIS', rateLimit: 0 }, 'op', w.deps), 'APP_INVALID');
    const { app, secret } = await createApp(
      { name: 'HIS', systemType: 'HIS', ipRanges: ['127.0.0.0/8', '::1'] },
      'op',
      w.deps,
    );
    assert.match(app.id, /^app_/);
    assert.equal(secret.length, 43);
    const stored = w.deps.store.apps.get(app.id)!;
    assert.ok(!Buffer.from(stored.sealedSecret).toString('latin1').includes(secret));
    assert.equal(w.events.at(-1)!.action, 'app.create');
  });

  test('ip ranges: v4, v6, v4-mapped', () => {
    assert.ok(ipAllowed('10.1.2.3', ['10.1.0.0/16']));
    assert.ok(!ipAllowed('10.2.0.1', ['10.1.0.0/16']));
    assert.ok(ipAllowed('::ffff:10.1.2.3', ['10.1.0.0/16']));
    assert.ok(ipAllowed('fd00::5', ['fd00::/8']));
    assert.ok(ipAllowed('1.2.3.4', []));
  });

  test('good, stale, badly signed, replayed, wrong address, wrong operation, rate limited', async () => {
    const { app, secret } = await createApp(
      { name: 'LIS', systemType: 'LIS', ipRanges: ['127.0.0.1/32'], operations: ['sign'], rateLimit: 3 },
      'op',
      w.deps,
    );
    const limiter = new RateLimiter();
    const deps = { ...w.deps, limiter };
    let n = 0;
    const request = (over: Partial<Record<string, string>> = {}, ts = Math.floor(Date.now() / 1000)) => {
      const nonce = over.nonce ?? `nonce-${String(++n).padStart(12, '0')}`;
      const parts = {
        method: 'POST',
        path: '/api/v1/sign',
        bodyDigest: bodyDigest('{"a":1}'),
        timestamp: ts,
        nonce,
        appId: app.id,
      };
      return {
        appId: app.id,
        timestamp: String(ts),
        nonce,
        signature: signRequest(secret, parts),
        method: 'POST',
        path: '/api/v1/sign',
        bodyDigest: parts.bodyDigest,
        remoteIp: '127.0.0.1',
        operation: 'sign' as const,
        ...over,
      };
    };
    assert.equal((await authenticateRequest(request(), deps)).id, app.id);
    await rejects(authenticateRequest({ ...request(), signature: undefined }, deps), 'APP_AUTH_REQUIRED');
    await rejects(
      authenticateRequest(request({}, Math.floor(Date.now() / 1000) - 301), deps),
      'APP_REQUEST_STALE',
    );
    await rejects(
      authenticateRequest({ ...request(), bodyDigest: bodyDigest('{"a":2}') }, deps),
      'APP_AUTH_FAILED',
    );
    await rejects(authenticateRequest({ ...request(), appId: 'app_unknown' }, deps), 'APP_AUTH_FAILED');
    const once = request({ nonce: 'the-same-nonce-0001' });
    await authenticateRequest(once, deps);
    await rejects(authenticateRequest(once, deps), 'APP_REQUEST_REPLAYED');
    await rejects(authenticateRequest(request({ remoteIp: '10.9.9.9' }), deps), 'APP_IP_FORBIDDEN');
    await rejects(authenticateRequest(request({ operation: 'read' }), deps), 'APP_OPERATION_FORBIDDEN');
    await authenticateRequest(request(), deps); // the third of 3 per minute
    const e = await rejects(authenticateRequest(request(), deps), 'APP_RATE_LIMITED');
    assert.equal(e.status, 429);
  });
});

describe('signers, signing and verification (SM2)', () => {
  let w: MemoryWorld;
  const ctx = { appId: 'app_his' };
  const base = (over: Partial<SignRequest> = {}): SignRequest => ({
    signer: 'D001',
    pin: '123456',
    data: b64('处方 Rx-0001'),
    metadata: { system: 'HIS', docType: 'prescription', docId: 'RX1', visitRef: 'V9' },
    ...over,
  });
  before(async () => {
    w = await makeWorld();
    const r = await enrolSigner(
      { name: '张三', employeeNo: 'D001', departmentCode: '0101', pin: '123456' },
      'op',
      w.deps,
    );
    assert.equal(r.signer.employeeNo, 'D001');
    assert.ok(!('pinHash' in r.signer));
    assert.ok(!JSON.stringify(w.events).includes('123456'));
  });

  test('enrolment refuses bad fields and duplicates', async () => {
    await rejects(
      enrolSigner({ name: '李四', employeeNo: 'D002', departmentCode: '0101', pin: '123' }, 'op', w.deps),
      'SIGN_SIGNER_INVALID',
    );
    await rejects(
      enrolSigner({ name: '李四', employeeNo: 'D 2', departmentCode: '0101', pin: '123456' }, 'op', w.deps),
      'SIGN_SIGNER_INVALID',
    );
    await rejects(
      enrolSigner({ name: '张三', employeeNo: 'D001', departmentCode: '0101', pin: '123456' }, 'op', w.deps),
      'SIGN_SIGNER_EXISTS',
    );
  });

  test('p1, p7-detached, p7-attached (RFC 5652 and GM/T 0010) verify; records are written', async () => {
    const vd = verifyDeps(w);
    const p1 = await signDocument(base({ format: 'p1' }), ctx, w.deps);
    assert.equal(p1.record.digest, bytesToHex(sm3('处方 Rx-0001')));
    assert.equal(p1.record.metadata.departmentCode, '0101');
    let v = await verifyDocument(
      { data: base().data, signature: b64(p1.record.signature), certificate: p1.certificate.toPem() },
      vd,
    );
    assert.ok(v.valid, v.errors.join('; '));
    assert.equal(v.format, 'p1');
    v = await verifyDocument(
      {
        data: b64('处方 Rx-0002'),
        signature: b64(p1.record.signature),
        certificate: b64(p1.certificate.der),
      },
      vd,
    );
    assert.equal(v.valid, false);
    assert.equal(v.dataIntegrity.ok, false);

    for (const [format, oids] of [
      ['p7-detached', 'rfc5652'],
      ['p7-attached', 'rfc5652'],
      ['p7-detached', 'gm'],
      ['p7-attached', 'gm'],
    ] as const) {
      const r = await signDocument(base({ format, oids }), ctx, w.deps);
      const cms = ParsedCms.parse(r.record.signature);
      assert.equal(cms.gmOids, oids === 'gm');
      assert.equal(cms.detached, format === 'p7-detached');
      const res = await verifyDocument(
        { ...(format === 'p7-detached' ? { data: base().data } : {}), signature: b64(r.record.signature) },
        vd,
      );
      assert.ok(res.valid, `${format}/${oids}: ${res.errors.join('; ')}`);
      assert.ok(res.chain.ok && res.certificateStatus.ok && res.dataIntegrity.ok && res.signature.ok);
      const tampered = await verifyDocument(
        { data: b64('tampered'), signature: b64(r.record.signature) },
        vd,
      );
      assert.equal(tampered.valid, false);
      assert.equal(tampered.dataIntegrity.ok, false);
    }
    assert.equal(w.deps.store.signatures.length, 5);
    assert.equal(w.events.filter((e) => e.action === 'sign.signature').length, 5);
  });

  test('a digest is signed as p7-detached and verifies against the data', async () => {
    const r = await signDocument(
      base({ data: undefined, digest: bytesToHex(sm3('处方 Rx-0001')), format: 'p7-detached' }),
      ctx,
      w.deps,
    );
    const res = await verifyDocument(
      { data: base().data, signature: b64(r.record.signature) },
      verifyDeps(w),
    );
    assert.ok(res.valid, res.errors.join('; '));
    await rejects(
      signDocument(base({ data: undefined, digest: 'ab', format: 'p7-detached' }), ctx, w.deps),
      'SIGN_DATA_INVALID',
    );
    await rejects(
      signDocument(base({ data: undefined, digest: bytesToHex(sm3('x')), format: 'p1' }), ctx, w.deps),
      'SIGN_DATA_INVALID',
    );
    await rejects(
      signDocument(
        base({ data: undefined, digest: bytesToHex(sm3('x')), digestAlgorithm: 'sha256' }),
        ctx,
        w.deps,
      ),
      'SIGN_DATA_INVALID',
    );
  });

  test('bad input: unknown signer, malformed base64, both data and digest, unknown doc type, too large', async () => {
    const n = w.deps.store.signatures.length;
    await rejects(signDocument(base({ signer: 'NOPE' }), ctx, w.deps), 'SIGN_SIGNER_NOT_FOUND');
    await rejects(signDocument(base({ data: 'not base64!' }), ctx, w.deps), 'SIGN_DATA_INVALID');
    await rejects(signDocument(base({ data: 'QQ' }), ctx, w.deps), 'SIGN_DATA_INVALID');
    await rejects(signDocument(base({ digest: bytesToHex(sm3('x')) }), ctx, w.deps), 'SIGN_DATA_INVALID');
    await rejects(
      signDocument(base({ metadata: { docType: 'poem' } }), ctx, w.deps),
      'SIGN_DOC_TYPE_UNKNOWN',
    );
    await rejects(
      signDocument(base({ data: b64(new Uint8Array(2000)) }), ctx, { ...w.deps, maxDataBytes: 1000 }),
      'SIGN_PAYLOAD_TOO_LARGE',
    );
    await rejects(signDocument(base({ format: 'p9' as never }), ctx, w.deps), 'SIGN_DATA_INVALID');
    await rejects(signDocument(base({ timestamp: true }), ctx, w.deps), 'SIGN_TIMESTAMP_UNAVAILABLE');
    await rejects(verifyDocument({ signature: 'QQ==' }, verifyDeps(w)), 'SIGN_SIGNATURE_INVALID');
    await rejects(verifyDocument({ signature: '%%%' }, verifyDeps(w)), 'SIGN_SIGNATURE_INVALID');
    assert.equal(w.deps.store.signatures.length, n, 'nothing written');
  });

  test('idempotency: same key and body → same record; other body → conflict', async () => {
    const idem = { key: 'rx-1-attempt', requestHash: 'h1' };
    const a = await signDocument(base(), { ...ctx, idempotency: idem }, w.deps);
    const b = await signDocument(base(), { ...ctx, idempotency: idem }, w.deps);
    assert.equal(b.record.id, a.record.id);
    assert.equal(b.replayed, true);
    await rejects(
      signDocument(base(), { ...ctx, idempotency: { ...idem, requestHash: 'h2' } }, w.deps),
      'SIGN_IDEMPOTENCY_CONFLICT',
    );
  });

  test('certificate states that cannot sign; verify reports status now', async () => {
    const serial = w.deps.store.signers.values().next().value!.certSerial;
    const signed = await signDocument(base({ format: 'p7-attached' }), ctx, w.deps);
    for (const [status, code] of [
      ['revoked', 'SIGN_CERT_REVOKED'],
      ['hold', 'SIGN_CERT_ON_HOLD'],
      ['unknown', 'SIGN_CERT_REVOKED'],
    ] as const) {
      w.statuses.set(serial, status);
      await rejects(signDocument(base(), ctx, w.deps), code);
    }
    w.statuses.set(serial, 'revoked');
    const v = await verifyDocument({ signature: b64(signed.record.signature) }, verifyDeps(w));
    assert.equal(v.valid, false);
    assert.equal(v.certificateStatus.status, 'revoked');
    assert.ok(v.signature.ok);
    w.statuses.set(serial, 'good');
    w.setNow(new Date(Date.now() + 400 * 86_400_000));
    await rejects(signDocument(base(), ctx, w.deps), 'SIGN_CERT_EXPIRED');
    w.setNow(new Date(Date.now() - 2 * 86_400_000));
    await rejects(signDocument(base(), ctx, w.deps), 'SIGN_CERT_NOT_YET_VALID');
    w.setNow(new Date());
  });

  test('status at signing time: revoked after signing (good then, revoked now) and before signing', async () => {
    await enrolSigner(
      { name: '钱七', employeeNo: 'D007', departmentCode: '0101', pin: '123456' },
      'op',
      w.deps,
    );
    const signer = (await w.deps.store.getSignerByEmployeeNo('D007'))!;
    const stamper = testTimeStamper(w.h, w.deps.clock.now);
    const deps = { ...w.deps, timeStamper: stamper };
    const signedAt = w.deps.clock.now();
    const p7 = await signDocument(
      base({ signer: 'D007', format: 'p7-attached', timestamp: true }),
      ctx,
      deps,
    );
    const p1 = await signDocument(base({ signer: 'D007', format: 'p1', timestamp: true }), ctx, deps);
    const revokedAt = { value: new Date(signedAt.getTime() + 60_000) };
    const vd: VerifyDeps = {
      ...verifyDeps(w),
      status: {
        ...verifyDeps(w).status,
        async revocation(_ca, serial) {
          const status = w.statuses.get(serial) ?? 'unknown';
          return status === 'revoked'
            ? { status, revokedAt: revokedAt.value, reason: 'keyCompromise' }
            : { status };
        },
      },
    };
    const p7req = { signature: b64(p7.record.signature) };
    const p1req = {
      signature: b64(p1.record.signature),
      data: b64('处方 Rx-0001'),
      certificate: b64(signer.certificate),
      token: b64(p1.record.token!),
    };
    // Good now and then.
    let v = await verifyDocument(p7req, vd);
    assert.equal(v.statusAtSigning.ok, true);
    assert.equal(v.statusAtSigning.timeSource, 'timestamp');
    assert.equal(v.statusAtSigning.time, v.timestamp!.time);
    assert.ok(v.timestamp!.serial);
    w.statuses.set(signer.certSerial, 'revoked');
    // Revoked a minute after signing: revoked now, good when it signed (by the time-stamp).
    for (const req of [p7req, p1req]) {
      v = await verifyDocument(req, vd);
      assert.equal(v.certificateStatus.status, 'revoked');
      assert.equal(v.certificateStatus.revokedAt, revokedAt.value.toISOString());
      assert.equal(v.certificateStatus.reason, 'keyCompromise');
      assert.equal(v.statusAtSigning.ok, true, JSON.stringify(v.statusAtSigning));
      assert.equal(v.statusAtSigning.status, 'good');
      assert.equal(v.statusAtSigning.timeSource, 'timestamp');
      assert.match(v.statusAtSigning.detail!, /revoked since/);
    }
    // Without a token or signingTime, our record's time decides; with neither, it is not judged.
    const bare = { ...p1req, token: undefined };
    v = await verifyDocument(bare, vd, { recordTime: p1.record.createdAt });
    assert.equal(v.statusAtSigning.timeSource, 'record');
    assert.equal(v.statusAtSigning.status, 'good');
    v = await verifyDocument(bare, vd);
    assert.equal(v.statusAtSigning.ok, false);
    assert.equal(v.statusAtSigning.status, 'unknown');
    // Revoked before it signed: revoked then too.
    revokedAt.value = new Date(signedAt.getTime() - 60_000);
    for (const req of [p7req, p1req]) {
      v = await verifyDocument(req, vd);
      assert.equal(v.statusAtSigning.ok, false);
      assert.equal(v.statusAtSigning.status, 'revoked');
      assert.equal(v.statusAtSigning.revokedAt, revokedAt.value.toISOString());
    }
    // Without the revocation time (a status source that only knows "revoked"), the safe side: revoked then.
    v = await verifyDocument(p7req, verifyDeps(w));
    assert.equal(v.statusAtSigning.status, 'revoked');
    // A token over something else does not count as the signing time (and fails the P1 verification).
    v = await verifyDocument({ ...p1req, token: b64(p7.record.token!) }, vd);
    assert.equal(v.timestamp!.ok, false);
    assert.equal(v.valid, false);
    await rejects(verifyDocument({ ...p7req, token: p1req.token }, vd), 'SIGN_DATA_INVALID');
    w.statuses.set(signer.certSerial, 'good');
  });

  test('wrong PINs lock the key; unlock is audited; a locked key is not probed', async () => {
    await enrolSigner(
      { name: '王五', employeeNo: 'D005', departmentCode: '0102', pin: '654321' },
      'op',
      w.deps,
    );
    const req = base({ signer: 'D005', pin: '000000' });
    for (let i = 0; i < 4; i++) await rejects(signDocument(req, ctx, w.deps), 'SIGN_PIN_WRONG');
    await rejects(signDocument(req, ctx, w.deps), 'SIGN_SIGNER_LOCKED');
    await rejects(signDocument({ ...req, pin: '654321' }, ctx, w.deps), 'SIGN_SIGNER_LOCKED');
    assert.ok(w.events.some((e) => e.action === 'signer.locked'));
    await unlockSigner('D005', 'admin:sec', w.deps);
    assert.equal(w.events.at(-1)!.action, 'signer.unlock');
    await rejects(unlockSigner('D005', 'admin:sec', w.deps), 'SIGN_SIGNER_NOT_LOCKED');
    await signDocument({ ...req, pin: '654321' }, ctx, w.deps);
  });

  test('signing authorisations: grant with the PIN, use without it, expiry, revocation, other apps', async () => {
    await enrolSigner(
      { name: '赵六', employeeNo: 'N001', departmentCode: '0201', pin: '135790' },
      'op',
      w.deps,
    );
    const { app } = await createApp({ name: 'Nursing', systemType: 'nursing' }, 'op', w.deps);
    const noPin = base({ signer: 'N001', pin: undefined });
    await rejects(signDocument(noPin, { appId: app.id }, w.deps), 'SIGN_INTENT_REQUIRED');
    await rejects(
      grantAuthorisation({ signer: 'N001', pin: '135790', durationMinutes: 30 }, app.id, w.deps),
      'SIGN_AUTHORISATION_INVALID',
    );
    await rejects(
      grantAuthorisation(
        { signer: 'N001', pin: '135790', durationMinutes: 120, apps: ['app_nope'] },
        app.id,
        w.deps,
      ),
      'SIGN_AUTHORISATION_INVALID',
    );
    await rejects(
      grantAuthorisation({ signer: 'N001', pin: '000000', durationMinutes: 120 }, app.id, w.deps),
      'SIGN_PIN_WRONG',
    );
    const grant = await grantAuthorisation(
      { signer: 'N001', pin: '135790', durationMinutes: 120 },
      app.id,
      w.deps,
    );
    assert.equal(w.events.at(-1)!.action, 'signer.authorise');
    const r = await signDocument(noPin, { appId: app.id, clientIp: '10.0.0.7' }, w.deps);
    assert.equal(w.events.at(-1)!.detail!.intent, `authorisation:${grant.id}`);
    assert.equal(w.events.at(-1)!.detail!.clientIp, '10.0.0.7');
    // The grant's facts are copied into the record: a later revocation cannot blur them.
    assert.deepEqual(r.record.intent, {
      method: 'authorisation',
      authorisationId: grant.id,
      grantedAt: grant.createdAt.toISOString(),
      expiresAt: grant.expiresAt.toISOString(),
      apps: [app.id],
      grantedVia: app.id,
    });
    assert.equal(r.record.clientIp, '10.0.0.7');
    // Another application is not named in it.
    await rejects(signDocument(noPin, { appId: 'app_his' }, w.deps), 'SIGN_INTENT_REQUIRED');
    await rejects(revokeAuthorisation(grant.id, 'app_his', w.deps), 'SIGN_AUTHORISATION_NOT_FOUND');
    // Expiry.
    w.setNow(new Date(Date.now() + 3 * 3_600_000));
    await rejects(signDocument(noPin, { appId: app.id }, w.deps), 'SIGN_AUTHORISATION_EXPIRED');
    w.setNow(new Date());
    // Revocation.
    await revokeAuthorisation(grant.id, app.id, w.deps);
    assert.equal(w.events.at(-1)!.action, 'signer.authorisation-revoke');
    await rejects(signDocument(noPin, { appId: app.id }, w.deps), 'SIGN_AUTHORISATION_EXPIRED');
  });

  test('evidence at signing time: PIN intent, client IP, audit position; sealed originals on request', async () => {
    const r = await signDocument(base({ storeOriginal: true }), { ...ctx, clientIp: '::1' }, w.deps);
    assert.deepEqual(r.record.intent, { method: 'pin' });
    assert.equal(r.record.clientIp, '::1');
    const stored = (await w.deps.store.getSignature(r.record.id))!;
    assert.equal(stored.audit!.seq, w.deps.store.events.length);
    assert.equal(w.deps.store.events.at(-1)!.detail!.originalStored, true);
    const original = (await w.deps.store.getOriginal(r.record.id))!;
    assert.equal(original.size, Buffer.from('处方 Rx-0001').length);
    assert.equal(
      new TextDecoder().decode(await openOriginal(r.record.id, original, w.deps.originals!)),
      '处方 Rx-0001',
    );
    // Bound to its record: it does not open as another record's.
    await assert.rejects(openOriginal('other', original, w.deps.originals!));
    // Without storeOriginal (and no deployment default), nothing is kept; the default turns it on.
    const plain = await signDocument(base(), ctx, w.deps);
    assert.equal(await w.deps.store.getOriginal(plain.record.id), undefined);
    const byDefault = await signDocument(base(), ctx, { ...w.deps, storeOriginals: true });
    assert.ok(await w.deps.store.getOriginal(byDefault.record.id));
    const optedOut = await signDocument(base({ storeOriginal: false }), ctx, {
      ...w.deps,
      storeOriginals: true,
    });
    assert.equal(await w.deps.store.getOriginal(optedOut.record.id), undefined);
    // A digest has no original: asking is a clear error, the default just does not apply.
    const digestReq = base({ data: undefined, digest: bytesToHex(sm3('x')), format: 'p7-detached' });
    const n = w.deps.store.signatures.length;
    await rejects(signDocument({ ...digestReq, storeOriginal: true }, ctx, w.deps), 'SIGN_DATA_INVALID');
    await signDocument(digestReq, ctx, { ...w.deps, storeOriginals: true });
    await rejects(
      signDocument(base({ storeOriginal: true }), ctx, { ...w.deps, originals: undefined }),
      'SIGN_ORIGINALS_UNAVAILABLE',
    );
    assert.equal(w.deps.store.signatures.length, n + 1);
  });

  test('timestamp: true embeds an RFC 3161 token over the signature value (P7) / returns it (P1)', async () => {
    const stamper = testTimeStamper(w.h, w.deps.clock.now);
    const deps = { ...w.deps, timeStamper: stamper };
    const r = await signDocument(base({ format: 'p7-detached', timestamp: true }), ctx, deps);
    assert.ok(r.record.token);
    const res = verifyCms(r.record.signature, {
      content: Buffer.from('处方 Rx-0001'),
      anchors: [w.h.root.cert],
      extraCertificates: [w.h.intermediate.cert],
    });
    assert.ok(res.valid, res.errors.join('; '));
    assert.ok(res.signers[0]!.timestamp?.valid);
    const v = await verifyDocument({ data: base().data, signature: b64(r.record.signature) }, verifyDeps(w));
    assert.ok(v.valid && v.timestamp?.ok, v.errors.join('; '));
    const p1 = await signDocument(base({ format: 'p1', timestamp: true }), ctx, deps);
    const tv = verifyTimeStampToken(p1.record.token!, {
      data: p1.record.signature,
      anchors: [w.h.root.cert],
    });
    assert.ok(tv.valid, tv.errors.join('; '));
  });

  test('Bouncy Castle verifies P7 (with and without token, both OID styles) and P1', async (t) => {
    const dir = tempDir('medsign-sign-bc-');
    try {
      const deps = { ...w.deps, timeStamper: testTimeStamper(w.h, w.deps.clock.now) };
      const data = join(dir.path, 'data.txt');
      writeFileSync(data, '处方 Rx-0001');
      const ca = join(dir.path, 'root.pem');
      writeFileSync(ca, w.h.root.cert.toPem() + w.h.intermediate.cert.toPem());
      for (const [format, oids, timestamp] of [
        ['p7-detached', 'rfc5652', false],
        ['p7-detached', 'rfc5652', true],
        ['p7-attached', 'gm', false],
        ['p7-detached', 'gm', true],
      ] as const) {
        const r = await signDocument(base({ format, oids, timestamp }), ctx, deps);
        const file = join(dir.path, `${format}-${oids}-${timestamp}.p7s`);
        writeFileSync(file, r.record.signature);
        const res = peerOrSkip(t, ['cms-verify', file, data, '--ca', ca]);
        if (!res) return;
        assert.equal(res.code, 0, `${format}/${oids}/${timestamp}: ${res.stdout}`);
      }
      const p1 = await signDocument(base({ format: 'p1' }), ctx, deps);
      const cert = join(dir.path, 'signer.pem');
      writeFileSync(cert, p1.certificate.toPem());
      const sig = join(dir.path, 'p1.sig');
      writeFileSync(sig, p1.record.signature);
      const res = peerOrSkip(t, ['sig-verify', cert, data, sig]);
      if (!res) return;
      assert.equal(res.code, 0, res.stdout);
    } finally {
      dir.cleanup();
    }
  });
});

describe('pre-made (USB-key) signatures', () => {
  let w: MemoryWorld;
  const ctx = { appId: 'app_his', clientIp: '10.9.8.7' };
  const text = '检验报告 LIS-0042';
  let usbKey: PrivateKey;
  let usbCert: ParsedCertificate;

  /** A certificate of our intermediate CA for a key held by the test (the USB key), recorded by the CA. */
  async function usbCertificate(
    key: PrivateKey,
    name: string,
    employeeNo?: string,
    issuer = w.h.intermediate,
  ) {
    const e = await issueTestCertificate({
      subject: [
        ['C', 'CN'],
        ['CN', name],
      ],
      key,
      issuer,
    });
    w.statuses.set(e.cert.serialNumber, 'good');
    w.issued.set(e.cert.serialNumber, {
      der: e.cert.der,
      status: 'good',
      ...(employeeNo ? { employeeNo } : {}),
    });
    return ParsedCertificate.parse(e.cert.der);
  }

  before(async () => {
    w = await makeWorld();
    await enrolSigner(
      { name: '孙八', employeeNo: 'L001', departmentCode: '0301', pin: '123456' },
      'op',
      w.deps,
    );
    usbKey = PrivateKey.generate('sm2');
    usbCert = await usbCertificate(usbKey, '孙八', 'L001');
  });

  test('P1 (SM2 r‖s as SKF returns it) and P7 are verified and recorded with intent usbkey', async () => {
    const der = await usbKey.signer().sign(new TextEncoder().encode(text));
    const raw = sm2SignatureToRaw(der);
    const p1 = await recordPremadeSignature(
      {
        signer: 'L001',
        format: 'p1',
        data: b64(text),
        signature: b64(raw),
        certificate: usbCert.toPem(),
        metadata: { docType: 'lab-report', docId: 'LIS-0042' },
        storeOriginal: true,
      },
      ctx,
      w.deps,
      verifyDeps(w),
    );
    assert.equal(p1.record.certSerial, usbCert.serialNumber);
    assert.equal(p1.record.caId, 'test');
    assert.deepEqual(p1.record.intent, { method: 'usbkey' });
    assert.equal(p1.record.clientIp, '10.9.8.7');
    assert.equal(p1.record.digest, bytesToHex(sm3(text)));
    assert.equal(p1.certificate.serialNumber, usbCert.serialNumber);
    assert.ok(await w.deps.store.getOriginal(p1.record.id));
    assert.equal(w.events.at(-1)!.detail!.intent, 'usbkey');
    // Recorded as DER; it verifies like a server-made P1.
    const v = await verifyDocument(
      { signature: b64(p1.record.signature), data: b64(text), certificate: usbCert.toPem() },
      verifyDeps(w),
      { recordTime: p1.record.createdAt },
    );
    assert.equal(v.valid, true, v.errors.join('; '));
    assert.equal(v.statusAtSigning.timeSource, 'record');

    const cms = await signCms({
      content: new TextEncoder().encode(text),
      detached: true,
      signers: [{ signer: usbKey.signer(), certificate: usbCert }],
      certificates: [usbCert],
    });
    const deps = { ...w.deps, timeStamper: testTimeStamper(w.h, w.deps.clock.now) };
    const p7 = await recordPremadeSignature(
      { signer: 'L001', format: 'p7-detached', data: b64(text), signature: b64(cms), timestamp: true },
      ctx,
      deps,
      verifyDeps(w),
    );
    assert.ok(p7.record.token);
    const v7 = await verifyDocument({ signature: b64(p7.record.signature), data: b64(text) }, verifyDeps(w));
    assert.equal(v7.valid, true, v7.errors.join('; '));
    assert.equal(v7.timestamp?.ok, true);
    assert.equal(v7.statusAtSigning.timeSource, 'timestamp');
    // Idempotent like /sign.
    const idem = { ...ctx, idempotency: { key: 'usb-1', requestHash: 'h' } };
    const req = { signer: 'L001', format: 'p7-detached' as const, data: b64(text), signature: b64(cms) };
    const a = await recordPremadeSignature(req, idem, w.deps, verifyDeps(w));
    const b = await recordPremadeSignature(req, idem, w.deps, verifyDeps(w));
    assert.equal(b.replayed, true);
    assert.equal(b.record.id, a.record.id);
    assert.equal(b.certificate.serialNumber, usbCert.serialNumber);
  });

  test('forged, foreign, another signer’s, revoked: clear codes, nothing recorded', async () => {
    const n = w.deps.store.signatures.length;
    const events = w.events.length;
    const sig = b64(await usbKey.signer().sign(new TextEncoder().encode(text)));
    const p1 = {
      signer: 'L001',
      format: 'p1' as const,
      data: b64(text),
      signature: sig,
      certificate: usbCert.toPem(),
    };
    const vd = verifyDeps(w);
    // Forged: over other data, garbage, bad base64, a P1 without its certificate, a P7 that is not one.
    await rejects(
      recordPremadeSignature({ ...p1, data: b64('其他') }, ctx, w.deps, vd),
      'SIGN_PREMADE_SIGNATURE_INVALID',
    );
    await rejects(
      recordPremadeSignature({ ...p1, signature: b64(new Uint8Array(70)) }, ctx, w.deps, vd),
      'SIGN_PREMADE_SIGNATURE_INVALID',
    );
    await rejects(
      recordPremadeSignature({ ...p1, signature: 'not base64!' }, ctx, w.deps, vd),
      'SIGN_PREMADE_SIGNATURE_INVALID',
    );
    await rejects(
      recordPremadeSignature({ ...p1, certificate: undefined }, ctx, w.deps, vd),
      'SIGN_PREMADE_SIGNATURE_INVALID',
    );
    await rejects(
      recordPremadeSignature({ ...p1, certificate: b64('junk') }, ctx, w.deps, vd),
      'SIGN_PREMADE_SIGNATURE_INVALID',
    );
    await rejects(
      recordPremadeSignature({ ...p1, format: 'p7-detached' }, ctx, w.deps, vd),
      'SIGN_PREMADE_SIGNATURE_INVALID',
    );
    // Signed by another key than the certificate's.
    const other = PrivateKey.generate('sm2');
    const forged = b64(await other.signer().sign(new TextEncoder().encode(text)));
    await rejects(
      recordPremadeSignature({ ...p1, signature: forged }, ctx, w.deps, vd),
      'SIGN_PREMADE_SIGNATURE_INVALID',
    );
    // A certificate of another CA (a hierarchy of its own), though the signature verifies under it.
    const foreign = await makeHierarchy('sm2');
    const foreignCert = await usbCertificate(other, '孙八', 'L001', foreign.intermediate);
    await rejects(
      recordPremadeSignature({ ...p1, signature: forged, certificate: foreignCert.toPem() }, ctx, w.deps, vd),
      'SIGN_PREMADE_CERT_UNTRUSTED',
    );
    // Ours, but issued to someone else (by the CA's record; by the subject's name without one).
    const someone = PrivateKey.generate('sm2');
    const theirs = b64(await someone.signer().sign(new TextEncoder().encode(text)));
    for (const cert of [await usbCertificate(someone, '孙八', 'L999'), await usbCertificate(someone, '周九')])
      await rejects(
        recordPremadeSignature({ ...p1, signature: theirs, certificate: cert.toPem() }, ctx, w.deps, vd),
        'SIGN_PREMADE_SIGNER_MISMATCH',
      );
    // Unknown to the CA, revoked, on hold.
    const unknownCert = await usbCertificate(someone, '孙八', 'L001');
    w.issued.delete(unknownCert.serialNumber);
    w.statuses.delete(unknownCert.serialNumber);
    await rejects(
      recordPremadeSignature({ ...p1, signature: theirs, certificate: unknownCert.toPem() }, ctx, w.deps, vd),
      'SIGN_PREMADE_CERT_UNTRUSTED',
    );
    w.statuses.set(usbCert.serialNumber, 'revoked');
    await rejects(recordPremadeSignature(p1, ctx, w.deps, vd), 'SIGN_CERT_REVOKED');
    w.statuses.set(usbCert.serialNumber, 'hold');
    await rejects(recordPremadeSignature(p1, ctx, w.deps, vd), 'SIGN_CERT_ON_HOLD');
    w.statuses.set(usbCert.serialNumber, 'good');
    await rejects(
      recordPremadeSignature({ ...p1, signer: 'NOPE' }, ctx, w.deps, vd),
      'SIGN_SIGNER_NOT_FOUND',
    );
    await rejects(
      recordPremadeSignature({ ...p1, format: 'p9' as never }, ctx, w.deps, vd),
      'SIGN_DATA_INVALID',
    );
    assert.equal(w.deps.store.signatures.length, n);
    assert.equal(w.events.length, events);
    // And the genuine one still goes through.
    await recordPremadeSignature(p1, ctx, w.deps, vd);
    assert.equal(w.deps.store.signatures.length, n + 1);
  });
});

describe('evidence (memory ports)', () => {
  let w: MemoryWorld;
  let broken = 0;
  const ctx = { appId: 'app_emr', clientIp: '10.3.4.5' };
  const text = '病程记录 EMR-9';

  /** The memory audit log as a chain reader: seq = position, hash a stand-in; `broken` breaks it there. */
  function evidenceDeps(): EvidenceDeps {
    const chained = () =>
      w.events.map((e, i) => ({
        seq: i + 1,
        hash: `h${i + 1}`,
        prevHash: i ? `h${i}` : '0',
        time: new Date(0).toISOString(),
        actor: e.actor,
        action: e.action,
        target: e.target ?? null,
        detail: (e.detail ?? {}) as Record<string, unknown>,
      }));
    return {
      ...w.deps,
      verify: verifyDeps(w),
      auditLog: {
        byTarget: async (target, action) =>
          chained().filter((e) => e.target === target && (!action || e.action === action)),
        verifyUpTo: async (seq) =>
          broken && broken <= seq
            ? { ok: false, checked: broken, firstBreak: `event ${broken}: edited` }
            : { ok: true, checked: seq },
      },
    };
  }

  before(async () => {
    w = await makeWorld();
    await w.deps.store.insertApp({
      id: 'app_emr',
      name: 'EMR',
      systemType: 'EMR',
      ownerDepartment: null,
      operations: ['sign', 'verify', 'read'],
      ipRanges: [],
      rateLimit: 100,
      sealedSecret: new Uint8Array(1),
      status: 'active',
      createdAt: new Date(),
    });
    await enrolSigner(
      { name: '吴十', employeeNo: 'E010', departmentCode: '0501', pin: '123456' },
      'op:bob',
      w.deps,
    );
  });

  test('a PIN signature with its stored original: all four statements, audited', async () => {
    const r = await signDocument(
      { signer: 'E010', pin: '123456', data: b64(text), format: 'p1', storeOriginal: true },
      ctx,
      w.deps,
    );
    const e = await buildEvidence(
      r.record.id,
      { actor: 'app:app_emr', baseUrl: 'https://sign.example/' },
      evidenceDeps(),
    );
    assert.equal(e.ok, true, JSON.stringify(e, null, 1));
    assert.equal(e.identity.review.method, 'signer-enrolment');
    assert.match(e.identity.review.summary, /op:bob/);
    assert.equal(e.identity.statusAtSigning.timeSource, 'record');
    assert.equal(e.intent.method, 'pin');
    assert.equal(e.intent.clientIp, '10.3.4.5');
    assert.deepEqual(e.intent.application, { id: 'app_emr', name: 'EMR', systemType: 'EMR' });
    assert.equal(e.signatureIntact.checkedOver, 'data');
    assert.equal(e.originalIntact.source, 'stored');
    assert.equal(e.timestamp, null);
    assert.equal(e.verification.url, `https://sign.example/verify/${r.record.id}`);
    assert.equal(w.events.at(-1)!.action, 'sign.evidence');
    assert.equal(w.events.at(-1)!.detail!.reportId, e.reportId);
    // A supplied original that differs: the P1 signature does not cover it.
    const other = await buildEvidence(r.record.id, { actor: 'a', data: b64('别的') }, evidenceDeps());
    assert.equal(other.originalIntact.ok, false);
    assert.equal(other.signatureIntact.ok, false);
    assert.equal(other.ok, false);
    await rejects(
      buildEvidence(r.record.id, { actor: 'a', data: 'not base64!' }, evidenceDeps()),
      'SIGN_DATA_INVALID',
    );
    await rejects(buildEvidence('nope', { actor: 'a' }, evidenceDeps()), 'SIGN_SIGNATURE_NOT_FOUND');
  });

  test('a record from before evidence capture: intent and audit position from its audit event', async () => {
    const grant = await grantAuthorisation(
      { signer: 'E010', pin: '123456', durationMinutes: 60 },
      'app_emr',
      w.deps,
    );
    const r = await signDocument({ signer: 'E010', data: b64(text) }, ctx, w.deps);
    // As an older release stored it: no intent, client IP or audit position on the record.
    const legacy = w.deps.store.signatures.find((x) => x.id === r.record.id)!;
    delete legacy.intent;
    delete legacy.clientIp;
    delete legacy.audit;
    const e = await buildEvidence(r.record.id, { actor: 'a' }, evidenceDeps());
    assert.equal(e.intent.method, 'authorisation');
    assert.equal(e.intent.authorisation?.id, grant.id);
    assert.equal(e.intent.authorisation?.expiresAt, grant.expiresAt.toISOString());
    assert.equal(e.intent.authorisation?.inForce, true);
    assert.equal(e.intent.clientIp, null);
    assert.ok(e.intent.audit.seq);
    assert.equal(e.intent.audit.matches, true);
    assert.equal(e.intent.ok, true);
    // Detached P7 without an original: checked over its signed attributes; 原文未改 not checked.
    assert.equal(e.signatureIntact.checkedOver, 'signed-attributes');
    assert.equal(e.signatureIntact.ok, true);
    assert.equal(e.originalIntact.ok, null);
    assert.equal(e.ok, true);
    // The chain breaking before the record's event fails the intent (and the whole).
    broken = e.intent.audit.seq! - 1;
    const b = await buildEvidence(r.record.id, { actor: 'a' }, evidenceDeps());
    broken = 0;
    assert.equal(b.intent.audit.chainVerified, false);
    assert.match(b.intent.audit.detail!, /edited/);
    assert.equal(b.intent.ok, false);
    assert.equal(b.ok, false);
  });
});

test('intentOfText reads the audit wording of every intent, and nothing else', () => {
  assert.deepEqual(intentOfText('pin'), { method: 'pin' });
  assert.deepEqual(intentOfText('usbkey'), { method: 'usbkey' });
  assert.deepEqual(intentOfText('authorisation:a-1'), { method: 'authorisation', authorisationId: 'a-1' });
  assert.deepEqual(intentOfText('job:j-9/pin'), { method: 'pin', job: 'j-9' });
  assert.deepEqual(intentOfText('job:j-9/authorisation:a-1'), {
    method: 'authorisation',
    authorisationId: 'a-1',
    job: 'j-9',
  });
  for (const bad of [undefined, 42, '', 'PIN', 'authorisation:', 'job:/pin', 'job:j-9/usbkey', 'pin '])
    assert.equal(intentOfText(bad), null, String(bad));
  for (const text of ['pin', 'usbkey', 'authorisation:a-1', 'job:j-9/pin', 'job:j-9/authorisation:a-1'])
    assert.equal(intentText(intentOfText(text)!), text);
});
