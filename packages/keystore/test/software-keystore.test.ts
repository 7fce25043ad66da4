/**
 * The software keystore over the memory repository: generate / import / sign / verify for every key
 * type, audit events (digests, never secrets), tamper and swap detection, concurrency, close().
 */

import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { bytesToHex, SM2PrivateKey, Sm2SignerPool, sm3 } from '@medsign/gm';
import { PrivateKey, verifySignature, type KeyType, type SignatureAlgorithmName } from '@medsign/pki';
import {
  describeEnvelope,
  KEK_HEADER_ID,
  MemoryKeyRecordRepository,
  openSoftwareKeyStore,
  passphraseKek,
  type KeyRecord,
  type KeyStore,
  type SoftwareKeyStore,
} from '../src/index.js';
import { CountingRepository, FAST_SCRYPT, PASSPHRASE, recorder, rejectsWith } from './helpers.js';

const data = new TextEncoder().encode('处方 Rx#20240501-0042: amoxicillin 500 mg');

async function openMemory(extra: Partial<Parameters<typeof openSoftwareKeyStore>[0]> = {}) {
  const records = new MemoryKeyRecordRepository();
  const audit = recorder();
  const ks = await openSoftwareKeyStore({
    records,
    kek: passphraseKek(PASSPHRASE, FAST_SCRYPT),
    audit: audit.hook,
    ...extra,
  });
  return { ks, records, audit };
}

/** A copy of `records` with `change` applied to the records it returns (tampering in storage). */
async function tamperedCopy(
  records: MemoryKeyRecordRepository,
  change: (all: KeyRecord[]) => void,
): Promise<MemoryKeyRecordRepository> {
  const all = await records.list();
  change(all);
  return new MemoryKeyRecordRepository(all);
}

