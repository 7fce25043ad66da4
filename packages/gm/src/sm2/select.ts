/**
 * Chooses the SM2 backend once per process: the native addon when it loads, otherwise the portable
 * TypeScript path with a process warning. MEDSIGN_GM_BACKEND=native|portable forces one (native then
 * fails loudly if the addon is missing).
 */

import type { Sm2Backend } from './backend.js';
import { loadNativeBackend } from './native.js';
import { portableBackend } from './portable.js';

export type Sm2BackendName = 'native' | 'portable';

let active: Sm2Backend | undefined;
let nativeCache: { backend?: Sm2Backend; error?: string } | undefined;

/** The native backend, or undefined with the reason it could not be loaded. */
export function tryNativeBackend(): { backend?: Sm2Backend; error?: string } {
  if (!nativeCache) {
    try {
      nativeCache = { backend: loadNativeBackend() };
    } catch (e) {
      nativeCache = { error: e instanceof Error ? e.message : String(e) };
    }
  }
  return nativeCache;
}

/** A backend by name; throws if the native one is asked for and unavailable. */
export function getSm2Backend(name: Sm2BackendName): Sm2Backend {
  if (name === 'portable') return portableBackend;
  if (name !== 'native') throw new RangeError(`unknown SM2 backend ${String(name)}`);
  const native = tryNativeBackend();
  if (!native.backend) throw new Error(`native SM2 backend unavailable: ${native.error}`);
  return native.backend;
}

/** The backend in use (chosen on first call). */
export function activeSm2Backend(): Sm2Backend {
  if (active) return active;
  const forced = globalThis.process?.env?.MEDSIGN_GM_BACKEND;
  if (forced === 'native' || forced === 'portable') {
    active = getSm2Backend(forced);
  } else if (forced !== undefined && forced !== '' && forced !== 'auto') {
    throw new RangeError(
      `MEDSIGN_GM_BACKEND must be native, portable or auto, not ${JSON.stringify(forced)}`,
    );
  } else {
    const native = tryNativeBackend();
    if (native.backend) {
      active = native.backend;
    } else {
      process.emitWarning(
        `native SM2 addon unavailable (${native.error}); using the portable TypeScript path`,
        {
          code: 'MEDSIGN_GM_PORTABLE',
        },
      );
      active = portableBackend;
    }
  }
  return active;
}

/** Switches the process-wide backend (tests and benchmarks compare both). */
export function useSm2Backend(name: Sm2BackendName): void {
  active = getSm2Backend(name);
}
