/**
 * CRL publication: full and delta CRLs signed on a schedule (config `crl`) and at once after a revocation,
 * hold or resume, and stored in the database (`crls`, store migration 0006). Every server process sharing
 * the database serves the newest stored CRL of each kind, so they all hand out the same CRL, and CRL
 * numbers (one counter per CA for full and delta CRLs, RFC 5280 §5.2.3) increase across processes.
 *
 * A delta CRL names its base — the newest full CRL — in deltaCRLIndicator and lists what was revoked or
 * put on hold since that base's thisUpdate, less {@link DELTA_OVERLAP_MS}: a revocation dated just before
 * the base but committed just after it (another process, clock skew) is listed again rather than lost.
 * Status changes that remove an entry (resume from hold) publish a new full CRL and a delta over it, so no
 * delta needs removeFromCRL.
 */

import type { CaBackend, Clock } from '@medsign/ca';
import { DomainError } from '@medsign/errors';
import type { CrlInfo, CrlKind, CrlRecord } from '@medsign/store';
import type { CrlSchedule } from './config.js';

export type { CrlKind } from '@medsign/store';

/** Where published CRLs are kept: @medsign/store's CrlRepository (tests: a memory one). */
export interface CrlArchive {
  insert(crl: Omit<CrlRecord, 'createdAt'>): Promise<void>;
  latestInfo(caId: string, kind: CrlKind): Promise<CrlInfo | undefined>;
  get(caId: string, crlNumber: bigint): Promise<CrlRecord | undefined>;
}

/** How far before its base's thisUpdate a delta CRL starts listing revocations. */
export const DELTA_OVERLAP_MS = 5 * 60_000;

const MINUTE = 60_000;

/** Options of {@link CrlPublisher}. */
export type CrlPublisherOptions = {
  backend: CaBackend;
  archive: CrlArchive;
  /** The issuing CAs whose CRLs are published. */
  caIds: () => readonly string[];
  clock: Clock;
  schedule: CrlSchedule;
};

type Pending = { what: CrlKind; promise: Promise<void> };

/** Signs, stores and hands out a CA's CRLs. One per process (services.ts); the schedule runs in the server. */
export class CrlPublisher {
  readonly #o: CrlPublisherOptions;
  /** Newest CRL bytes read per (CA, kind): a 100,000-entry CRL is read from the database once, not per request. */
  readonly #cache = new Map<string, CrlRecord>();
  /** Per CA: the publication running now, and the one queued behind it (requests meanwhile join it). */
  readonly #running = new Map<string, Promise<void>>();
  readonly #pending = new Map<string, Pending>();
  /** Told about every CRL published / every publication that failed (the app's metrics and log). */
  readonly listeners = new Set<(caId: string, kind: CrlKind, crlNumber: bigint) => void>();
  readonly errorListeners = new Set<(caId: string, error: unknown) => void>();
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> | undefined;

  constructor(options: CrlPublisherOptions) {
    this.#o = options;
  }

  /** The schedule this publisher follows. */
  get schedule(): CrlSchedule {
    return this.#o.schedule;
  }

  #known(caId: string): void {
    if (!this.#o.caIds().includes(caId)) throw new DomainError('CA_NOT_FOUND', `no CA "${caId}"`);
  }

