/** Runs the `medsign` CLI from its TypeScript sources, as the CLI tests do. */

import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root (where `npx medsign` and the workspace links resolve). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export type CliRun<Out> = { code: number | null; stdout: Out; stderr: string };

/** Node arguments that run `medsign ARGS` from the TypeScript sources. */
function cliArgs(args: string[]): string[] {
  return [
    '--conditions=medsign-source',
    '--import',
    'tsx',
    '--input-type=module',
    '-e',
    "import { main } from '@medsign/cli'; process.exitCode = await main(process.argv.slice(1));",
    '--',
    ...args,
  ];
}

function run(args: string[], input: Uint8Array | string | undefined): CliRun<Buffer> {
  const r = spawnSync(process.execPath, cliArgs(args), {
    cwd: REPO_ROOT,
    input: input ?? '',
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
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

/**
 * `medsign ARGS` without blocking the event loop (for tests whose server runs in the same process);
 * stdout as UTF-8 text.
 */
export function runMedsignCliAsync(args: string[]): Promise<CliRun<string>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cliArgs(args), {
      cwd: REPO_ROOT,
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.end();
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A running `medsign start` child process. */
export type MedsignServerProcess = {
  child: ChildProcessWithoutNullStreams;
  /** Where it listens, as it printed it. */
  url: string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM by PID, then the exit code (graceful shutdown returns 0). */
  stop(): Promise<number | null>;
};

/**
 * Starts `medsign start ARGS` from the sources and resolves once it prints "listening on URL" (rejects
 * if it exits first or prints nothing within 30 s).
 */
export async function startMedsignServer(
  args: string[],
  name = 'medsign start',
): Promise<MedsignServerProcess> {
  const child = spawn(process.execPath, cliArgs(['start', ...args]), {
    cwd: REPO_ROOT,
    env: { ...process.env, NODE_NO_WARNINGS: '1', MEDSIGN_LOG_LEVEL: 'warn' },
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no URL within 30 s:\n${out}`)), 30_000);
    child.stdout.on('data', () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${name} exited early:\n${out}`));
    });
  });
  return {
    child,
    url,
    exited,
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      process.kill(child.pid!, 'SIGTERM');
      return exited;
    },
  };
}