describe('SoftwareKeyStore: generate, sign, verify', () => {
  const cases: [KeyType, SignatureAlgorithmName][] = [
    ['sm2', 'SM3withSM2'],
    ['rsa-2048', 'SHA256withRSA'],
    ['ec-p256', 'SHA256withECDSA'],
    ['ec-p384', 'SHA384withECDSA'],
  ];
  for (const [type, alg] of cases) {
    test(`${type}: handle, default ${alg}, signature verifies with pki`, async () => {
      const { ks, audit } = await openMemory();
      const h = await ks.generate(type, `test ${type}`, { role: 'ca' });
      assert.equal(h.algorithm, type);
      assert.equal(h.label, `test ${type}`);
      assert.deepEqual(await ks.get(h.id), h);
      const signer = await ks.signer(h.id, 'unit test');
      assert.equal(signer.algorithm, alg);
      assert.deepEqual(signer.publicKeyInfo, h.publicKeyInfo);
      const sig = await signer.sign(data);
      assert.ok(verifySignature(h.publicKeyInfo, alg, data, sig));
      assert.ok(!verifySignature(h.publicKeyInfo, alg, data.subarray(1), sig));
      assert.deepEqual(
        audit.events.map((e) => e.action),
        ['key.generate', 'key.sign'],
      );
      await ks.close();
    });
  }

  test('RSA-PSS on request; an algorithm that does not fit the key is KEYSTORE_ALGORITHM_MISMATCH', async () => {
    const { ks } = await openMemory();
    const rsa = await ks.generate('rsa-2048', 'rsa');
    const pss = await ks.signer(rsa.id, 'pss', 'SHA256withRSAPSS');
    assert.ok(verifySignature(rsa.publicKeyInfo, 'SHA256withRSAPSS', data, await pss.sign(data)));
    const sm2 = await ks.generate('sm2', 'sm2');
    await rejectsWith(() => ks.signer(sm2.id, 'x', 'SHA256withRSA'), 'KEYSTORE_ALGORITHM_MISMATCH');
    await ks.close();
  });

  test('list() holds every key (oldest first) and never the __kek__ header', async () => {
    let t = Date.UTC(2024, 0, 1);
    const { ks } = await openMemory({ clock: { now: () => new Date((t += 1000)) } });
    const a = await ks.generate('sm2', 'a');
    const b = await ks.generate('ec-p256', 'b');
    assert.deepEqual(
      (await ks.list()).map((h) => h.id),
      [a.id, b.id],
    );
    assert.equal(await ks.get(KEK_HEADER_ID), undefined);
    assert.equal(await ks.get('no-such-id'), undefined);
    await rejectsWith(() => ks.signer(KEK_HEADER_ID, 'x'), 'KEYSTORE_KEY_NOT_FOUND');
    await rejectsWith(() => ks.signer('no-such-id', 'x'), 'KEYSTORE_KEY_NOT_FOUND');
    await ks.close();
  });

  test('labels are unique, also between concurrent generate calls', async () => {
    const { ks } = await openMemory();
    await ks.generate('sm2', 'issuing CA');
    await rejectsWith(() => ks.generate('ec-p256', 'issuing CA'), 'KEYSTORE_LABEL_EXISTS');
    const results = await Promise.allSettled([ks.generate('sm2', 'tsa'), ks.generate('sm2', 'tsa')]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    assert.equal((await ks.list()).filter((h) => h.label === 'tsa').length, 1);
    await ks.close();
  });

  test('bad arguments are KEYSTORE_INVALID_ARGUMENT', async () => {
    const { ks } = await openMemory();
    await rejectsWith(() => ks.generate('dsa' as KeyType, 'x'), 'KEYSTORE_INVALID_ARGUMENT');
    await rejectsWith(() => ks.generate('sm2', ''), 'KEYSTORE_INVALID_ARGUMENT');
    await rejectsWith(() => ks.generate('sm2', 'a\nb'), 'KEYSTORE_INVALID_ARGUMENT');
    await rejectsWith(
      () => ks.generate('sm2', 'x', { n: 1 } as unknown as Record<string, string>),
      'KEYSTORE_INVALID_ARGUMENT',
    );
    const h = await ks.generate('sm2', 'ok');
    await rejectsWith(() => ks.signer(h.id, ''), 'KEYSTORE_INVALID_ARGUMENT');
    await ks.close();
  });
});

describe('SoftwareKeyStore: import', () => {
  test('an imported SM2 key signs under its own public key; re-import is KEYSTORE_KEY_EXISTS', async () => {
    const { ks, audit } = await openMemory();
    const original = PrivateKey.generate('sm2');
    const pkcs8 = original.toPkcs8();
    const h = await ks.importKey(pkcs8, 'migrated SM2 root', { source: 'legacy CA' });
    assert.deepEqual(h.publicKeyInfo, original.publicKeyInfo);
    assert.deepEqual(pkcs8, original.toPkcs8(), "the caller's PKCS#8 is left untouched");
    const sig = await (await ks.signer(h.id, 'issue')).sign(data);
    assert.ok(verifySignature(original.publicKeyInfo, 'SM3withSM2', data, sig));
    await rejectsWith(() => ks.importKey(pkcs8, 'again'), 'KEYSTORE_KEY_EXISTS');
    assert.equal(audit.events[0]?.action, 'key.import');
    assert.equal(
      (audit.events[0] as { publicKeyDigest: string }).publicKeyDigest,
      bytesToHex(sm3(original.publicKeyInfo)),
    );
    await ks.close();
  });

  test('RSA-3072 and P-384 imports keep their types', async () => {
    const { ks } = await openMemory();
    for (const type of ['rsa-3072', 'ec-p384'] as const) {
      const key = PrivateKey.generate(type);
      const h = await ks.importKey(key.toPkcs8(), type);
      assert.equal(h.algorithm, type);
      const s = await ks.signer(h.id, 'p');
      assert.ok(verifySignature(h.publicKeyInfo, s.algorithm, data, await s.sign(data)));
    }
    await ks.close();
  });

  test('unreadable or unsupported keys are KEYSTORE_INVALID_KEY', async () => {
    const { ks } = await openMemory();
    await rejectsWith(
      () => ks.importKey(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), 'x'),
      'KEYSTORE_INVALID_KEY',
    );
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
      format: 'der',
      type: 'pkcs8',
    });
    await rejectsWith(() => ks.importKey(new Uint8Array(rsa1024), 'weak'), 'KEYSTORE_INVALID_KEY');
    assert.equal((await ks.list()).length, 0);
    await ks.close();
  });
});