  /**
   * The newest CRL of a kind, as stored. Waits for a publication of this CA still running in this process
   * (a revocation's), and publishes one when none is stored yet.
   */
  async current(caId: string, kind: CrlKind): Promise<CrlRecord> {
    this.#known(caId);
    await (this.#pending.get(caId)?.promise ?? this.#running.get(caId))?.catch(() => undefined);
    let info = await this.#o.archive.latestInfo(caId, kind);
    if (!info) {
      await this.publish(caId, 'full');
      info = await this.#o.archive.latestInfo(caId, kind);
      if (!info) throw new Error(`no ${kind} CRL of ${caId} after publishing one`);
    }
    const key = `${caId}/${kind}`;
    const cached = this.#cache.get(key);
    if (cached && cached.crlNumber === info.crlNumber) return cached;
    const record = await this.#o.archive.get(caId, info.crlNumber);
    if (!record) return this.current(caId, kind); // pruned meanwhile by a newer one: read that
    if (!cached || cached.crlNumber < record.crlNumber) this.#cache.set(key, record);
    return record;
  }

  /**
   * Publishes now: 'full' signs a full CRL and a delta over it, 'delta' a delta over the newest full CRL
   * (a full one if there is none). Calls made while a publication of the CA runs share the next one.
   */
  publish(caId: string, what: CrlKind): Promise<void> {
    this.#known(caId);
    const pending = this.#pending.get(caId);
    if (pending) {
      if (what === 'full') pending.what = 'full';
      return pending.promise;
    }
    const before = this.#running.get(caId)?.catch(() => undefined) ?? Promise.resolve();
    const entry: Pending = { what, promise: Promise.resolve() };
    entry.promise = before.then(async () => {
      this.#pending.delete(caId);
      const run = this.#publishNow(caId, entry.what);
      this.#running.set(caId, run);
      try {
        await run;
      } finally {
        if (this.#running.get(caId) === run) this.#running.delete(caId);
      }
    });
    this.#pending.set(caId, entry);
    return entry.promise;
  }

  /** After a revocation, hold or resume: a full CRL and a delta at once (not awaited by the caller). */
  changed(caId: string): void {
    this.publish(caId, 'full').catch((e: unknown) => this.#failed(caId, e));
  }

  async #publishNow(caId: string, what: CrlKind): Promise<void> {
    const { backend, archive, schedule } = this.#o;
    let base: Pick<CrlInfo, 'crlNumber' | 'thisUpdate'> | undefined =
      what === 'delta' ? await archive.latestInfo(caId, 'full') : undefined;
    if (!base) {
      const full = await backend.signCrl({
        caId,
        validityHours: schedule.validityHours,
        actor: 'system:crl-publisher',
      });
      await archive.insert({
        caId,
        crlNumber: full.crlNumber,
        kind: 'full',
        baseNumber: null,
        thisUpdate: full.thisUpdate,
        nextUpdate: full.nextUpdate,
        entries: full.entries,
        der: full.der,
      });
      this.#published(caId, 'full', full.crlNumber);
      base = full;
    }
    const delta = await backend.signCrl({
      caId,
      validityMinutes: schedule.deltaValidityMinutes,
      delta: {
        baseCrlNumber: base.crlNumber,
        since: new Date(base.thisUpdate.getTime() - DELTA_OVERLAP_MS),
      },
      actor: 'system:crl-publisher',
    });
    await archive.insert({
      caId,
      crlNumber: delta.crlNumber,
      kind: 'delta',
      baseNumber: base.crlNumber,
      thisUpdate: delta.thisUpdate,
      nextUpdate: delta.nextUpdate,
      entries: delta.entries,
      der: delta.der,
    });
    this.#published(caId, 'delta', delta.crlNumber);
  }

  #failed(caId: string, error: unknown): void {
    for (const l of this.errorListeners) l(caId, error);
  }

  #published(caId: string, kind: CrlKind, crlNumber: bigint): void {
    for (const l of this.listeners) l(caId, kind, crlNumber);
  }

  /**
   * One scheduled run: per CA, a full CRL (with its delta) when the newest full one is an interval old or
   * missing, else a delta when the newest delta is an interval old, missing or over an older base. Reads
   * the database first, so of several processes the first to run publishes and the others see it.
   */
  async runDue(): Promise<void> {
    const now = this.#o.clock.now().getTime();
    const { fullIntervalMinutes, deltaIntervalMinutes } = this.#o.schedule;
    for (const caId of this.#o.caIds()) {
      try {
        const full = await this.#o.archive.latestInfo(caId, 'full');
        if (!full || now - full.thisUpdate.getTime() >= fullIntervalMinutes * MINUTE) {
          await this.publish(caId, 'full');
          continue;
        }
        const delta = await this.#o.archive.latestInfo(caId, 'delta');
        if (
          !delta ||
          delta.baseNumber !== full.crlNumber ||
          now - delta.thisUpdate.getTime() >= deltaIntervalMinutes * MINUTE
        )
          await this.publish(caId, 'delta');
      } catch (e) {
        this.#failed(caId, e);
      }
    }
  }

  /**
   * Starts the schedule: a run now, then one every minute (or a quarter of the delta interval, if shorter).
   * The timer does not keep the process alive.
   */
  start(): void {
    if (this.#timer) return;
    const every = Math.min(MINUTE, (this.#o.schedule.deltaIntervalMinutes * MINUTE) / 4);
    const tick = () => {
      this.#tick ??= this.runDue().finally(() => (this.#tick = undefined));
    };
    this.#timer = setInterval(tick, every);
    this.#timer.unref();
    tick();
  }

  /** Stops the schedule and waits for what is being published. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#tick;
    await Promise.all([...this.#pending.values()].map((p) => p.promise.catch(() => undefined)));
    await Promise.all([...this.#running.values()].map((p) => p.catch(() => undefined)));
  }

  /**
   * The newest CRLs past their nextUpdate, for /healthz (a stopped schedule, a locked keystore): one line
   * per CA and kind.
   */
  async overdue(): Promise<string[]> {
    const now = this.#o.clock.now().getTime();
    const out: string[] = [];
    for (const caId of this.#o.caIds()) {
      for (const kind of ['full', 'delta'] as const) {
        const info = await this.#o.archive.latestInfo(caId, kind);
        if (info && info.nextUpdate.getTime() <= now)
          out.push(`${caId} ${kind} CRL ${info.crlNumber} expired at ${info.nextUpdate.toISOString()}`);
      }
    }
    return out;
  }
}
