/**
 * The signing core's ports in memory for its unit tests: a SignStore over maps, keys as pki PrivateKeys,
 * a CA that issues with a testkit hierarchy, certificate statuses set by the test, a fast scrypt PIN
 * hasher, a sealed-secret box on SM4-GCM, and an RFC 3161 TimeStamper built on pki's token builder.
 */

import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { sm4Decrypt, sm4Encrypt } from '@medsign/gm';
import { ParsedCertificate, PrivateKey, signTimeStampToken, type KeyType } from '@medsign/pki';
import { issueTestCertificate, makeHierarchy, type TestHierarchy } from '@medsign/testkit';
import type {
  AppDeps,
  AuthorisationRecord,
  AppRecord,
  AuditEvent,
  CertificateStatus,
  IssuedCertificate,
  SealedOriginal,
  SignatureQuery,
  SignatureRecord,
  SignerRecord,
  SigningDeps,
  SignStore,
  TimeStamper,
} from '../../src/index.js';

export class MemorySignStore implements SignStore {
  apps = new Map<string, AppRecord>();
  nonces = new Map<string, Date>();
  signers = new Map<string, SignerRecord>();
  signatures: SignatureRecord[] = [];
  authorisations = new Map<string, AuthorisationRecord>();

  async insertAuthorisation(a: AuthorisationRecord) {
    this.authorisations.set(a.id, { ...a });
  }
  async getAuthorisation(id: string) {
    const a = this.authorisations.get(id);
    return a && { ...a };
  }
  async listAuthorisations(signerId: string, limit: number) {
    return [...this.authorisations.values()]
      .filter((a) => a.signerId === signerId)
      .sort((a, b) => b.expiresAt.getTime() - a.expiresAt.getTime())
      .slice(0, limit)
      .map((a) => ({ ...a }));
  }
  async revokeAuthorisation(id: string, now: Date) {
    const a = this.authorisations.get(id);
    if (!a || a.revokedAt) return false;
    a.revokedAt = now;
    return true;
  }

  async insertApp(app: AppRecord) {
    this.apps.set(app.id, structuredClone(app));
  }
  async getApp(id: string) {
    return this.apps.get(id);
  }
  async useNonce(appId: string, nonce: string, expiresAt: Date, now: Date) {
    for (const [k, v] of this.nonces) if (v <= now) this.nonces.delete(k);
    const key = `${appId}\0${nonce}`;
    if (this.nonces.has(key)) return false;
    this.nonces.set(key, expiresAt);
    return true;
  }
  async insertSigner(s: SignerRecord) {
    if ([...this.signers.values()].some((x) => x.employeeNo === s.employeeNo)) return false;
    this.signers.set(s.id, { ...s });
    return true;
  }
  async getSigner(id: string) {
    const s = this.signers.get(id);
    return s && { ...s };
  }
  async getSignerByEmployeeNo(no: string) {
    const s = [...this.signers.values()].find((x) => x.employeeNo === no);
    return s && { ...s };
  }
  async recordWrongPin(id: string, max: number, now: Date) {
    const s = this.signers.get(id)!;
    s.failedPins += 1;
    if (s.failedPins >= max) s.locked = true;
    s.updatedAt = now;
    return { ...s };
  }
  async clearWrongPins(id: string) {
    this.signers.get(id)!.failedPins = 0;
  }
  async unlockSigner(id: string) {
    const s = this.signers.get(id)!;
    if (!s.locked) return false;
    s.locked = false;
    s.failedPins = 0;
    return true;
  }
  /** The audit log the signature events go to with their records (makeWorld shares it with the AuditSink). */
  events: AuditEvent[] = [];
  originals = new Map<string, SealedOriginal>();
  async insertSignature(r: SignatureRecord, event: AuditEvent, original?: SealedOriginal) {
    if (
      r.idempotencyKey &&
      this.signatures.some((x) => x.appId === r.appId && x.idempotencyKey === r.idempotencyKey)
    )
      return false;
    this.events.push(event);
    // The memory "chain": seq is the event's position, the hash a stand-in.
    this.signatures.push({ ...r, audit: { seq: this.events.length, hash: `h${this.events.length}` } });
    if (original) this.originals.set(r.id, original);
    return true;
  }
  async getOriginal(id: string) {
    return this.originals.get(id);
  }
  async getSignature(id: string) {
    return this.signatures.find((r) => r.id === id);
  }
  async findSignatureByIdempotencyKey(appId: string, key: string) {
    return this.signatures.find((r) => r.appId === appId && r.idempotencyKey === key);
  }
  async searchSignatures(q: SignatureQuery) {
    const all = this.signatures.filter(
      (r) =>
        (!q.employeeNo || r.employeeNo === q.employeeNo) &&
        (!q.appId || r.appId === q.appId) &&
        (!q.docType || r.metadata.docType === q.docType) &&
        (!q.docId || r.metadata.docId === q.docId) &&
        (!q.departmentCode || r.metadata.departmentCode === q.departmentCode) &&
        (!q.from || r.createdAt >= q.from) &&
        (!q.to || r.createdAt < q.to),
    );
    return { total: all.length, items: all.slice(q.offset ?? 0, (q.offset ?? 0) + q.limit) };
  }
}

