/** Runs the `medsign` CLI from its TypeScript sources, as the CLI tests do. */

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root (where `npx medsign` and the workspace links resolve). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export type CliRun<Out> = { code: number | null; stdout: Out; stderr: string };

function run(args: string[], input: Uint8Array | string | undefined): CliRun<Buffer> {
  const r = spawnSync(
    process.execPath,
    [
      '--conditions=medsign-source',
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      "import { main } from '@medsign/cli'; process.exitCode = await main(process.argv.slice(1));",
      '--',
      ...args,
    ],
    { cwd: REPO_ROOT, input: input ?? '', env: { ...process.env, NODE_NO_WARNINGS: '1' } },
  );
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** `medsign ARGS` with `input` on stdin; stdout as bytes (for binary output). */
export function runMedsignCli(args: string[], input?: Uint8Array | string): CliRun<Buffer> {
  return run(args, input);
}

/** `medsign ARGS` with `input` on stdin; stdout as UTF-8 text. */
export function runMedsignCliText(args: string[], input?: Uint8Array | string): CliRun<string> {
  const r = run(args, input);
  return { ...r, stdout: r.stdout.toString('utf8') };
}