describe('SoftwareKeyStore: audit', () => {
  test('events carry ids, purpose and SM3 digests — never key bytes, data or the passphrase', async () => {
    const { ks, audit } = await openMemory();
    const sm2 = SM2PrivateKey.generate();
    const sm2Pkcs8 = sm2.toPkcs8();
    const scalar = sm2.toBytes();
    const rsa = PrivateKey.generate('rsa-2048');
    const rsaPkcs8 = rsa.toPkcs8();
    const h1 = await ks.importKey(sm2Pkcs8, 'sm2 import');
    const h2 = await ks.importKey(rsaPkcs8, 'rsa import');
    const h3 = await ks.generate('ec-p256', 'generated');
    for (const h of [h1, h2, h3]) await (await ks.signer(h.id, `OCSP response for ${h.label}`)).sign(data);

    const signs = audit.events.filter((e) => e.action === 'key.sign');
    assert.equal(signs.length, 3);
    for (const e of signs) {
      assert.equal(e.dataDigest, bytesToHex(sm3(data)));
      assert.match(e.purpose, /^OCSP response for /);
      assert.ok(e.at instanceof Date);
    }
    assert.deepEqual(
      signs.map((e) => e.algorithm),
      ['SM3withSM2', 'SHA256withRSA', 'SHA256withECDSA'],
    );

    const json = JSON.stringify(audit.events);
    for (const secret of [sm2Pkcs8, scalar, rsaPkcs8]) {
      assert.ok(!json.includes(bytesToHex(secret)), 'hex of key material in events');
      assert.ok(!json.includes(Buffer.from(secret).toString('base64')), 'base64 of key material in events');
      assert.ok(
        !json.includes(JSON.stringify(Array.from(secret)).slice(1, 40)),
        'byte array of key material',
      );
    }
    assert.ok(!json.includes(bytesToHex(data)) && !json.includes('amoxicillin'), 'signed data in events');
    assert.ok(!json.includes(PASSPHRASE) && !json.includes('battery'), 'passphrase in events');
    await ks.close();
  });

  test('a failing audit hook withholds the signature', async () => {
    let fail = false;
    const { ks } = await openMemory({
      audit: () => {
        if (fail) throw new Error('audit log unavailable');
      },
    });
    const h = await ks.generate('sm2', 'k');
    const s = await ks.signer(h.id, 'p');
    fail = true;
    await assert.rejects(() => s.sign(data), /audit log unavailable/);
    fail = false;
    assert.ok(verifySignature(h.publicKeyInfo, 'SM3withSM2', data, await s.sign(data)));
    await ks.close();
  });
});

describe('SoftwareKeyStore: records are bound and authenticated', () => {
  let records: MemoryKeyRecordRepository;
  let ids: string[];

  before(async () => {
    const opened = await openMemory();
    records = opened.records;
    ids = [(await opened.ks.generate('sm2', 'one')).id, (await opened.ks.generate('sm2', 'two')).id];
    await opened.ks.close();
  });

  const reopen = (repo: MemoryKeyRecordRepository) =>
    openSoftwareKeyStore({ records: repo, kek: passphraseKek(PASSPHRASE) });

  test('the untouched copy opens and signs', async () => {
    const ks = await reopen(await tamperedCopy(records, () => undefined));
    for (const id of ids) await (await ks.signer(id, 'p')).sign(data);
    await ks.close();
  });

  test('a flipped ciphertext or tag bit is KEYSTORE_CORRUPT_RECORD', async () => {
    for (const where of [20, -1] as const) {
      const repo = await tamperedCopy(records, (all) => {
        const r = all.find((x) => x.id === ids[0])!;
        const i = where < 0 ? r.encrypted.length + where : where;
        r.encrypted[i]! ^= 0x01;
      });
      const ks = await reopen(repo);
      await rejectsWith(() => ks.signer(ids[0]!, 'p'), 'KEYSTORE_CORRUPT_RECORD');
      await (await ks.signer(ids[1]!, 'p')).sign(data);
      await ks.close();
    }
  });

  test('a blob swapped between two records is KEYSTORE_CORRUPT_RECORD (AAD binds id and public key)', async () => {
    const repo = await tamperedCopy(records, (all) => {
      const a = all.find((x) => x.id === ids[0])!;
      const b = all.find((x) => x.id === ids[1])!;
      [a.encrypted, b.encrypted] = [b.encrypted, a.encrypted];
    });
    const ks = await reopen(repo);
    await rejectsWith(() => ks.signer(ids[0]!, 'p'), 'KEYSTORE_CORRUPT_RECORD');
    await rejectsWith(() => ks.signer(ids[1]!, 'p'), 'KEYSTORE_CORRUPT_RECORD');
    await ks.close();
  });

  test('a blob and public key moved together under another id still fail (the id is bound)', async () => {
    const repo = await tamperedCopy(records, (all) => {
      const a = all.find((x) => x.id === ids[0])!;
      const b = all.find((x) => x.id === ids[1])!;
      b.encrypted = a.encrypted;
      b.publicKeyInfo = a.publicKeyInfo;
    });
    const ks = await reopen(repo);
    await rejectsWith(() => ks.signer(ids[1]!, 'p'), 'KEYSTORE_CORRUPT_RECORD');
    await ks.close();
  });

  test('a replaced public key or algorithm is KEYSTORE_CORRUPT_RECORD', async () => {
    const other = PrivateKey.generate('sm2').publicKeyInfo;
    const ks1 = await reopen(
      await tamperedCopy(records, (all) => {
        all.find((x) => x.id === ids[0])!.publicKeyInfo = other;
      }),
    );
    await rejectsWith(() => ks1.signer(ids[0]!, 'p'), 'KEYSTORE_CORRUPT_RECORD');
    await ks1.close();
    const ks2 = await reopen(
      await tamperedCopy(records, (all) => {
        all.find((x) => x.id === ids[0])!.algorithm = 'ec-p256';
      }),
    );
    await rejectsWith(() => ks2.signer(ids[0]!, 'p'), 'KEYSTORE_CORRUPT_RECORD');
    await ks2.close();
  });

  test('keys without their __kek__ header are refused at open, never given a new KEK', async () => {
    const repo = await tamperedCopy(records, (all) => {
      all.splice(
        all.findIndex((r) => r.id === KEK_HEADER_ID),
        1,
      );
    });
    await rejectsWith(() => reopen(repo), 'KEYSTORE_CORRUPT_RECORD');
  });

  test('a tampered header (absurd scrypt cost) is KEYSTORE_CORRUPT_RECORD, not a hang', async () => {
    const repo = await tamperedCopy(records, (all) => {
      all.find((r) => r.id === KEK_HEADER_ID)!.metadata.N = String(2 ** 30);
    });
    await rejectsWith(() => reopen(repo), 'KEYSTORE_CORRUPT_RECORD');
  });

  test('a wrong passphrase is KEYSTORE_WRONG_PASSPHRASE at open, before any key record is read', async () => {
    const counting = new CountingRepository(await tamperedCopy(records, () => undefined));
    const e = await rejectsWith(
      () => openSoftwareKeyStore({ records: counting, kek: passphraseKek('correct horse battery stapler') }),
      'KEYSTORE_WRONG_PASSPHRASE',
    );
    assert.deepEqual(counting.calls, [`get:${KEK_HEADER_ID}`]);
    assert.ok(!e.message.includes('stapler') && !e.message.includes('horse'));
  });
});

