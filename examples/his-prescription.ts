// HIS 门诊处方签名 (prescription signing): the doctor signs the prescription text with the PIN, P7 detached
// with a time-stamp; a lost answer is retried with the same Idempotency-Key and gives back the same signature;
// the pharmacy later finds the record by doc id and verifies it.
import { exampleContext, runIfMain, type ExampleEnv, type Log } from './env.js';

export async function main(env: ExampleEnv, log: Log = () => {}) {
  const { client, signer, pin } = exampleContext(env);
  const rxId = `RX${Date.now()}`;
  const prescription = JSON.stringify({
    rxId,
    dept: '0101',
    items: [{ drug: '阿莫西林胶囊 amoxicillin', spec: '0.25g×24', dose: '0.5g tid po', days: 3 }],
  });
  const input = {
    signer,
    pin,
    data: prescription,
    format: 'p7-detached' as const,
    timestamp: true,
    metadata: { system: 'HIS', docType: 'prescription', docId: rxId, visitRef: `V${rxId}` },
  };
  const idempotencyKey = `${rxId}-1`;
  const signed = await client.sign(input, { idempotencyKey });
  log(
    `signed prescription ${rxId}: signature ${signed.id}, cert ${signed.certSerial}, token ${signed.token ? 'yes' : 'no'}`,
  );

  // The HIS did not get the answer (timeout): the same attempt again returns the first signature.
  const again = await client.sign(input, { idempotencyKey });
  log(
    `retry with Idempotency-Key ${idempotencyKey}: ${again.id === signed.id ? 'same signature' : 'NEW signature'}`,
  );

  // Later (pharmacy review): find the record and verify it against the prescription text kept by the HIS.
  const found = await client.signatures({ docType: 'prescription', docId: rxId });
  const record = found.items[0]!;
  const check = await client.verify({ data: prescription, signature: record.signature });
  log(
    `verify ${record.id}: valid=${check.valid} certificate ${check.certificateStatus.status} time-stamp ${check.timestamp?.time ?? '-'}`,
  );
  return { id: signed.id, replayed: again.id === signed.id, records: found.total, valid: check.valid };
}

runIfMain(import.meta.url, main);
