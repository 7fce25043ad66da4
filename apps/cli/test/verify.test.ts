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

describe('medsign verify on signed PDFs (e.g. medsign reports)', () => {
  before(async () => {
    const { renderPdf, signPdf } = await import('@medsign/report');
    const h = await makeHierarchy('ec-p256');
    writeFileSync(p('pdf-root.pem'), h.root.cert.toPem());
    const unsigned = await renderPdf({
      title: '验证报告 Report',
      sections: [{ heading: '结论 Conclusion', statements: [{ ok: true, text: '通过' }] }],
    });
    writeFileSync(p('unsigned.pdf'), unsigned);
    const signed = await signPdf(unsigned, {
      signer: h.leaf.key.signer(),
      certificate: h.leaf.cert,
      chain: [h.intermediate.cert],
    });
    writeFileSync(p('signed.pdf'), signed);
    const tampered = Buffer.from(signed);
    const at = tampered.indexOf('/MediaBox [0 0 595.28 841.89]', 0, 'latin1');
    tampered.write('/MediaBox [0 0 595.28 841.88]', at, 'latin1');
    writeFileSync(p('tampered.pdf'), tampered);
  });

  test('a signed PDF: exit 0, its signature, chain and coverage in the report', () => {
    const r = medsign(['verify', p('signed.pdf'), '--ca', p('pdf-root.pem')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /类型 Type: 签名 PDF 文档 Signed PDF/);
    assert.match(r.stdout, /签名者 Signer: C=CN, O=测试医院, OU=心内科, CN=张三/);
    assert.match(r.stdout, /签名格式 SubFilter: ETSI\.CAdES\.detached/);
    assert.match(r.stdout, /通过 PASS {2}\[C=CN, O=测试医院, OU=心内科, CN=张三\] covers the whole document/);
    assert.match(r.stdout, /结果 Result: 有效 VALID/);
    const json = JSON.parse(
      medsign(['verify', p('signed.pdf'), '--ca', p('pdf-root.pem'), '--json']).stdout,
    ) as {
      kind: string;
      valid: boolean;
    };
    assert.deepEqual([json.kind, json.valid], ['pdf', true]);
  });

  test('a changed byte, no trust anchor, or no signature: exit 1', () => {
    const bad = medsign(['verify', p('tampered.pdf'), '--ca', p('pdf-root.pem')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /失败 FAIL .*messageDigest attribute/);
    assert.equal(medsign(['verify', p('signed.pdf')]).code, 1);
    const none = medsign(['verify', p('unsigned.pdf'), '--ca', p('pdf-root.pem')]);
    assert.equal(none.code, 1);
    assert.match(none.stdout, /PDF signatures present — the PDF carries no signature/);
  });
});
