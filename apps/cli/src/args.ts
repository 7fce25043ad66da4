/** Strict option parsing on node:util parseArgs, turning its errors into usage errors (exit 2). */

import { parseArgs } from 'node:util';
import { CliError } from './io.js';

/** medsign options: strings (possibly repeatable) and boolean flags. */
type Options = Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;

type ValueOf<T extends Options[string]> = T['type'] extends 'boolean'
  ? boolean
  : T['multiple'] extends true
    ? string[]
    : string;

export type Parsed<O extends Options> = { values: { [K in keyof O]?: ValueOf<O[K]> }; positionals: string[] };

export function parse<O extends Options>(argv: string[], options: O, maxPositionals = 0): Parsed<O> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: maxPositionals > 0, strict: true });
  } catch (e) {
    throw new CliError((e as Error).message.split('\n')[0]!);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new CliError(`unexpected argument ${parsed.positionals[maxPositionals]}`);
  }
  return parsed as Parsed<O>;
}

/** Requires an option to be present. */
export function required<T>(value: T | undefined, flag: string): T {
  if (value === undefined) throw new CliError(`missing ${flag}`);
  return value;
}
