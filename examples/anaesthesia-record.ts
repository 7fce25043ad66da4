// 麻醉记录单签名 (anaesthesia record signing): at the end of the operation the anaesthetist signs the record,
// P7 detached with a time-stamp (the time the record was closed is proven by the TSA, not by the client
// clock). A changed record no longer verifies (dataIntegrity fails).
import { exampleContext, runIfMain, type ExampleEnv, type Log } from './env.js';

export async function main(env: ExampleEnv, log: Log = () => {}) {
  const { client, signer, pin } = exampleContext(env);
  const recordId = `AN${Date.now()}`;
  const record = JSON.stringify({
    recordId,
    method: '全身麻醉 general anaesthesia',
    asa: 'II',
    events: [
      { t: '08:05', e: '麻醉诱导 induction' },
      { t: '08:12', e: '气管插管 intubation' },
      { t: '10:40', e: '拔管 extubation' },
    ],
  });
  const signed = await client.sign(
    {
      signer,
      pin,
      data: record,
      format: 'p7-detached',
      timestamp: true,
      metadata: { system: 'anaesthesia', docType: 'anaesthesia-record', docId: recordId },
    },
    { idempotencyKey: `${recordId}-close-1` },
  );
  log(`signed anaesthesia record ${recordId}: signature ${signed.id}, token ${signed.token ? 'yes' : 'no'}`);

  const check = await client.verify({ data: record, signature: signed.signature });
  const tampered = await client.verify({
    data: record.replace('10:40', '10:20'),
    signature: signed.signature,
  });
  log(
    `verify: valid=${check.valid} at ${check.timestamp?.time ?? '-'}; changed record: valid=${tampered.valid} dataIntegrity=${tampered.dataIntegrity.ok}`,
  );
  return { id: signed.id, valid: check.valid, tamperedValid: tampered.valid };
}

runIfMain(import.meta.url, main);