/** A TimeStamper on pki's RFC 3161 builders, signed by the hierarchy's TSA certificate. */
export function testTimeStamper(h: TestHierarchy, now: () => Date): TimeStamper & { calls: number } {
  let serial = 1n;
  const stamper = {
    calls: 0,
    async timestamp(value: Uint8Array) {
      stamper.calls++;
      const sm2 = h.tsa.cert.publicKey.family === 'sm2';
      const { digest } = await import('@medsign/pki');
      const hash = sm2 ? 'sm3' : 'sha256';
      return signTimeStampToken(
        {
          policy: '1.2.3.4.1',
          messageImprint: { hash, hashedMessage: digest(hash, value) },
          serialNumber: serial++,
          genTime: now(),
        },
        h.tsa.key.signer(),
        h.tsa.cert,
        true,
        { certificates: [h.intermediate.cert] },
      );
    },
  };
  return stamper;
}

export type MemoryWorld = {
  deps: SigningDeps & AppDeps & { store: MemorySignStore };
  h: TestHierarchy;
  events: AuditEvent[];
  statuses: Map<string, CertificateStatus>;
  keys: Map<string, PrivateKey>;
  /** The CA's records of what it issued (serial → record), for pre-made signatures and evidence. */
  issued: Map<string, IssuedCertificate>;
  setNow(d: Date): void;
};

const fastScrypt = { N: 1024, r: 8, p: 1 };

/** One world of memory ports over a fresh SM2 (or other) hierarchy. */
export async function makeWorld(type: KeyType = 'sm2'): Promise<MemoryWorld> {
  const h = await makeHierarchy(type);
  const store = new MemorySignStore();
  const events = store.events;
  const statuses = new Map<string, CertificateStatus>();
  const keys = new Map<string, PrivateKey>();
  const issued = new Map<string, IssuedCertificate>();
  let now = new Date();
  const sealKey = randomBytes(16);
  const deps: MemoryWorld['deps'] = {
    clock: { now: () => now },
    store,
    audit: { append: async (e) => void events.push(e) },
    keys: {
      async generate(keyType) {
        const id = `key-${keys.size + 1}`;
        const key = PrivateKey.generate(keyType);
        keys.set(id, key);
        return { id, publicKeyInfo: key.publicKeyInfo };
      },
      async signer(id) {
        return keys.get(id)!.signer();
      },
    },
    issuer: {
      async issue(req) {
        const key = [...keys.values()].find(
          (k) => Buffer.compare(Buffer.from(k.publicKeyInfo), Buffer.from(req.publicKeyInfo)) === 0,
        )!;
        const e = await issueTestCertificate({
          subject: [
            ['C', 'CN'],
            ['OU', req.applicant.department],
            ['CN', req.applicant.name],
          ],
          key,
          issuer: h.intermediate,
        });
        statuses.set(e.cert.serialNumber, 'good');
        issued.set(e.cert.serialNumber, {
          der: e.cert.der,
          employeeNo: req.applicant.employeeNo,
          status: 'good',
        });
        return {
          certificate: ParsedCertificate.parse(e.cert.der),
          caId: 'test',
          serial: e.cert.serialNumber,
        };
      },
    },
    status: { status: async (_ca, serial) => statuses.get(serial) ?? 'unknown' },
    certificates: {
      async get(_ca, serial) {
        const c = issued.get(serial);
        return c && { ...c, status: statuses.get(serial) ?? c.status };
      },
    },
    pins: {
      async hash(pin) {
        const salt = randomBytes(16);
        return `${salt.toString('hex')}$${scryptSync(pin, salt, 32, fastScrypt).toString('hex')}`;
      },
      async verify(pin, stored) {
        const [salt, hash] = stored.split('$');
        return timingSafeEqual(
          scryptSync(pin, Buffer.from(salt!, 'hex'), 32, fastScrypt),
          Buffer.from(hash!, 'hex'),
        );
      },
    },
    originals: {
      async seal(plain, context) {
        const iv = randomBytes(12);
        const ct = sm4Encrypt(plain, {
          mode: 'gcm',
          key: sealKey,
          iv,
          aad: new TextEncoder().encode(`o\0${context}`),
        });
        return new Uint8Array(Buffer.concat([iv, ct]));
      },
      async open(sealed, context) {
        return sm4Decrypt(sealed.subarray(12), {
          mode: 'gcm',
          key: sealKey,
          iv: sealed.subarray(0, 12),
          aad: new TextEncoder().encode(`o\0${context}`),
        });
      },
    },
    secrets: {
      async seal(plain, context) {
        const iv = randomBytes(12);
        const ct = sm4Encrypt(plain, {
          mode: 'gcm',
          key: sealKey,
          iv,
          aad: new TextEncoder().encode(context),
        });
        return new Uint8Array(Buffer.concat([iv, ct]));
      },
      async open(sealed, context) {
        return sm4Decrypt(sealed.subarray(12), {
          mode: 'gcm',
          key: sealKey,
          iv: sealed.subarray(0, 12),
          aad: new TextEncoder().encode(context),
        });
      },
    },
  };
  return { deps, h, events, statuses, keys, issued, setNow: (d) => (now = d) };
}
