/** Validity lints (RFC 5280 §4.1.2.5): order, time type by year, and the exact time formats. */

import type { Tlv } from '@medsign/gm/der';
import { rawTbs } from './raw.js';
import { fail, pass, type Lint } from './types.js';

const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;

const text = (t: Tlv) => Buffer.from(t.value).toString('latin1');

/** The calendar year a raw Time names (UTCTime YY: 50–99 → 19YY, 00–49 → 20YY). */
function yearOf(t: Tlv): number {
  const s = text(t);
  if (t.tag === UTC_TIME) {
    const yy = Number(s.slice(0, 2));
    return yy >= 50 ? 1900 + yy : 2000 + yy;
  }
  return Number(s.slice(0, 4));
}

function timeProblems(t: Tlv, label: string): string[] {
  const s = text(t);
  if (t.tag === UTC_TIME) return /^\d{12}Z$/.test(s) ? [] : [`${label} UTCTime "${s}" is not YYMMDDHHMMSSZ`];
  if (t.tag === GENERALIZED_TIME) {
    if (/^\d{14}\.\d+Z$/.test(s)) return [`${label} GeneralizedTime "${s}" has fractional seconds`];
    return /^\d{14}Z$/.test(s) ? [] : [`${label} GeneralizedTime "${s}" is not YYYYMMDDHHMMSSZ`];
  }
  return [`${label} has tag 0x${t.tag.toString(16)}, not UTCTime or GeneralizedTime`];
}

/** Validity period lints: order, time type per year, exact time syntax. */
export const validityLints: readonly Lint[] = [
  {
    name: 'e_validity_inverted',
    citation: 'RFC 5280 §4.1.2.5',
    description: 'notBefore must be earlier than notAfter; otherwise the certificate is never valid.',
    source: 'RFC5280',
    check: (c) =>
      c.notBefore < c.notAfter
        ? pass()
        : fail(`notBefore ${c.notBefore.toISOString()} is not before notAfter ${c.notAfter.toISOString()}`),
  },
  {
    name: 'e_validity_time_type',
    citation: 'RFC 5280 §4.1.2.5',
    description: 'Dates through 2049 MUST be UTCTime; dates in 2050 or later MUST be GeneralizedTime.',
    source: 'RFC5280',
    check: (c) => {
      const { notBefore, notAfter } = rawTbs(c.tbsDer);
      const bad: string[] = [];
      for (const [label, t] of [
        ['notBefore', notBefore],
        ['notAfter', notAfter],
      ] as const) {
        const year = yearOf(t);
        const wantUtc = year >= 1950 && year <= 2049;
        if (wantUtc && t.tag !== UTC_TIME) bad.push(`${label} (${year}) must be UTCTime`);
        if (!wantUtc && t.tag !== GENERALIZED_TIME) bad.push(`${label} (${year}) must be GeneralizedTime`);
      }
      return bad.length ? fail(bad.join('; ')) : pass();
    },
  },
  {
    name: 'e_validity_time_format',
    citation: 'RFC 5280 §4.1.2.5.1, §4.1.2.5.2',
    description: 'Validity times MUST be Zulu, MUST include seconds and MUST NOT include fractional seconds.',
    source: 'RFC5280',
    check: (c) => {
      const { notBefore, notAfter } = rawTbs(c.tbsDer);
      const bad = [...timeProblems(notBefore, 'notBefore'), ...timeProblems(notAfter, 'notAfter')];
      return bad.length ? fail(bad.join('; ')) : pass();
    },
  },
];
