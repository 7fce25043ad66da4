/** GM/T 0015 identity extension lints (gm-standards.md §1.4, §5.1). */

import { GM_IDENTITY_EXTENSION_OIDS, readGmIdentityExtension } from '../gm-extensions.js';
import { fail, na, pass, type Lint } from './types.js';

const identityExtensions = (c: Parameters<Lint['check']>[0]) =>
  c.extensions.filter((e) => GM_IDENTITY_EXTENSION_OIDS.includes(e.oid));

/** GM/T 0015 identity extension lints, run whenever such an extension is present. */
export const gmIdentityLints: readonly Lint[] = [
  {
    name: 'e_gm_identity_extension_malformed',
    citation: 'GM/T 0015-2012 / GM/T 0015-2023 identity extensions; gm-standards.md §1.4',
    description:
      'Each GM/T 0015 identity extension holds the string (or IdentityCode CHOICE) its table defines.',
    source: 'GMT0015',
    check: (c) => {
      const found = identityExtensions(c);
      if (found.length === 0) return na('no GM/T 0015 identity extensions');
      const bad: string[] = [];
      for (const e of found) {
        try {
          readGmIdentityExtension(e);
        } catch (err) {
          bad.push(`${e.oid}: ${(err as Error).message}`);
        }
      }
      return bad.length ? fail(bad.join('; ')) : pass();
    },
  },
  {
    name: 'w_gm_identity_extension_critical',
    citation: 'GM/T 0015 extension table (identity extensions non-critical); gm-standards.md §5.1',
    description:
      'GM/T 0015 identity extensions are non-critical, so relying parties that do not know them still work.',
    source: 'GMT0015',
    check: (c) => {
      const found = identityExtensions(c);
      if (found.length === 0) return na('no GM/T 0015 identity extensions');
      const critical = found.filter((e) => e.critical).map((e) => e.oid);
      return critical.length ? fail(`critical: ${critical.join(', ')}`) : pass();
    },
  },
];
