import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { after, before, describe, it } from 'node:test';
import { oids, ParsedCms, verifyTimeStampToken } from '@medsign/pki';
import { makeHierarchy, peerOrSkip, tempDir, type TestHierarchy } from '@medsign/testkit';
import { readPdfSignatures, renderPdf, signPdf, signPdfDetailed, type SignPdfOptions } from '../src/index.js';
import { LONG_HEX, nssTrusting, pdfText, run, sampleDocument, testTimestamper } from './helpers.js';

const dir = tempDir('medsign-report-');
after(() => dir.cleanup());

const JSON_TWIN = { reportId: 'VR-TEST-0001', valid: false, statements: ['签名未改', 'signature unaltered'] };

function signOptions(h: TestHierarchy, hash: 'sha256' | 'sm3' = 'sha256'): SignPdfOptions {
  return {
    signer: h.leaf.key.signer(),
    certificate: h.leaf.cert,
    chain: [h.intermediate.cert],
    name: '测试医院电子签名平台 Report signer',
    reason: '验证报告 Verification report',
    location: '北京 Beijing',
    timestamp: testTimestamper(h, hash),
  };
}

/** Replaces the first occurrence of `from` (latin1) with `to` of the same length. */
function patch(pdf: Uint8Array, from: string, to: string): Uint8Array {
  assert.equal(from.length, to.length);
  const b = Buffer.from(pdf);
  const at = b.indexOf(from, 0, 'latin1');
  assert.ok(at >= 0, `${from} not found`);
  b.write(to, at, 'latin1');
  return new Uint8Array(b);
}

describe('renderPdf', () => {
  let path: string;
  before(async () => {
    path = dir.file('report.pdf', await renderPdf(sampleDocument(JSON_TWIN)));
  });

  it('renders Chinese and English text, statuses and values that pdftotext extracts', () => {
    const text = pdfText(path).replace(/\s+/g, ' ');
    for (const s of [
      '电子签名验证报告 Signature Verification Report',
      '报告编号 Report ID',
      'VR-TEST-0001',
      '通过 PASS',
      '未通过 FAIL',
      '未检查 N/A',
      '签名未改 Signature unaltered',
      '原文未改 Original unaltered: 摘要不一致 digest mismatch',
      'C=CN, O=测试医院, OU=心内科, CN=张三',
      '扫码核验 Scan to verify',
      'medsign 测试 · This report carries a PDF signature',
      '值 value 4.9',
    ])
      assert.ok(text.includes(s), `missing ${s}`);
    // The long hex value wraps over several lines but is all there, in order.
    assert.ok(text.replace(/\s+/g, '').includes(LONG_HEX));
    assert.match(text, /第 1 \/ (\d) 页 Page 1 of \1/);
    const pages = Number(/Page 1 of (\d+)/.exec(text)![1]);
    assert.ok(pages >= 2, 'the sections must break onto a second page');
    assert.ok(text.includes(`Page ${pages} of ${pages}`));
  });

  it('embeds the CJK font as a subset with a ToUnicode map', () => {
    const r = run('pdffonts', [path]);
    assert.equal(r.code, 0);
    const lines = r.stdout.split('\n').filter((l) => l.includes('NotoSansSC'));
    assert.equal(lines.length, 2, r.stdout);
    for (const l of lines) {
      assert.match(l, /^[A-Z]{6}\+NotoSansSC-(Regular|Bold)\s/);
      assert.match(l, /CID TrueType\s+Identity-H\s+yes yes yes/);
    }
    assert.ok(readFileSync(path).length < 200_000, 'a subset, not the 10 MB font');
  });

  it('embeds the JSON twin as an EmbeddedFile that pdfdetach extracts unchanged', () => {
    const list = run('pdfdetach', ['-list', path]);
    assert.equal(list.code, 0);
    assert.match(list.stdout, /1 embedded files\n1: report\.json/);
    const out = dir.file('twin.json');
    assert.equal(run('pdfdetach', ['-save', '1', '-o', out, path]).code, 0);
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), JSON_TWIN);
  });

  it('passes qpdf --check', () => {
    const r = run('qpdf', ['--check', path]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it('a value longer than a page flows onto the next pages intact, fast', async () => {
    const t0 = performance.now();
    const huge = LONG_HEX.repeat(80); // 15 360 hex digits
    const doc = sampleDocument();
    const p = dir.file(
      'huge.pdf',
      await renderPdf({
        ...doc,
        sections: [
          {
            heading: '长值 Long value',
            rows: [
              { label: '证书 Certificate', value: huge },
              { label: '之后 After', value: 'END-OF-ROWS' },
            ],
          },
        ],
      }),
    );
    const text = pdfText(p);
    // Every piece, in order, across the page breaks (the footers stand between the pages' pieces).
    const pieces = text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^[0-9a-f]+$/.test(l));
    assert.equal(pieces.join(''), huge);
    assert.ok(performance.now() - t0 < 8_000, 'long values are cut in O(n log n), not per character');
    assert.ok(text.includes('END-OF-ROWS'));
    assert.match(text.replace(/\s+/g, ' '), /Page 1 of [2-9]/);
    assert.equal(run('qpdf', ['--check', p]).code, 0);
  });

  it('rejects documents it cannot draw', async () => {
    await assert.rejects(renderPdf({} as never), TypeError);
    await assert.rejects(renderPdf({ ...sampleDocument(), qr: { payload: '' } }), RangeError);
    await assert.rejects(
      renderPdf({
        ...sampleDocument(),
        attachments: [{ name: 'x', mimeType: 'text/plain', data: 'no' as never }],
      }),
      TypeError,
    );
  });
});

