/**
 * Sign jobs wired onto the platform and run in the background of the server process: the @medsign/sign
 * job core's ports on the store (sign_jobs tables, audit log), the keystore (documents sealed while they
 * wait, the app secret that signs webhooks) and Node's fetch (webhook deliveries); and the scheduler that
 * signs jobs with bounded concurrency (a semaphore shared by every job of the process, so the sign API keeps
 * its share of the cores), resumes the jobs a stop or crash left in `signing`, expires jobs whose
 * authorisation never came, and delivers due webhooks.
 */

import {
  deliverSignJobWebhook,
  expireSignJobs,
  runSignJob,
  staleSignJobs,
  type SignJobDeps,
  type SignJobDocumentRecord,
  type SignJobRecord,
  type SignJobStore,
  type WebhookAttempt,
  type WebhookTransport,
} from '@medsign/sign';
import type { Store } from '@medsign/store';
import { maskDetail } from './adapters/audit.js';
import type { Services } from './services.js';

/**
 * The store's sign-job tables as the core's SignJobStore. States and enumerations are CHECK-constrained
 * text in the store, so reading them back as the core's unions is sound; this is the one place that says so.
 */
export function signJobStoreOf(store: Store): SignJobStore {
  const r = store.signJobs;
  const events = (
    list: {
      actor: string;
      action: string;
      target?: string;
      detail?: Record<string, string | number | boolean>;
    }[],
  ) =>
    list.map((e) => ({
      actor: e.actor,
      action: e.action,
      target: e.target ?? null,
      detail: maskDetail(e.detail),
    }));
  return {
    insertJob: (job, docs, e) => r.insertJob(job, docs, events(e)),
    getJob: async (id) => (await r.getJob(id)) as SignJobRecord | undefined,
    findJobByIdempotencyKey: async (appId, key) =>
      (await r.findJobByIdempotencyKey(appId, key)) as SignJobRecord | undefined,
    updateJob: (id, from, patch, e) => r.updateJob(id, from, patch, events(e)),
    jobIdsInState: (state, limit, filter) => r.jobIdsInState(state, limit, filter),
    pendingDocuments: async (jobId, limit) =>
      (await r.pendingDocuments(jobId, limit)) as SignJobDocumentRecord[],
    finishDocument: (jobId, seq, outcome, now) => r.finishDocument(jobId, seq, outcome, now),
    dropPayloads: (jobId) => r.dropPayloads(jobId),
    countDocuments: (jobId) => r.countDocuments(jobId),
    listDocuments: async (jobId, page) =>
      (await r.listDocuments(jobId, page)) as { total: number; items: SignJobDocumentRecord[] },
    dueWebhooks: (now, limit) => r.dueWebhooks(now, limit),
    claimWebhook: (jobId, attempts, now, leaseUntil) => r.claimWebhook(jobId, attempts, now, leaseUntil),
    recordWebhookAttempt: (a, patch, e) => r.recordWebhookAttempt(a, patch, events(e)),
    listWebhookAttempts: (jobId) => r.listWebhookAttempts(jobId) as Promise<WebhookAttempt[]>,
  };
}

/**
 * Webhook POSTs with Node's fetch: no redirects followed (a 3xx is a failed attempt), a timeout per attempt,
 * the answer's body discarded unread.
 */
