// The SQLite side of the token archive's writes: a worker thread with its own connection to the same
// file (WAL: readers and the main connection go on meanwhile; writers queue on the file lock for up to the
// busy timeout). better-sqlite3 is synchronous, so a disk sync on the main connection would stop the
// whole server for its duration; in the worker it stops nothing but the worker.
import { Worker } from 'node:worker_threads';
import type { ArchiveReply, ArchiveRequest } from './archive-worker.js';
import type { TsaTokensTable } from './schema.js';

const workerUrl = new URL(
  import.meta.url.endsWith('.ts') ? './archive-worker.ts' : './archive-worker.js',
  import.meta.url,
);

function startWorker(file: string, busyTimeoutMs: number): Worker {
  const workerData = { file, busyTimeoutMs };
  if (workerUrl.pathname.endsWith('.ts')) {
    // From the TypeScript sources (tests, benchmarks): Node 20 does not pass --import hooks to workers.
    const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(workerUrl.href)}); })`;
    return new Worker(boot, { eval: true, workerData });
  }
  return new Worker(workerUrl, { workerData });
}

type Pending = { resolve: (inserted: string[]) => void; reject: (e: Error) => void };

/** Writes groups of archive rows in one transaction each on a worker thread; one group at a time. */
export class SqliteArchiveWriter {
  readonly #file: string;
  readonly #busyTimeoutMs: number;
  #worker: Worker | undefined;
  readonly #pending = new Map<number, Pending>();
  #seq = 0;

  constructor(file: string, busyTimeoutMs: number) {
    this.#file = file;
    this.#busyTimeoutMs = busyTimeoutMs;
  }

  #start(): Worker {
    const worker = startWorker(this.#file, this.#busyTimeoutMs);
    worker.on('message', (reply: ArchiveReply) => {
      const p = this.#pending.get(reply.seq);
      if (!p) return;
      this.#pending.delete(reply.seq);
      if (this.#pending.size === 0) worker.unref();
      if (reply.ok) p.resolve(reply.inserted);
      else p.reject(Object.assign(new Error(reply.message), reply.code ? { code: reply.code } : {}));
    });
    const fail = (e: Error) => {
      for (const p of this.#pending.values()) p.reject(e);
      this.#pending.clear();
      if (this.#worker === worker) this.#worker = undefined;
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`token archive writer exited (${code})`)));
    worker.unref();
    return worker;
  }

  /** Inserts `rows` (ON CONFLICT DO NOTHING) in one transaction; resolves with the serials inserted. */
  write(rows: TsaTokensTable[]): Promise<string[]> {
    const worker = (this.#worker ??= this.#start());
    const seq = ++this.#seq;
    return new Promise((resolve, reject) => {
      this.#pending.set(seq, { resolve, reject });
      worker.ref();
      worker.postMessage({ seq, rows } satisfies ArchiveRequest);
    });
  }

  /** Stops the worker (the caller has awaited every write first). */
  async close(): Promise<void> {
    const worker = this.#worker;
    if (!worker) return;
    this.#worker = undefined;
    const exited = new Promise<void>((done) => worker.once('exit', () => done()));
    worker.ref(); // an unreferenced worker's exit would not keep this process waiting for it
    worker.postMessage('close');
    await exited;
  }
}
