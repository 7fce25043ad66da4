/** The SM2 backends to run tests against. CI requires both (MEDSIGN_REQUIRE_NATIVE=1). */
import { tryNativeBackend, type Sm2BackendName } from '../../src/sm2/select.js';

export function availableBackends(): Sm2BackendName[] {
  const native = tryNativeBackend();
  if (!native.backend && process.env.MEDSIGN_REQUIRE_NATIVE === '1') {
    throw new Error(`MEDSIGN_REQUIRE_NATIVE=1 but the native SM2 addon is unavailable: ${native.error}`);
  }
  return native.backend ? ['native', 'portable'] : ['portable'];
}
