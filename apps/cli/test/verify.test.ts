import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { makeHierarchy, runMedsignCliText as medsign, tempDir } from '@medsign/testkit';

const tmp = tempDir('medsign-verify-');
after(() => tmp.cleanup());
const p = (name: string) => tmp.file(name);

describe('medsign verify / cert show on certificates', () => {
  before(async () => {
    const h = await makeHierarchy('sm2');
    writeFileSync(p('root.pem'), h.root.cert.toPem());
    writeFileSync(p('chain.pem'), h.leaf.cert.toPem() + h.intermediate.cert.toPem());
    writeFileSync(p('leaf.der'), h.leaf.cert.der);
    writeFileSync(p('garbage.bin'), 'not an artifact');
  });

  test('a valid chain: exit 0, bilingual report', () => {
    const r = medsign(['verify', p('chain.pem'), '--ca', p('root.pem')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /类型 Type: 证书链 Certificate chain/);
    assert.match(r.stdout, /结果 Result: 有效 VALID/);
  });

  test('--json prints one JSON object with the same verdict', () => {
    const r = medsign(['verify', p('chain.pem'), '--ca', p('root.pem'), '--json']);
    const report = JSON.parse(r.stdout) as { valid: boolean; kind: string; checks: unknown[] };
    assert.equal(report.valid, true);
    assert.equal(report.kind, 'certificate-chain');
    assert.ok(report.checks.length > 5);
  });

  test('invalid (no path, or outside validity): exit 1', () => {
    assert.equal(medsign(['verify', p('leaf.der'), '--ca', p('root.pem')]).code, 1);
    assert.equal(
      medsign(['verify', p('chain.pem'), '--ca', p('root.pem'), '--at', '2040-01-01T00:00:00Z']).code,
      1,
    );
  });

  test('not an artifact, unreadable file or bad --at: exit 2 with one line', () => {
    for (const args of [
      ['verify', p('garbage.bin')],
      ['verify', p('missing.pem')],
      ['verify', p('chain.pem'), '--at', 'yesterday'],
      ['verify'],
    ]) {
      const r = medsign(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
  });

  test('cert show prints the fields of every certificate in a bundle', () => {
    const r = medsign(['cert', 'show', p('chain.pem')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /主题 Subject: C=CN, O=测试医院, OU=心内科, CN=张三/);
    assert.match(r.stdout, /主题 Subject: C=CN, O=测试医院, CN=测试医院 Issuing CA/);
    const json = JSON.parse(medsign(['cert', 'show', p('leaf.der'), '--json']).stdout) as Record<
      string,
      string
    >[];
    assert.equal(json.length, 1);
    assert.equal(json[0]!.signatureAlgorithm, 'SM3withSM2');
  });
});
