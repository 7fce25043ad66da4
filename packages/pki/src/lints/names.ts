/** Name lints: countryName syntax and the empty-subject rule (RFC 5280 §4.1.2.6, Appendix A; X.520). */

import * as oid from '../oids.js';
import { nameAttributes } from '../name.js';
import { fail, na, pass, type Lint } from './types.js';

/** Subject name lints. */
export const nameLints: readonly Lint[] = [
  {
    name: 'e_country_name_invalid',
    citation: 'RFC 5280 Appendix A (X520countryName); X.520 §6.3.1',
    description: 'countryName is a PrintableString of two letters (ISO 3166-1 alpha-2, upper case).',
    source: 'RFC5280',
    check: (c) => {
      const values = c.subject.flatMap((rdn) => rdn.filter((atv) => atv.type === oid.id_at_countryName));
      if (values.length === 0) return na('no countryName');
      const bad = values.filter((atv) => {
        const p = atv.value.printableString;
        return p === undefined || !/^[A-Z]{2}$/.test(p);
      });
      return bad.length
        ? fail(
            `countryName ${bad.map((b) => JSON.stringify(b.value.toString())).join(', ')} is not a 2-letter PrintableString`,
          )
        : pass();
    },
  },
  {
    name: 'e_subject_empty_without_san',
    citation: 'RFC 5280 §4.1.2.6, §4.2.1.6',
    description: 'With an empty subject, subjectAltName MUST be present and critical.',
    source: 'RFC5280',
    check: (c) => {
      if (nameAttributes(c.subject).length) return na('subject not empty');
      const san = c.extension(oid.id_ce_subjectAltName);
      if (!san) return fail('empty subject and no subjectAltName');
      return san.critical ? pass() : fail('empty subject and subjectAltName is not critical');
    },
  },
];
