/** Runs the independent verifiers: the Bouncy Castle peer (../shared/peers/bc/run) and the openssl CLI. */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
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

/** Why the BC peer cannot be used in this test process, once a setup failure was seen. */
let peerDown: string | undefined;

/**
 * Whether a test may use the BC peer. After a setup failure it fails the test in CI (CI=true), where
 * the peer must work, and skips it elsewhere; either way it returns false.
 */
export function requirePeer(t: TestContext): boolean {
  if (peerDown === undefined) return true;
  if (process.env.CI === 'true') assert.fail(`BC peer could not be set up: ${peerDown}`);
  t.skip(`BC peer unavailable: ${peerDown}`);
  return false;
}

/** Runs a BC peer command for a test; undefined (test skipped, or failed in CI) when the peer cannot be set up. */
export function peerOrSkip(t: TestContext, args: string[]): PeerResult | undefined {
  if (!requirePeer(t)) return undefined;
  const r = runBcPeer(args);
  if (r.code === 3) {
    peerDown = JSON.stringify(r.json);
    requirePeer(t);
    return undefined;
  }
  return r;
}

/**
 * Writes the BC fixture set (`make-fixtures`) into `dir`. Returns `dir`, or undefined when it could not
 * be made; then requirePeer fails or skips every test that needs the peer.
 */
export function makeBcFixtures(dir: string): string | undefined {
  const r = runBcPeer(['make-fixtures', dir]);
  if (r.code === 0) return dir;
  peerDown = `make-fixtures exit ${r.code}: ${JSON.stringify(r.json)}`;
  return undefined;
}
