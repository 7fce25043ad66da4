/**
 * `medsign user add`: operator accounts on a data directory. The first administrator comes from
 * `medsign init`; the others — a security administrator who reviews applications, an audit
 * administrator — are added here, each with a one-time password shown once.
 */

import { createAccount, OPERATOR_ROLES, type OperatorRole } from '@medsign/server/services';
import { parse, required } from '../args.js';
import { CliError, EXIT } from '../io.js';
import { actor, withServices } from './ca-admin.js';
import { DATA_OPTIONS } from './server-args.js';

export const USER_USAGE = `Operator accounts:
  medsign user add --username NAME --role security-admin[,ra…]   prints a one-time password (change it at first login)
                   roles: ${OPERATOR_ROLES.join(', ')} (admin: system, security-admin: reviews and revokes, auditor: audit log)`;

/** `medsign user add …`. */
export async function userCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'add') throw new CliError(sub ? `unknown command user ${sub}` : 'missing user command (add)');
  const { values } = parse(rest, {
    ...DATA_OPTIONS,
    username: { type: 'string' },
    role: { type: 'string' },
    operator: { type: 'string' },
  });
  const username = required(values.username, '--username NAME');
  if (!/^[\w.@-]{1,64}$/.test(username))
    throw new CliError('--username must be 1–64 letters, digits or . _ @ -');
  const roles = required(values.role, '--role ROLE')
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  const unknown = roles.filter((r) => !(OPERATOR_ROLES as readonly string[]).includes(r));
  if (roles.length === 0 || unknown.length)
    throw new CliError(`--role must be one or more of ${OPERATOR_ROLES.join(', ')}`);
  const who = actor(values.operator);
  return withServices(values, async (s) => {
    const account = await createAccount(s.store, {
      username,
      roles: roles as OperatorRole[],
      actor: who,
    });
    process.stdout.write(
      `created account ${account.username} (${roles.join(', ')})\n  one-time password: ${account.password}\n`,
    );
    return EXIT.ok;
  });
}
