/** Options shared by the commands that work on a data directory (init, start, cert …, crl, audit). */

import { DomainError } from '@medsign/errors';
import { CliError, EXIT } from '../io.js';

/** `--data DIR` (default $MEDSIGN_DATA or ./medsign-data) and `--config FILE`. */
export const DATA_OPTIONS = {
  data: { type: 'string' },
  config: { type: 'string' },
} as const;

/** The data directory from --data, $MEDSIGN_DATA, or ./medsign-data (which .gitignore ignores). */
export function dataDirOf(value: string | undefined): string {
  return value ?? process.env.MEDSIGN_DATA ?? 'medsign-data';
}

/**
 * Turns a domain or keystore error into a one-line CLI error: configuration problems and a missing
 * installation are usage errors (exit 2), refusals of the CA (unknown serial, already revoked …) exit 1.
 */
export function cliErrorOf(e: unknown): unknown {
  if (e instanceof CliError) return e;
  if (e instanceof DomainError) {
    const usage = e.code === 'CONFIG_INVALID' || e.code === 'SERVER_NOT_INITIALIZED';
    return new CliError(`${e.code}: ${e.detail}`, usage ? EXIT.usage : EXIT.invalid);
  }
  const code = (e as { code?: unknown }).code;
  if (e instanceof Error && typeof code === 'string' && code.startsWith('KEYSTORE_'))
    return new CliError(`${code}: ${e.message.replace(/^KEYSTORE_\w+: /, '')}`, EXIT.usage);
  return e;
}