describe('signPdf / readPdfSignatures (ECDSA P-256, time-stamped)', () => {
  let h: TestHierarchy;
  let unsigned: Uint8Array;
  let signed: Uint8Array;
  let cms: Uint8Array;
  let path: string;
  before(async () => {
    h = await makeHierarchy('ec-p256');
    unsigned = await renderPdf(sampleDocument(JSON_TWIN));
    const r = await signPdfDetailed(unsigned, signOptions(h));
    signed = r.pdf;
    cms = r.cms;
    path = dir.file('signed-ec.pdf', signed);
  });

  it('keeps the original revision byte for byte (incremental update)', () => {
    assert.deepEqual(signed.subarray(0, unsigned.length), unsigned);
  });

  it('is listed and valid in pdfsig as a whole-document ETSI.CAdES.detached signature', () => {
    const r = run('pdfsig', [path]);
    assert.match(r.stdout, /Signature #1:/);
    assert.match(r.stdout, /Signature Field Name: Signature1/);
    assert.match(r.stdout, /Signer full Distinguished Name: CN=张三,OU=心内科,O=测试医院,C=CN/);
    assert.match(r.stdout, /Signature Type: ETSI\.CAdES\.detached/);
    assert.match(r.stdout, /Total document signed/);
    assert.match(r.stdout, /Signature Validation: Signature is Valid\./);
    assert.doesNotMatch(r.stdout, /Signature #2/);
  });

  it('with our root in its NSS database, pdfsig also trusts the certificate (chain embedded)', (t) => {
    const db = nssTrusting(dir.file('nss-ec'), h.root.cert.toPem());
    if (!db) return t.skip('certutil (libnss3-tools) not installed');
    const r = run('pdfsig', ['-nssdir', db, path]);
    assert.match(r.stdout, /Signature Validation: Signature is Valid\./);
    assert.match(r.stdout, /Certificate Validation: Certificate is Trusted\./);
  });

  it('still passes qpdf --check and keeps its text and attachment', () => {
    assert.equal(run('qpdf', ['--check', path]).code, 0);
    assert.ok(pdfText(path).includes('签名未改 Signature unaltered'));
    const out = dir.file('twin-signed.json');
    assert.equal(run('pdfdetach', ['-save', '1', '-o', out, path]).code, 0);
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), JSON_TWIN);
  });

  it('reads back as one valid PAdES signature covering the whole file, chain and time-stamp included', () => {
    const [s, ...rest] = readPdfSignatures(signed, { anchors: [h.root.cert] });
    assert.equal(rest.length, 0);
    assert.ok(s);
    assert.deepEqual(s.errors, []);
    assert.equal(s.valid, true);
    assert.equal(s.byteRangeValid, true);
    assert.equal(s.coversWholeFile, true);
    assert.equal(s.padesAttributes, true);
    assert.equal(s.filter, 'Adobe.PPKLite');
    assert.equal(s.subFilter, 'ETSI.CAdES.detached');
    assert.equal(s.name, '测试医院电子签名平台 Report signer');
    assert.equal(s.reason, '验证报告 Verification report');
    assert.equal(s.location, '北京 Beijing');
    assert.equal(s.signer, 'C=CN, O=测试医院, OU=心内科, CN=张三');
    assert.ok(s.signingTime && Math.abs(s.signingTime.getTime() - Date.now()) < 60_000);
    assert.ok(s.timestampTime);
    assert.equal(s.verification?.signers[0]?.chain?.valid, true);
    assert.deepEqual(s.cms, cms);
  });

  it('signs contentType, messageDigest and signingCertificateV2 but no signingTime; the token is unsigned', () => {
    const si = ParsedCms.parse(cms).signerInfos[0]!;
    const signedOids = si.signedAttributes!.map((a) => a.oid);
    assert.deepEqual(
      signedOids.sort(),
      [oids.id_contentType, oids.id_messageDigest, oids.id_aa_signingCertificateV2].sort(),
    );
    const token = si.unsignedAttributes?.find((a) => a.oid === oids.id_aa_timeStampToken)?.values[0];
    assert.ok(token, 'signature time-stamp token in the unsigned attributes');
    const ts = verifyTimeStampToken(token, { data: si.signature, anchors: [h.root.cert] });
    assert.deepEqual(ts.errors, []);
    assert.equal(ts.valid, true);
  });

  it('a changed byte in the signed range makes pdfsig and the reader report it invalid', () => {
    const tampered = patch(signed, '/MediaBox [0 0 595.28 841.89]', '/MediaBox [0 0 595.28 841.88]');
    const p = dir.file('tampered.pdf', tampered);
    const r = run('pdfsig', [p]);
    assert.match(r.stdout, /Signature #1:/);
    assert.match(r.stdout, /Signature Validation: Digest Mismatch\./);
    assert.doesNotMatch(r.stdout, /Signature is Valid/);
    const [s] = readPdfSignatures(tampered);
    assert.equal(s?.valid, false);
    assert.equal(s?.byteRangeValid, true);
    assert.ok(
      s?.errors.some((e) => e.includes('messageDigest')),
      s?.errors.join('; '),
    );
  });

  it('bytes appended after signing are detected: the signature no longer covers the whole file', () => {
    const appended = new Uint8Array(Buffer.concat([signed, Buffer.from('1 0 obj\n(x)\nendobj\n')]));
    const [s] = readPdfSignatures(appended);
    assert.equal(s?.valid, true);
    assert.equal(s?.coversWholeFile, false);
    const r = run('pdfsig', [dir.file('appended.pdf', appended)]);
    assert.doesNotMatch(r.stdout, /Total document signed/);
  });

  it('a ByteRange that does not exclude exactly /Contents is refused', () => {
    const [s0] = readPdfSignatures(signed);
    const b = s0!.byteRange!;
    const from = `/ByteRange [0 ${b[1]} ${b[2]} ${b[3]}]`;
    const to = `/ByteRange [0 ${b[1]! - 1} ${b[2]} ${b[3]}]`.padEnd(from.length, ' ');
    assert.equal(to.length, from.length);
    const [s] = readPdfSignatures(patch(signed, from, to));
    assert.equal(s?.byteRangeValid, false);
    assert.equal(s?.valid, false);
    assert.ok(s?.errors.some((e) => e.includes('exclude exactly')));
  });

  it('non-zero bytes hidden in the /Contents padding are refused', () => {
    const hex = Buffer.from(cms).toString('hex');
    const b = Buffer.from(signed);
    const at = b.indexOf(hex, 0, 'latin1') + hex.length;
    assert.equal(b.toString('latin1', at, at + 4), '0000');
    b.write('ff', at + 2, 'latin1');
    const [s] = readPdfSignatures(new Uint8Array(b));
    assert.equal(s?.valid, false);
    assert.ok(s?.errors.some((e) => e.includes('zero padding')));
  });

  it('property: any changed byte in the signed ranges invalidates; mangled files never throw', () => {
    const [s0] = readPdfSignatures(signed);
    const [, b, c] = s0!.byteRange!;
    const covered = fc.oneof(
      fc.integer({ min: 0, max: b! - 1 }),
      fc.integer({ min: c!, max: signed.length - 1 }),
    );
    fc.assert(
      fc.property(covered, fc.integer({ min: 1, max: 255 }), (at, x) => {
        const m = new Uint8Array(signed);
        m[at] = m[at]! ^ x;
        const list = readPdfSignatures(m);
        return list.every((s) => !(s.valid && s.coversWholeFile));
      }),
      { numRuns: 40 },
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: signed.length }),
        fc.uint8Array({ maxLength: 64 }),
        (cut, junk) => {
          const m = new Uint8Array(Buffer.concat([signed.subarray(0, cut), junk]));
          const list = readPdfSignatures(m);
          return list.every(
            (s) => !s.valid || (s.byteRangeValid && !s.coversWholeFile) || cut === signed.length,
          );
        },
      ),
      { numRuns: 40 },
    );
  });

  it('a second signature is added as a further revision; both are listed', async () => {
    const twice = await signPdf(signed, { ...signOptions(h), fieldName: 'Countersignature' });
    const list = readPdfSignatures(twice, { anchors: [h.root.cert] });
    assert.equal(list.length, 2);
    assert.deepEqual(
      list.map((s) => [s.valid, s.coversWholeFile]),
      [
        [true, false],
        [true, true],
      ],
    );
    const r = run('pdfsig', [dir.file('twice.pdf', twice)]);
    assert.match(r.stdout, /Signature #2:/);
    assert.match(r.stdout, /Signature Field Name: Countersignature/);
    assert.equal(r.stdout.match(/Signature is Valid\./g)?.length, 2);
    assert.equal(run('qpdf', ['--check', dir.file('twice.pdf')]).code, 0);
  });

  it('refuses input it cannot sign and reports nothing for unsigned or non-PDF input', async () => {
    await assert.rejects(signPdf(new TextEncoder().encode('not a pdf'), signOptions(h)));
    await assert.rejects(signPdf(unsigned, { ...signOptions(h), contentsSize: 64 }), /does not fit/);
    await assert.rejects(
      signPdf(unsigned, { ...signOptions(h), certificate: h.root.cert }),
      /does not match/,
    );
    assert.deepEqual(readPdfSignatures(unsigned), []);
    assert.deepEqual(readPdfSignatures(new TextEncoder().encode('/ByteRange [0 1 2 3] garbage')), []);
    assert.throws(() => readPdfSignatures('x' as never), TypeError);
    // Linear in the file: many /ByteRange tokens inside one object are read once.
    const hostile = `1 0 obj\n<< /A [${'/ByteRange [0 1 2 3] '.repeat(50_000)}] >>\nendobj\n`;
    const t0 = performance.now();
    assert.deepEqual(readPdfSignatures(new TextEncoder().encode(hostile)), []);
    assert.ok(performance.now() - t0 < 5_000);
  });
});

