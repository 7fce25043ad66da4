/**
 * How responses and operator listings show personal values: the edges kept, the middle starred. One
 * place, used by the API routes and the CLI (the audit log masks with its own rule, adapters/audit.ts).
 */

import type { Applicant } from '@medsign/ca';

/** Masks all but the edges of a personal value: 110101199001011234 → 110101********1234. */
export function maskPersonal(value: string, keepStart: number, keepEnd: number): string {
  // Code points, not UTF-16 units (names may hold characters beyond the BMP); keepEnd 0 keeps nothing at the end.
  const chars = [...value];
  if (chars.length <= keepStart + keepEnd) return '*'.repeat(chars.length);
  return (
    chars.slice(0, keepStart).join('') +
    '*'.repeat(chars.length - keepStart - keepEnd) +
    chars.slice(chars.length - keepEnd).join('')
  );
}

/** The applicant as a response may show it: ID number and phone masked. */
export function maskApplicant(a: Applicant): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(a)) {
    if (v === undefined) continue;
    out[k] = k === 'idNumber' ? maskPersonal(v, 6, 4) : k === 'phone' ? maskPersonal(v, 3, 4) : v;
  }
  return out;
}