describe('SoftwareKeyStore: ciphers, concurrency, health, close', () => {
  test('AES-256-GCM on request; SM4-GCM records stay readable beside it', async () => {
    const records = new MemoryKeyRecordRepository();
    const sm4 = await openSoftwareKeyStore({ records, kek: passphraseKek(PASSPHRASE, FAST_SCRYPT) });
    const a = await sm4.generate('sm2', 'sealed with sm4');
    await sm4.close();
    const aes = await openSoftwareKeyStore({
      records,
      kek: passphraseKek(PASSPHRASE),
      cipher: 'aes-256-gcm',
    });
    assert.equal(aes.cipher, 'aes-256-gcm');
    const b = await aes.generate('ec-p256', 'sealed with aes');
    const byId = new Map((await records.list()).map((r) => [r.id, r]));
    assert.equal(describeEnvelope(byId.get(a.id)!.encrypted)?.cipher, 'sm4-gcm');
    assert.equal(describeEnvelope(byId.get(b.id)!.encrypted)?.cipher, 'aes-256-gcm');
    await aes.close();
    const again = await openSoftwareKeyStore({ records, kek: passphraseKek(PASSPHRASE) });
    for (const h of [a, b]) {
      const s = await again.signer(h.id, 'p');
      assert.ok(verifySignature(h.publicKeyInfo, s.algorithm, data, await s.sign(data)));
    }
    await again.close();
  });

  test('concurrent signer() and sign() calls: one decryption, every signature verifies', async () => {
    const inner = new MemoryKeyRecordRepository();
    const base = await openSoftwareKeyStore({ records: inner, kek: passphraseKek(PASSPHRASE, FAST_SCRYPT) });
    const sm2 = await base.generate('sm2', 'sm2');
    const rsa = await base.generate('rsa-2048', 'rsa');
    await base.close();
    const counting = new CountingRepository(inner);
    const audit = recorder();
    const ks = await openSoftwareKeyStore({
      records: counting,
      kek: passphraseKek(PASSPHRASE),
      audit: audit.hook,
    });
    const signers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => ks.signer(i % 2 ? rsa.id : sm2.id, `job ${i}`)),
    );
    assert.equal(counting.calls.filter((c) => c === `get:${sm2.id}`).length, 1);
    assert.equal(counting.calls.filter((c) => c === `get:${rsa.id}`).length, 1);
    const messages = Array.from({ length: 100 }, (_, i) => new TextEncoder().encode(`document ${i}`));
    const sigs = await Promise.all(messages.map((m, i) => signers[i % signers.length]!.sign(m)));
    sigs.forEach((sig, i) => {
      const s = signers[i % signers.length]!;
      assert.ok(verifySignature(s.publicKeyInfo, s.algorithm, messages[i]!, sig), `signature ${i}`);
    });
    assert.equal(audit.events.length, 100);
    await ks.close();
  });

  test('with an Sm2SignerPool, SM2 keys sign on its threads (audited as before); RSA stays in-thread', async () => {
    const pool = new Sm2SignerPool({ size: 1 });
    try {
      const { ks, audit } = await openMemory({ sm2Pool: pool });
      const sm2 = await ks.generate('sm2', 'pooled sm2');
      const rsa = await ks.generate('rsa-2048', 'rsa beside it');
      for (const h of [sm2, rsa]) {
        const signer = await ks.signer(h.id, 'pool test');
        const sigs = await Promise.all([1, 2, 3].map(() => signer.sign(data)));
        for (const sig of sigs) assert.ok(verifySignature(h.publicKeyInfo, signer.algorithm, data, sig));
      }
      assert.equal(audit.events.filter((e) => e.action === 'key.sign').length, 6);
      await ks.close();
    } finally {
      await pool.close();
    }
  });

  test('health() reports ok while open and not after close()', async () => {
    const { ks } = await openMemory();
    await ks.generate('sm2', 'k');
    const h = await ks.health();
    assert.equal(h.ok, true, h.detail);
    assert.match(h.detail, /1 key\(s\).*sm4-gcm/);
    await ks.close();
    assert.equal((await ks.health()).ok, false);
  });

  test('health() reports a failing repository without throwing', async () => {
    const inner = new MemoryKeyRecordRepository();
    let broken = false;
    const repo = {
      put: (r: KeyRecord) => inner.put(r),
      get: (id: string) => inner.get(id),
      list: () =>
        broken ? Promise.reject(Object.assign(new Error('down'), { code: 'ECONNREFUSED' })) : inner.list(),
    };
    const ks = await openSoftwareKeyStore({ records: repo, kek: passphraseKek(PASSPHRASE, FAST_SCRYPT) });
    broken = true;
    assert.deepEqual(await ks.health(), {
      ok: false,
      detail: 'software keystore: repository unavailable (ECONNREFUSED)',
    });
    await ks.close();
  });

  test('close() destroys cached keys: handed-out signers and every method fail with KEYSTORE_CLOSED', async () => {
    const { ks } = await openMemory();
    const sm2 = await ks.generate('sm2', 'sm2');
    const rsa = await ks.generate('rsa-2048', 'rsa');
    const s1 = await ks.signer(sm2.id, 'p');
    const s2 = await ks.signer(rsa.id, 'p');
    await ks.close();
    await ks.close();
    await rejectsWith(() => s1.sign(data), 'KEYSTORE_CLOSED');
    await rejectsWith(() => s2.sign(data), 'KEYSTORE_CLOSED');
    await rejectsWith(() => ks.signer(sm2.id, 'p'), 'KEYSTORE_CLOSED');
    await rejectsWith(() => ks.generate('sm2', 'late'), 'KEYSTORE_CLOSED');
    await rejectsWith(() => ks.list(), 'KEYSTORE_CLOSED');
  });
});

