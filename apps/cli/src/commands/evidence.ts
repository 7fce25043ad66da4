/**
 * `medsign evidence`: fetches the evidence report of a signature from a running server through
 * @medsign/sdk, as a hospital system or an auditor would — the signed PDF (default) or, with `--json`, the
 * machine-readable evidence (medsign-evidence/v1).
 */

import { MedsignApiError, MedsignClient } from '@medsign/sdk';
import { parse, required } from '../args.js';
import { CliError, EXIT, writeOutput } from '../io.js';

export const EVIDENCE_USAGE = `Evidence:
  medsign evidence --url URL --app-id ID --app-secret S --id SIGNATURE_ID --out report.pdf [--json]
                   the evidence report of a signature (电子签名法 §13: 真实身份, 真实意愿, 签名未改, 原文未改):
                   a signed, time-stamped PDF with the JSON embedded; --json writes the JSON instead`;

/** `medsign evidence …`. */
export async function evidenceCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    url: { type: 'string' },
    'app-id': { type: 'string' },
    'app-secret': { type: 'string' },
    id: { type: 'string' },
    out: { type: 'string' },
    json: { type: 'boolean' },
  });
  const id = required(values.id, '--id SIGNATURE_ID');
  const out = required(values.out, '--out FILE');
  const client = new MedsignClient({
    url: required(values.url, '--url'),
    appId: required(values['app-id'], '--app-id'),
    appSecret: required(values['app-secret'], '--app-secret'),
  });
  try {
    if (values.json) {
      const e = await client.evidence(id);
      writeOutput(out, new TextEncoder().encode(JSON.stringify(e, null, 2) + '\n'));
      if (out !== '-')
        process.stderr.write(
          `medsign: evidence ${e.reportId} of ${id}: ${e.ok ? 'ok' : 'NOT OK'} → ${out}\n`,
        );
    } else {
      writeOutput(out, await client.evidencePdf(id));
      if (out !== '-') process.stderr.write(`medsign: wrote the evidence report of ${id} to ${out}\n`);
    }
    return EXIT.ok;
  } catch (e) {
    if (e instanceof MedsignApiError) throw new CliError(e.message, EXIT.invalid);
    throw new CliError(`cannot reach ${values.url}: ${(e as Error).message}`, EXIT.invalid);
  }
}
