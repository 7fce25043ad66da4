// LIS 检验报告签名 (lab report signing): the reviewing technologist signs the released report, P7 detached
// with a time-stamp; a wrong document type is refused with SIGN_DOC_TYPE_UNKNOWN and nothing is written.
import { MedsignApiError } from '@medsign/sdk';
import { exampleContext, runIfMain, type ExampleEnv, type Log } from './env.js';

export async function main(env: ExampleEnv, log: Log = () => {}) {
  const { client, signer, pin } = exampleContext(env);
  const reportId = `LAB${Date.now()}`;
  const report = [
    `报告单号 ${reportId}  血常规 CBC`,
    'WBC 6.2 ×10^9/L (3.5–9.5)',
    'HGB 138 g/L (130–175)',
    'PLT 210 ×10^9/L (125–350)',
  ].join('\n');
  const metadata = { system: 'LIS', docType: 'lab-report', docId: reportId, departmentCode: '0301' };

  let refused = '';
  try {
    await client.sign({ signer, pin, data: report, metadata: { ...metadata, docType: 'lab' } });
  } catch (e) {
    if (!(e instanceof MedsignApiError)) throw e;
    refused = e.code ?? String(e.status);
    log(`docType "lab" refused: ${refused} — use one of the server's document types (lab-report)`);
  }

  const signed = await client.sign(
    { signer, pin, data: report, format: 'p7-detached', timestamp: true, metadata },
    { idempotencyKey: `${reportId}-release-1` },
  );
  log(
    `signed lab report ${reportId}: signature ${signed.id}, digest ${signed.digestAlgorithm} ${signed.digest}`,
  );

  const check = await client.verify({ data: report, signature: signed.signature });
  log(`verify: valid=${check.valid} chain=${check.chain.ok} certificate ${check.certificateStatus.status}`);
  return { id: signed.id, refused, valid: check.valid };
}

runIfMain(import.meta.url, main);