export const fetchWebhookTransport: WebhookTransport = {
  async post(url, headers, body, timeoutMs) {
    const response = await fetch(url, {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel().catch(() => undefined);
    return { status: response.status };
  },
};

/** The job core's dependencies on the opened services. */
export function buildSignJobDeps(
  services: Services,
  options: { webhooks?: WebhookTransport; onUnexpectedError?: SignJobDeps['onUnexpectedError'] } = {},
): SignJobDeps {
  const sign = services.sign.deps;
  const c = services.config.sign;
  const personal = services.keystore.personalData;
  return {
    ...sign,
    jobs: signJobStoreOf(services.store),
    payloads: {
      seal: async (plaintext, context) =>
        personal.seal('signJobDocument', Buffer.from(plaintext).toString('base64'), context),
      open: async (sealed, context) =>
        new Uint8Array(Buffer.from(personal.open('signJobDocument', sealed, context), 'base64')),
    },
    limits: {
      maxDocuments: c.maxJobDocuments,
      maxBytes: c.maxJobBytes,
      expiryMinutes: c.jobExpiryMinutes,
      webhookMaxAttempts: c.webhookMaxAttempts,
      webhookRetrySeconds: c.webhookRetrySeconds,
      webhookTimeoutSeconds: c.webhookTimeoutSeconds,
    },
    async webhookSecret(appId) {
      const app = await sign.store.getApp(appId);
      if (!app) throw new Error(`application ${appId} is gone`);
      return new TextDecoder().decode(await sign.secrets.open(app.sealedSecret, app.id));
    },
    webhooks: options.webhooks ?? fetchWebhookTransport,
    ...(options.onUnexpectedError ? { onUnexpectedError: options.onUnexpectedError } : {}),
  };
}

/** A counting semaphore: at most `size` functions run at once, the rest wait in order. */
export class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

type Log = {
  error(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
};

/** Runs sign jobs and webhook deliveries in the background of this process (see the module comment). */
export class SignJobScheduler {
  readonly deps: SignJobDeps;
  readonly #limit: Semaphore;
  readonly #log: Log;
  readonly #sweepMs: number;
  readonly #running = new Map<string, Promise<void>>();
  readonly #delivering = new Map<string, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;
  #sweeping: Promise<void> | undefined;

  constructor(deps: SignJobDeps, options: { concurrency: number; log: Log; sweepMs?: number }) {
    this.deps = deps;
    this.#limit = new Semaphore(options.concurrency);
    this.#log = options.log;
    this.#sweepMs = options.sweepMs ?? 1000;
  }

  /** Resumes the jobs left in `signing` and starts the periodic sweep (expiry, due webhooks). */
  async start(): Promise<void> {
    this.#stopping = false;
    const ids = await this.deps.jobs.jobIdsInState('signing', 10_000);
    if (ids.length) this.#log.info({ jobs: ids.length }, 'resuming sign jobs');
    for (const id of ids) this.enqueue(id);
    const tick = () => {
      this.#sweeping = this.sweep()
        .catch((e: unknown) => this.#log.error({ err: e }, 'sign job sweep failed'))
        .finally(() => {
          this.#sweeping = undefined;
          if (!this.#stopping) this.#timer = setTimeout(tick, this.#sweepMs).unref();
        });
    };
    this.#timer = setTimeout(tick, this.#sweepMs).unref();
  }

  /** Signs a `signing` job in the background (once per process at a time), then delivers its webhook. */
  enqueue(id: string): void {
    if (this.#stopping || this.#running.has(id)) return;
    const run = (async () => {
      try {
        const job = await runSignJob(id, this.deps, {
          limit: (fn) => this.#limit.run(fn),
          stopping: () => this.#stopping,
        });
        if (job && job.state !== 'signing') {
          this.#log.info({ job: id, state: job.state }, 'sign job finished');
          this.deliver(id);
        }
      } catch (e) {
        // The job stays `signing`: the next start resumes it (its finished documents are not signed again).
        this.#log.error({ err: e, job: id }, 'sign job interrupted');
      } finally {
        this.#running.delete(id);
      }
    })();
    this.#running.set(id, run);
  }

  /** Attempts a job's webhook now if it is pending and due. */
  deliver(id: string): void {
    if (this.#stopping || this.#delivering.has(id)) return;
    const run = deliverSignJobWebhook(id, this.deps)
      .then((state) => {
        if (state !== 'pending') this.#log.info({ job: id, webhook: state }, 'sign job webhook');
      })
      .catch((e: unknown) => this.#log.error({ err: e, job: id }, 'sign job webhook attempt failed'))
      .finally(() => this.#delivering.delete(id));
    this.#delivering.set(id, run);
  }

  /**
   * Expires overdue jobs, attempts the due webhooks, and takes over `signing` jobs no server has touched for
   * SIGN_JOB_STALE_MS (their server died and was not restarted) — also run by the timer.
   */
  async sweep(): Promise<void> {
    for (const id of await staleSignJobs(this.deps)) {
      if (this.#running.has(id)) continue;
      this.#log.info({ job: id }, 'resuming a stalled sign job');
      this.enqueue(id);
    }
    for (const id of await expireSignJobs(this.deps)) {
      this.#log.info({ job: id }, 'sign job expired');
      this.deliver(id);
    }
    for (const id of await this.deps.jobs.dueWebhooks(this.deps.clock.now(), 100)) this.deliver(id);
  }

  /** Stops between documents; jobs not finished stay `signing` and resume at the next start. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    await this.#sweeping;
    await Promise.allSettled([...this.#running.values(), ...this.#delivering.values()]);
  }

  /** Whether a job is being signed by this process (tests). */
  isRunning(id: string): boolean {
    return this.#running.has(id);
  }
}
