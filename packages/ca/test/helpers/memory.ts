/** In-memory ports for CA core tests. */
import { randomBytes } from 'node:crypto';
import type { PrivateKey } from '@medsign/pki';
import { makeHierarchy, MemoryCaStore, type TestHierarchy } from '@medsign/testkit';

export { MemoryCaStore };
import { BUILT_IN_PROFILES, type AuditEvent, type CaDeps } from '../../src/index.js';

export type TestCa = {
  deps: CaDeps;
  store: MemoryCaStore;
  audit: AuditEvent[];
  h: TestHierarchy;
  keyUses: string[];
};

/** A CA core wired to memory ports, with one issuing CA per given key type (the first type's hierarchy is `h`). */
export async function makeTestCa(types: ('sm2' | 'rsa-2048' | 'ec-p256')[] = ['sm2']): Promise<TestCa> {
  const store = new MemoryCaStore();
  const audit: AuditEvent[] = [];
  const keyUses: string[] = [];
  const keys = new Map<string, PrivateKey>();
  const hs = await Promise.all(types.map((t) => makeHierarchy(t)));
  const cas = hs.map((h, i) => {
    keys.set(`key-${types[i]}`, h.intermediate.key);
    return {
      id: types[i]!.split('-')[0]!,
      certificate: h.intermediate.cert,
      keyId: `key-${types[i]}`,
      chain: [h.root.cert],
    };
  });
  const deps: CaDeps = {
    clock: { now: () => new Date() },
    store,
    audit: { append: async (e) => void audit.push(e) },
    keys: {
      signer: async (keyId, purpose) => {
        const signer = keys.get(keyId)!.signer();
        return { ...signer, sign: async (data: Uint8Array) => (keyUses.push(purpose), signer.sign(data)) };
      },
    },
    cas,
    profiles: BUILT_IN_PROFILES,
    urls: { baseUrl: 'http://127.0.0.1:8080/' },
    randomBytes: (n) => new Uint8Array(randomBytes(n)),
  };
  return { deps, store, audit, h: hs[0]!, keyUses };
}
