/**
 * `npm run bench:pki`: certificate parse+verify, CMS detached SM2 sign and verify, and time-stamp token
 * verification per second on one core, each beside the raw SM2 sign/verify rate measured in the same run.
 * Prints a table, then one JSON line (always last). BENCH_SECONDS sets the time per measurement (default 2).
 */

import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { makeHierarchy } from '@medsign/testkit';
import {
  digest,
  ParsedCertificate,
  signCms,
  signTimeStampToken,
  verifyCms,
  verifyTimeStampToken,
} from '../src/index.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 2);

async function measure(fn: () => unknown): Promise<number> {
  for (let i = 0; i < 5; i++) await fn();
  let ops = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let now = start;
  while (now < deadline) {
    await fn();
    ops++;
    now = performance.now();
  }
  return ops / ((now - start) / 1000);
}

const h = await makeHierarchy('sm2');
const data = new Uint8Array(
  Buffer.from('电子处方 Rx-2026-000123: 阿莫西林胶囊 0.5 g × 24, 口服, 每日三次'.repeat(8)),
);
const leafSigner = h.leaf.key.signer();

// The raw rate: what one SM2 signature over the same data costs with the same key object.
const rawSign = await measure(() => leafSigner.sign(data));
const rawSig = await leafSigner.sign(data);
const leafKey = h.leaf.cert.publicKeyInfo;
const { verifySignature } = await import('../src/index.js');
const rawVerify = await measure(() => verifySignature(leafKey, 'SM3withSM2', data, rawSig));

const certDer = h.leaf.cert.der;
const issuerKey = h.intermediate.cert.publicKeyInfo;
const certParseVerify = await measure(() => ParsedCertificate.parse(certDer).verifySignature(issuerKey));

const cmsOptions = {
  content: data,
  detached: true,
  signers: [{ signer: leafSigner, certificate: h.leaf.cert }],
};
const cmsSign = await measure(() => signCms(cmsOptions));
const cms = await signCms(cmsOptions);
const cmsVerify = await measure(() => verifyCms(cms, { content: data }));

const token = await signTimeStampToken(
  {
    policy: '1.2.156.112562.1.1',
    messageImprint: { hash: 'sm3', hashedMessage: digest('sm3', data) },
    serialNumber: 1n,
    genTime: new Date(),
  },
  h.tsa.key.signer(),
  h.tsa.cert,
);
const tokenVerify = await measure(() => verifyTimeStampToken(token, { data }));

const rows: [string, number, number][] = [
  ['certificate parse+verify', certParseVerify, rawVerify],
  ['CMS detached SM2 sign', cmsSign, rawSign],
  ['CMS detached SM2 verify', cmsVerify, rawVerify],
  ['time-stamp token verify', tokenVerify, rawVerify],
];
console.log(
  `medsign pki benchmark — node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, single core, ops/s`,
);
console.log(
  `raw SM2 sign ${rawSign.toFixed(0)}/s, raw SM2 verify ${rawVerify.toFixed(0)}/s (same key, same data, same run)`,
);
console.log('operation                   ops/s     raw SM2 ops/s   ratio');
for (const [name, ops, raw] of rows) {
  console.log(
    `${name.padEnd(26)} ${ops.toFixed(0).padStart(7)}   ${raw.toFixed(0).padStart(12)}   ${(ops / raw).toFixed(2)}`,
  );
}
const r2 = (v: number) => Math.round(v * 100) / 100;
console.log(
  JSON.stringify({
    raw_sm2_sign_ops: r2(rawSign),
    raw_sm2_verify_ops: r2(rawVerify),
    cert_parse_verify_ops: r2(certParseVerify),
    cms_sign_ops: r2(cmsSign),
    cms_verify_ops: r2(cmsVerify),
    token_verify_ops: r2(tokenVerify),
    cms_sign_ratio: r2(cmsSign / rawSign),
    cms_verify_ratio: r2(cmsVerify / rawVerify),
    cert_verify_ratio: r2(certParseVerify / rawVerify),
    token_verify_ratio: r2(tokenVerify / rawVerify),
  }),
);
