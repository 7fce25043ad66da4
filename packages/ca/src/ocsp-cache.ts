/**
 * Pre-signed OCSP responses (the RFC 5019 "lightweight OCSP" practice): a response to a request for one
 * certificate without a nonce does not depend on who asks, so the signed answer is kept and served again
 * until it is `maxAgeMs` old. This is what lets a responder answer far more requests than its key can
 * sign; requests with a nonce (RFC 8954) are always signed afresh.
 *
 * Freshness: revoking, holding or resuming a certificate through the CA core drops its cached answers at
 * once (revocation.ts calls {@link OcspResponseCache.invalidate}), and an answer computed while an
 * invalidation happened is never stored. A revocation made by ANOTHER process sharing the database is
 * only seen when the cached answer expires, so `maxAgeMs` bounds that delay (default one minute — far
 * below the 24 hours relying parties already accept from a CRL).
 */

import { bytesToHex } from '@medsign/gm';

/** Options of {@link OcspResponseCache}. */
export type OcspResponseCacheOptions = {
  /** How long a signed answer is served again, in ms (default 60 000; 0 turns caching off). */
  maxAgeMs?: number;
  /** Bound on cached answers; the least recently stored go first (default 50 000, some tens of MB). */
  maxEntries?: number;
};

/** One cached answer: the DER response and the statuses it carries (for metrics without re-parsing). */
export type CachedOcspAnswer = { der: Uint8Array; statuses: readonly string[] };

type Entry = CachedOcspAnswer & { expiresAt: number; ref: string };

/** Cached OCSP answers keyed by the request's CertID (hash algorithm, issuer hashes, serial). */
export class OcspResponseCache {
  readonly maxAgeMs: number;
  readonly maxEntries: number;
  readonly #entries = new Map<string, Entry>();
  /** `caId/serial` → keys of its cached answers (one per CertID hash algorithm a client used). */
  readonly #byCertificate = new Map<string, Set<string>>();
  #epoch = 0;

  constructor(options: OcspResponseCacheOptions = {}) {
    const maxAgeMs = options.maxAgeMs ?? 60_000;
    const maxEntries = options.maxEntries ?? 50_000;
    if (!Number.isFinite(maxAgeMs) || maxAgeMs < 0) throw new RangeError('maxAgeMs must be ≥ 0');
    if (!Number.isInteger(maxEntries) || maxEntries < 1)
      throw new RangeError('maxEntries must be a positive integer');
    this.maxAgeMs = maxAgeMs;
    this.maxEntries = maxEntries;
  }

  /** Number of cached answers (expired ones included until they are looked up or evicted). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * A token to pass back to {@link set}: an answer whose computation began before an invalidation is
   * not stored, so a response read as 'good' just before a revocation is never cached after it.
   */
  epoch(): number {
    return this.#epoch;
  }

  /** The cached answer for a CertID (DER), if there is one younger than maxAgeMs at `now`. */
  get(certIdDer: Uint8Array, now: Date): CachedOcspAnswer | undefined {
    const key = bytesToHex(certIdDer);
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now.getTime()) {
      this.#delete(key, entry);
      return undefined;
    }
    return entry;
  }

  /** Stores an answer about certificate `serial` of `caId`, unless an invalidation happened since `epoch`. */
  set(
    certIdDer: Uint8Array,
    ref: { caId: string; serial: string },
    answer: CachedOcspAnswer,
    now: Date,
    epoch: number,
  ): void {
    if (this.maxAgeMs === 0 || epoch !== this.#epoch) return;
    const key = bytesToHex(certIdDer);
    const certificate = `${ref.caId}/${ref.serial}`;
    const old = this.#entries.get(key);
    if (old) this.#delete(key, old);
    this.#entries.set(key, {
      der: answer.der,
      statuses: answer.statuses,
      expiresAt: now.getTime() + this.maxAgeMs,
      ref: certificate,
    });
    let keys = this.#byCertificate.get(certificate);
    if (!keys) this.#byCertificate.set(certificate, (keys = new Set()));
    keys.add(key);
    while (this.#entries.size > this.maxEntries) {
      const [oldestKey, oldest] = this.#entries.entries().next().value as [string, Entry];
      this.#delete(oldestKey, oldest);
    }
  }

  /** Drops every cached answer about a certificate (its status changed). */
  invalidate(caId: string, serial: string): void {
    this.#epoch++;
    const certificate = `${caId}/${serial}`;
    for (const key of this.#byCertificate.get(certificate) ?? []) this.#entries.delete(key);
    this.#byCertificate.delete(certificate);
  }

  /** Drops everything (a CA key or certificate changed). */
  clear(): void {
    this.#epoch++;
    this.#entries.clear();
    this.#byCertificate.clear();
  }

  #delete(key: string, entry: Entry): void {
    this.#entries.delete(key);
    const keys = this.#byCertificate.get(entry.ref);
    keys?.delete(key);
    if (keys?.size === 0) this.#byCertificate.delete(entry.ref);
  }
}
