/**
 * SM2 signatures against the Bouncy Castle peer (shared/peers/bc, README there): ours verify in BC
 * with the default and custom IDs, BC's verify here. Exit 3 from the peer means it could not be set up:
 * a failure in CI, a skip elsewhere.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test, type TestContext } from 'node:test';
import { SM2PrivateKey, sm2SignatureToRaw, useSm2Backend } from '../src/index.js';
import { availableBackends } from './helpers/backends.js';
import { toHex } from './helpers/vectors.js';

const PEER = fileURLToPath(new URL('../../../../shared/peers/bc/run', import.meta.url));
const CUSTOM_ID = 'doctor-0042@example';

type PeerResult = { status: number | null; json: Record<string, unknown> | undefined; raw: string };

let dir = '';
let unavailable: string | undefined;
const path = (name: string) => join(dir, name);

function peer(args: string[]): PeerResult {
  const r = spawnSync(PEER, args, { cwd: dir, encoding: 'utf8', timeout: 300_000 });
  if (r.error) return { status: 3, json: undefined, raw: `${r.error.message}` };
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(line) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: r.status, json, raw: `${r.stdout}\n${r.stderr}`.trim() };
}

/** True when the peer is usable; otherwise fails (CI) or skips the test. */
function needPeer(t: TestContext): boolean {
  if (unavailable === undefined) return true;
  if (process.env.CI === 'true') assert.fail(`Bouncy Castle peer unavailable in CI: ${unavailable}`);
  t.skip(`Bouncy Castle peer unavailable: ${unavailable}`);
  return false;
}

function expectValid(r: PeerResult, what: string): void {
  assert.equal(r.status, 0, `${what}: ${r.raw}`);
  assert.equal(r.json?.valid, true, `${what}: ${r.raw}`);
}

describe('SM2 interop with the Bouncy Castle peer', () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'medsign-sm2-bc-'));
    if (!existsSync(PEER)) {
      unavailable = `${PEER} not found`;
      return;
    }
    // Warm-up call: the first run may install packages and compile (exit 3 if that fails).
    const key = SM2PrivateKey.generate();
    writeFileSync(path('warm.pem'), key.toPem());
    writeFileSync(path('warm.txt'), 'warm-up');
    const r = peer(['sig-sign', 'warm.pem', 'warm.txt', 'warm.sig']);
    if (r.status === 3 || r.status === null) unavailable = `exit ${r.status}: ${r.raw.slice(-500)}`;
    else expectValid(r, 'peer warm-up');
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const backend of availableBackends()) {
    describe(`${backend} backend`, () => {
      before(() => useSm2Backend(backend));

      test('our signatures verify in BC (default ID); a tampered one does not', (t) => {
        if (!needPeer(t)) return;
        const key = SM2PrivateKey.generate();
        const data = new Uint8Array(randomBytes(1000));
        writeFileSync(path('pub.pem'), key.publicKey.toPem());
        writeFileSync(path('data.bin'), data);
        const sig = key.sign(data);
        writeFileSync(path('sig.der'), sig);
        const ok = peer(['sig-verify', 'pub.pem', 'data.bin', 'sig.der']);
        expectValid(ok, 'sig-verify');
        assert.equal(ok.json?.sm2Id, '1234567812345678');

        const bad = sig.slice();
        bad[bad.length - 1]! ^= 0x01;
        writeFileSync(path('bad.der'), bad);
        const r = peer(['sig-verify', 'pub.pem', 'data.bin', 'bad.der']);
        assert.equal(r.status, 1, r.raw);
        assert.equal(r.json?.valid, false, r.raw);
      });

      test('our signatures with a custom ID verify in BC only with --sm2-id', (t) => {
        if (!needPeer(t)) return;
        const key = SM2PrivateKey.generate();
        const data = new Uint8Array(randomBytes(257));
        writeFileSync(path('pub.pem'), key.publicKey.toPem());
        writeFileSync(path('data.bin'), data);
        writeFileSync(path('sig.der'), key.sign(data, { id: CUSTOM_ID }));
        expectValid(
          peer(['sig-verify', 'pub.pem', 'data.bin', 'sig.der', '--sm2-id', CUSTOM_ID]),
          'custom id',
        );
        const r = peer(['sig-verify', 'pub.pem', 'data.bin', 'sig.der']);
        assert.equal(r.status, 1, r.raw);
      });

      test('BC signatures (our PKCS#8 key) verify here, with the default ID', (t) => {
        if (!needPeer(t)) return;
        const key = SM2PrivateKey.generate();
        const data = new Uint8Array(randomBytes(500));
        writeFileSync(path('key.pem'), key.toPem());
        writeFileSync(path('data.bin'), data);
        expectValid(peer(['sig-sign', 'key.pem', 'data.bin', 'bc.sig']), 'sig-sign');
        const sig = new Uint8Array(readFileSync(path('bc.sig')));
        assert.ok(key.publicKey.verify(data, sig));
        assert.ok(key.publicKey.verify(data, sm2SignatureToRaw(sig)), 'raw r‖s form');
        assert.ok(!key.publicKey.verify(data, sig, { id: '' }));
        const other = data.slice();
        other[17]! ^= 0x80;
        assert.ok(!key.publicKey.verify(other, sig));
      });

      test('BC signatures with --sm2-id (our SEC1 key) verify here only with that ID', (t) => {
        if (!needPeer(t)) return;
        const key = SM2PrivateKey.generate();
        const data = new Uint8Array(randomBytes(64));
        writeFileSync(path('key.pem'), key.toPem('sec1'));
        writeFileSync(path('data.bin'), data);
        expectValid(peer(['sig-sign', 'key.pem', 'data.bin', 'bc.sig', '--sm2-id', CUSTOM_ID]), 'sig-sign');
        const sig = new Uint8Array(readFileSync(path('bc.sig')));
        assert.ok(key.publicKey.verify(data, sig, { id: CUSTOM_ID }), toHex(sig));
        assert.ok(!key.publicKey.verify(data, sig));
      });
    });
  }
});
