/** Runs the independent verifiers: the Bouncy Castle peer (../shared/peers/bc/run) and the openssl CLI. */

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Path of the BC peer script: the repository's sibling folder shared/ (as in CI). */
export const BC_PEER = fileURLToPath(new URL('../../../../shared/peers/bc/run', import.meta.url));

export type PeerResult = { code: number; json: Record<string, unknown>; stdout: string; stderr: string };

/** Runs one BC peer command and parses its JSON line. */
export function runBcPeer(args: string[]): PeerResult {
  if (!existsSync(BC_PEER))
    return { code: 3, json: { error: `peer not found at ${BC_PEER}` }, stdout: '', stderr: '' };
  const r = spawnSync(BC_PEER, args, { encoding: 'utf8', timeout: 120_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(line) as Record<string, unknown>;
  } catch {
    json = { error: line || r.stderr };
  }
  return { code: r.status ?? 3, json, stdout: r.stdout, stderr: r.stderr };
}

/** Runs openssl with arguments; returns exit code and output. */
export function runOpenssl(
  args: string[],
  input?: Uint8Array | string,
): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}
