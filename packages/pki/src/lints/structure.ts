/** Structural lints: version and repeated extensions (RFC 5280 §4.1.2.1, §4.2). */

import { duplicateExtensionOids } from './raw.js';
import { fail, na, pass, type Lint } from './types.js';

/** Version and extension-structure lints. */
export const structureLints: readonly Lint[] = [
  {
    name: 'e_version_not_v3_with_extensions',
    citation: 'RFC 5280 §4.1.2.1',
    description: 'When extensions are present, the version MUST be 3.',
    source: 'RFC5280',
    check: (c) => {
      if (c.extensions.length === 0) return na('no extensions');
      return c.version === 3 ? pass() : fail(`version is v${c.version}`);
    },
  },
  {
    name: 'e_ext_duplicate',
    citation: 'RFC 5280 §4.2',
    description: 'A certificate MUST NOT include more than one instance of a particular extension.',
    source: 'RFC5280',
    check: (c) => {
      const dup = duplicateExtensionOids(c.tbsDer);
      return dup.length ? fail(`repeated: ${dup.join(', ')}`) : pass();
    },
  },
];
