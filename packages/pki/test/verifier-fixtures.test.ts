/**
 * The universal verifier against Bouncy Castle's reference artifacts (generated at test time by
 * `../shared/peers/bc/run make-fixtures`): every valid artifact verifies, every tampered copy does not.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  loadCertificates,
  ParsedOcspResponse,
  verifyArtifact,
  type ArtifactKind,
  type ParsedCertificate,
} from '../src/index.js';
import { runBcPeer } from '@medsign/testkit';

const dir = mkdtempSync(join(tmpdir(), 'medsign-bcfx-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let ready: string | undefined;
before(() => {
  const r = runBcPeer(['make-fixtures', dir]);
  if (r.code !== 0) ready = `BC peer unavailable (exit ${r.code}): ${JSON.stringify(r.json)}`;
});

const read = (name: string) => new Uint8Array(readFileSync(join(dir, name)));

/** [file, expected kind, needs data.txt] for each family. */
const ARTIFACTS: [string, ArtifactKind, boolean][] = [
  ['chain.pem', 'certificate-chain', false],
  ['ee.pem', 'certificate', false],
  ['tsa.pem', 'certificate', false],
  ['intermediate.crl', 'crl', false],
  ['ocsp-resp.der', 'ocsp-response', false],
  ['ocsp-resp-bykey.der', 'ocsp-response', false],
  ['cms-detached.p7s', 'cms', true],
  ['cms-attached.p7s', 'cms', false],
  ['cms-detached-ts.p7s', 'cms', true],
  ['tsr.der', 'timestamp-response', true],
  ['tst.der', 'timestamp-token', true],
];
const GM_ONLY: [string, ArtifactKind, boolean][] = [
  ['cms-detached-gmt0010.p7s', 'cms', true],
  ['cms-attached-gmt0010.p7s', 'cms', false],
];

/**
 * Flips one byte inside the signature value: near the end for most structures; for an OCSP response
 * (whose tail is the embedded responder certificate) inside its own signature.
 */
function tamper(bytes: Uint8Array, file: string): Uint8Array {
  const copy = new Uint8Array(bytes);
  let at = copy.length - 5;
  if (file.startsWith('ocsp')) {
    const sig = ParsedOcspResponse.parse(bytes).signatureValue;
    at = Buffer.from(bytes).indexOf(Buffer.from(sig)) + 10;
  }
  copy[at]! ^= 0x01;
  return copy;
}

for (const family of ['sm2', 'rsa', 'ecdsa'] as const) {
  describe(`verifier on Bouncy Castle ${family} fixtures`, () => {
    let trusted: ParsedCertificate[];
    before(() => {
      if (ready) return;
      trusted = [
        ...loadCertificates(read(`${family}-root.pem`)),
        ...loadCertificates(read(`${family}-intermediate.pem`)),
      ];
    });
    for (const [file, kind, needsData] of [...ARTIFACTS, ...(family === 'sm2' ? GM_ONLY : [])]) {
      test(`${family}-${file}: valid, and a tampered copy is not`, (t) => {
        if (ready) {
          if (process.env.CI === 'true') assert.fail(ready);
          t.skip(ready);
          return;
        }
        const data = needsData ? { data: read('data.txt') } : {};
        const bytes = read(`${family}-${file}`);
        const report = verifyArtifact(bytes, { trusted, ...data });
        assert.equal(report.kind, kind);
        assert.equal(report.valid, true, report.errors.join('; '));
        if (file.endsWith('.pem')) return; // PEM text: a flipped byte may just break the armour
        let tampered;
        try {
          tampered = verifyArtifact(tamper(bytes, file), { trusted, ...data });
        } catch {
          return; // no longer a recognisable artifact: also a rejection
        }
        assert.equal(tampered.valid, false, `tampered ${file} still verified`);
        if (needsData) {
          const other = verifyArtifact(bytes, { trusted, data: new Uint8Array(Buffer.from('other data')) });
          assert.equal(other.valid, false, `${file} verified over other data`);
        }
      });
    }
  });
}
