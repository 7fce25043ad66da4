/** Input/output helpers and the CLI's error type; exit codes are the same for every command. */

import { readFileSync, writeFileSync } from 'node:fs';

/** 0 success / valid, 1 invalid signature or failed check, 2 usage error or unreadable input. */
export const EXIT = { ok: 0, invalid: 1, usage: 2 } as const;

/** An error the CLI reports as one line on stderr with its exit code (no stack trace). */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
  }
}

/** Reads a file, or standard input when the path is undefined or "-". */
export function readInput(path: string | undefined, what = 'input'): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path === undefined || path === '-' ? 0 : path));
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new CliError(`cannot read ${what} ${path ?? '(stdin)'}: ${reason}`);
  }
}

/** Writes to a file, or standard output when the path is undefined or "-". */
export function writeOutput(path: string | undefined, data: Uint8Array | string): void {
  try {
    if (path === undefined || path === '-') process.stdout.write(data);
    else writeFileSync(path, data, typeof data === 'string' ? { encoding: 'utf8' } : {});
  } catch (e) {
    throw new CliError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Writes secret material with owner-only permissions. */
export function writeSecret(path: string | undefined, data: string): void {
  if (path === undefined || path === '-') {
    process.stdout.write(data);
    return;
  }
  try {
    writeFileSync(path, data, { mode: 0o600 });
  } catch (e) {
    throw new CliError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
