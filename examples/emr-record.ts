// EMR 电子病历签名 (medical record signing): the attending doctor signs a progress note; P7 attached (the
// signature carries the record, for the archive) with GM/T 0010 OIDs and a time-stamp. It verifies later
// without the data, and the record is found by doc id.
import { exampleContext, runIfMain, type ExampleEnv, type Log } from './env.js';

export async function main(env: ExampleEnv, log: Log = () => {}) {
  const { client, signer, pin } = exampleContext(env);
  const noteId = `EMR${Date.now()}`;
  const note = JSON.stringify({
    noteId,
    type: '日常病程记录 progress note',
    text: '患者一般情况可，体温正常，切口干燥无渗出，继续当前治疗。',
  });
  const signed = await client.sign(
    {
      signer,
      pin,
      data: note,
      format: 'p7-attached',
      oids: 'gm',
      timestamp: true,
      metadata: { system: 'EMR', docType: 'medical-record', docId: noteId, visitRef: `IP${noteId}` },
    },
    { idempotencyKey: `${noteId}-v1` },
  );
  log(`signed medical record ${noteId}: signature ${signed.id} (${signed.format}, GM OIDs)`);

  const found = await client.signatures({ docType: 'medical-record', docId: noteId });
  const check = await client.verify({ signature: found.items[0]!.signature }); // attached: no data needed
  log(
    `verify from the record alone: valid=${check.valid} time-stamp ${check.timestamp?.ok ? 'ok' : 'missing'}`,
  );
  return { id: signed.id, valid: check.valid, timestamped: check.timestamp?.ok === true };
}

runIfMain(import.meta.url, main);