describe('signPdf with RSA and SM2 signers', () => {
  it('RSA-2048: pdfsig validates it', async () => {
    const h = await makeHierarchy('rsa-2048');
    const signed = await signPdf(await renderPdf(sampleDocument()), signOptions(h));
    const r = run('pdfsig', [dir.file('signed-rsa.pdf', signed)]);
    assert.match(r.stdout, /Signature Validation: Signature is Valid\./);
    const [s] = readPdfSignatures(signed, { anchors: [h.root.cert] });
    assert.equal(s?.valid, true, s?.errors.join('; '));
  });

  it('SM2: our reader and the Bouncy Castle peer verify the CMS over the ByteRange bytes', async (t) => {
    const h = await makeHierarchy('sm2');
    const r = await signPdfDetailed(await renderPdf(sampleDocument()), signOptions(h, 'sm3'));
    const [s] = readPdfSignatures(r.pdf, { anchors: [h.root.cert] });
    assert.equal(s?.valid, true, s?.errors.join('; '));
    assert.equal(s?.verification?.signers[0]?.signatureAlgorithm, 'SM3withSM2');
    const [, b, c, d] = r.byteRange;
    const covered = Buffer.concat([r.pdf.subarray(0, b), r.pdf.subarray(c, c + d)]);
    const peer = peerOrSkip(t, [
      'cms-verify',
      dir.file('sm2.p7s', r.cms),
      dir.file('sm2-covered.bin', covered),
      '--ca',
      dir.file('sm2-root.pem', h.root.cert.toPem()),
    ]);
    if (!peer) return;
    assert.equal(peer.code, 0, JSON.stringify(peer.json));
    // A tampered covered byte fails in the peer too.
    covered[100] = covered[100]! ^ 1;
    const bad = peerOrSkip(t, ['cms-verify', dir.file('sm2.p7s'), dir.file('sm2-bad.bin', covered)]);
    if (bad) assert.equal(bad.code, 1);
  });
});
