// PACS/RIS 影像报告 + 影像摘要签名 (imaging report and image-hash signing): the radiologist signs the report
// text, and the SM3 digest of each DICOM file — never the file itself (hundreds of MB). Both P7 detached with
// a time-stamp; the image signature verifies later against the archived DICOM bytes.
import { bytesToHex, sm3 } from '@medsign/gm';
import { exampleContext, runIfMain, type ExampleEnv, type Log } from './env.js';

/** A stand-in DICOM Part 10 file: 128-byte preamble, "DICM", then some pixel-like bytes. */
function fakeDicom(seed: number): Uint8Array {
  const bytes = new Uint8Array(128 + 4 + 64 * 1024);
  bytes.set(new TextEncoder().encode('DICM'), 128);
  for (let i = 132; i < bytes.length; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

export async function main(env: ExampleEnv, log: Log = () => {}) {
  const { client, signer, pin } = exampleContext(env);
  const accession = `CT${Date.now()}`;
  const report = `检查号 ${accession}  胸部CT平扫 chest CT\n影像所见: 双肺纹理清晰，未见明显实质性病变。\n诊断意见: 胸部CT平扫未见明显异常。`;

  const signedReport = await client.sign(
    {
      signer,
      pin,
      data: report,
      format: 'p7-detached',
      timestamp: true,
      metadata: { system: 'PACS', docType: 'imaging-report', docId: accession },
    },
    { idempotencyKey: `${accession}-report-1` },
  );
  log(`signed imaging report ${accession}: signature ${signedReport.id}`);

  const dicom = fakeDicom(7);
  const digest = bytesToHex(sm3(dicom)); // SHA-256 (digestAlgorithm 'sha256') for RSA/ECDSA signers
  const signedImage = await client.sign(
    {
      signer,
      pin,
      digest,
      digestAlgorithm: 'sm3',
      format: 'p7-detached',
      timestamp: true,
      metadata: { system: 'PACS', docType: 'imaging-report', docId: `${accession}-IMG1` },
    },
    { idempotencyKey: `${accession}-img1-1` },
  );
  log(
    `signed SM3 ${digest.slice(0, 16)}… of DICOM ${accession}-IMG1 (${dicom.length} bytes): signature ${signedImage.id}`,
  );

  const reportCheck = await client.verify({ data: report, signature: signedReport.signature });
  const imageCheck = await client.verify({ data: dicom, signature: signedImage.signature });
  log(
    `verify report: valid=${reportCheck.valid}; verify image against the DICOM bytes: valid=${imageCheck.valid}`,
  );
  return {
    reportId: signedReport.id,
    imageId: signedImage.id,
    sameDigest: signedImage.digest === digest,
    valid: reportCheck.valid && imageCheck.valid,
  };
}

runIfMain(import.meta.url, main);
