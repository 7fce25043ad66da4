/** Temporary directories for tests that hand files to peers and CLIs. */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type TempDir = {
  /** The directory. */
  path: string;
  /** The path of `name` inside it; writes `data` there first when given. */
  file(name: string, data?: Uint8Array | string): string;
  /** Removes the directory and everything in it. */
  cleanup(): void;
};

/** Creates a fresh directory under the OS temp dir (`prefix` names it, e.g. 'medsign-crl-'). */
export function tempDir(prefix = 'medsign-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return {
    path,
    file(name, data) {
      const p = join(path, name);
      if (data !== undefined) writeFileSync(p, data);
      return p;
    },
    cleanup: () => rmSync(path, { recursive: true, force: true }),
  };
}
