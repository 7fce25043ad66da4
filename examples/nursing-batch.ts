// 移动护理批量签名 (mobile nursing batch signing): at the end of the shift the nursing system sends every record
// of the shift as ONE sign job, keyed by the records' ids, without a PIN; the nurse enters the PIN once on the
// PDA (`authorise`), the server signs all of them in the background (P1: small and fast), and the system
// reads the results per record id — by polling here; a real system also gives a `callbackUrl` and checks the
// webhook with `verifyWebhook`. A job that is never authorised can be cancelled (or expires).
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
  ].map((text, i) => ({ businessId: `${shift}-${i + 1}`, text: `${shift} ${text}` }));

  // The shift's id as Idempotency-Key: a PDA that re-sends after a dropped connection gets the same job back.
  const created = await client.createSignJob(
    {
      signer,
      format: 'p1',
      metadata: { system: 'nursing', docType: 'nursing-record' },
      documents: records.map((r) => ({ businessId: r.businessId, docId: r.businessId, data: r.text })),
    },
    { idempotencyKey: shift },
  );
  log(`sign job ${created.id}: ${created.documents} records, ${created.state} until ${created.expiresAt}`);

  // A wrong PIN is refused (and counted toward the lock like any PIN); the job keeps waiting.
  let wrongPin = '';
  try {
    await client.authoriseSignJob(created.id, `${pin}0`);
  } catch (e) {
    if (!(e instanceof MedsignApiError)) throw e;
    wrongPin = e.code ?? String(e.status);
  }
  log(`authorise with a wrong PIN: ${wrongPin}`);

  await client.authoriseSignJob(created.id, pin);
  const job = await client.waitForSignJob(created.id, { intervalMs: 100 });
  log(`job ${job.id} ${job.state}: ${job.signed} signed, ${job.failed} failed`);

  // Results per record id, with the signatures; P1 verifies with the nurse's certificate from the job.
  const page = await client.signJobResults(job.id, { include: 'signature' });
  let valid = 0;
  for (const r of page.items) {
    const text = records.find((x) => x.businessId === r.businessId)!.text;
    const v = await client.verify({ data: text, signature: r.signature!, certificate: job.certificate! });
    if (v.valid) valid++;
    log(`${r.businessId}: ${r.state} signature ${r.signatureId} valid=${v.valid}`);
  }
  log(`verified ${valid}/${page.total} records`);

  // A job nobody authorises is cancelled at hand-over (otherwise it expires after sign.jobExpiryMinutes).
  const stray = await client.createSignJob({
    signer,
    format: 'p1',
    documents: [{ businessId: `${shift}-late`, data: `${shift} 交班后补记`, docType: 'nursing-record' }],
  });
  const cancelled = await client.cancelSignJob(stray.id);
  log(`job ${stray.id} not authorised at hand-over: ${cancelled.state}`);

  return {
    job: job.id,
    state: job.state,
    signed: job.signed,
    valid,
    wrongPin,
    cancelled: cancelled.state,
  };
}

runIfMain(import.meta.url, main);
