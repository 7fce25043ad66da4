// 移动护理批量签名 (mobile nursing batch signing): at the start of the shift the nurse grants the nursing
// system a time-boxed signing authorisation with the PIN once; the PDA then signs every record of the shift
// without a PIN (P1, no time-stamp: small and fast), and the authorisation is revoked at hand-over.
// A batch-jobs endpoint does not exist yet: the client loops over the records itself.
import { MedsignApiError } from '@medsign/sdk';
import { exampleContext, runIfMain, type ExampleEnv, type Log } from './env.js';

export async function main(env: ExampleEnv, log: Log = () => {}) {
  const { client, signer, pin } = exampleContext(env);
  const shift = `N${Date.now()}`;
  const records = [
    'T 36.8℃ P 78 R 18 BP 122/76',
    '静脉输液 0.9% NaCl 250 ml 已完成',
    '翻身、皮肤完好',
    '夜间睡眠可',
  ].map((text, i) => ({ docId: `${shift}-${i + 1}`, text: `${shift} ${text}` }));

  const grant = await client.authorise({ signer, pin, durationMinutes: 8 * 60 });
  log(`authorisation ${grant.id} for ${grant.signer} until ${grant.expiresAt}`);

  const signed = [];
  try {
    for (const r of records) {
      // docId as Idempotency-Key: a PDA that re-sends after a dropped connection gets the same signature back.
      const s = await client.sign(
        {
          signer,
          data: r.text,
          format: 'p1',
          metadata: { system: 'nursing', docType: 'nursing-record', docId: r.docId },
        },
        { idempotencyKey: r.docId },
      );
      signed.push({ ...r, ...s });
      log(`signed ${r.docId} under the authorisation: signature ${s.id}`);
    }
  } finally {
    await client.revokeAuthorisation(grant.id);
    log(`authorisation ${grant.id} revoked at hand-over`);
  }

  // P1 needs the signer's certificate to verify (it is in the sign answer and in the record's cert serial).
  let valid = 0;
  for (const s of signed)
    if ((await client.verify({ data: s.text, signature: s.signature, certificate: s.certificate })).valid)
      valid++;
  log(`verified ${valid}/${signed.length} records`);

  let afterRevoke = '';
  try {
    await client.sign({
      signer,
      data: 'after hand-over',
      format: 'p1',
      metadata: { docType: 'nursing-record' },
    });
    afterRevoke = 'signed (another authorisation is still live)';
  } catch (e) {
    if (!(e instanceof MedsignApiError)) throw e;
    afterRevoke = e.code ?? String(e.status);
  }
  log(`signing without PIN after revocation: ${afterRevoke}`);
  return { authorisation: grant.id, signed: signed.length, valid, afterRevoke };
}

runIfMain(import.meta.url, main);