/** The keystore type is the port: a SoftwareKeyStore is assignable to KeyStore (compile-time check). */
export type _PortCheck = SoftwareKeyStore extends KeyStore ? true : never;

describe('SoftwareKeyStore: session signers and the SM2 worker pool', () => {
  test('a session signer audits open and close (with the count), not each signature; SM2 signs on the pool', async () => {
    const { Sm2SignerPool } = await import('@medsign/gm');
    const pool = new Sm2SignerPool({ size: 1 });
    try {
      const { ks, audit } = await openMemory({ sm2Pool: pool });
      const h = await ks.generate('sm2', 'service:tsa:sm2');
      const signer = await ks.sessionSigner(h.id, 'time-stamp tokens');
      const sigs = await Promise.all([1, 2, 3].map(() => signer.sign(data)));
      for (const sig of sigs) assert.ok(verifySignature(h.publicKeyInfo, 'SM3withSM2', data, sig));
      assert.deepEqual(
        audit.events.map((e) => e.action),
        ['key.generate', 'key.session-open'],
      );
      await ks.close();
      const close = audit.events.at(-1)!;
      assert.equal(close.action, 'key.session-close');
      assert.equal((close as { signatures?: number }).signatures, 3);
      assert.equal(
        (close as { sessionId: string }).sessionId,
        (audit.events[1] as { sessionId: string }).sessionId,
      );
      await assert.rejects(signer.sign(data), /KEYSTORE_CLOSED/);
    } finally {
      await pool.close();
    }
  });
});
