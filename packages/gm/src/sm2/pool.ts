/**
 * Off-thread SM2 signing and verification for servers: a pool of worker threads, each running the same
 * backend, so that a burst of signatures never blocks the event loop. Hashing (SM3(Z ‖ M)) happens in
 * the worker too, so large documents cost the main thread nothing but the copy.
 */

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { copyBytes, toBytes, type BytesLike } from '../bytes.js';
import { idBytes } from './z.js';
import type { SM2PrivateKey, SM2PublicKey } from './keys.js';

export type Sm2SignerPoolOptions = {
  /** Number of worker threads (default: the machine's available parallelism). */
  size?: number;
};

/**
 * One request to a worker; `d` travels only with sign requests and is wiped by the worker after use.
 * `id: null` means the default ID (an explicit empty ID is a valid, different ID).
 */
export type PoolRequest =
  | {
      seq: number;
      op: 'sign';
      d: Uint8Array;
      pub: Uint8Array;
      message: Uint8Array;
      id: Uint8Array | null;
      prehashed: boolean;
    }
  | {
      seq: number;
      op: 'verify';
      pub: Uint8Array;
      message: Uint8Array;
      id: Uint8Array | null;
      signature: Uint8Array;
      prehashed: boolean;
    };

export type PoolResponse =
  { seq: number; ok: true; value: Uint8Array | boolean } | { seq: number; ok: false; error: string };

type Pending = { resolve: (v: Uint8Array | boolean) => void; reject: (e: Error) => void; worker: WorkerSlot };
type WorkerSlot = { worker: Worker; inflight: number };

const workerUrl = new URL(
  import.meta.url.endsWith('.ts') ? './pool-worker.ts' : './pool-worker.js',
  import.meta.url,
);

function startWorker(): Worker {
  if (workerUrl.pathname.endsWith('.ts')) {
    // Running from the TypeScript sources (tests, benchmarks): Node 20 does not apply --import hooks
    // to worker threads, so the worker registers tsx itself before loading its module.
    const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(workerUrl.href)}); })`;
    return new Worker(boot, { eval: true });
  }
  return new Worker(workerUrl);
}

export class Sm2SignerPool {
  readonly #slots: WorkerSlot[] = [];
  readonly #pending = new Map<number, Pending>();
  #seq = 0;
  #closed = false;

  constructor(opts: Sm2SignerPoolOptions = {}) {
    const size = opts.size ?? availableParallelism();
    if (!Number.isInteger(size) || size < 1 || size > 256)
      throw new RangeError('size must be an integer in [1, 256]');
    for (let i = 0; i < size; i++) {
      const worker = startWorker();
      const slot: WorkerSlot = { worker, inflight: 0 };
      worker.on('message', (msg: PoolResponse) => this.#settle(msg));
      worker.on('error', (err) => this.#failWorker(slot, err));
      worker.unref();
      this.#slots.push(slot);
    }
  }

  /** Number of worker threads. */
  get size(): number {
    return this.#slots.length;
  }

  /** DER signature over SM3(Z ‖ message), like `key.sign`, computed off the main thread. */
  sign(key: SM2PrivateKey, message: BytesLike, opts: { id?: BytesLike } = {}): Promise<Uint8Array> {
    return this.#signRequest(key, toBytes(message, 'message'), opts.id, false);
  }

  /** DER signature over a precomputed 32-byte e, like `key.signDigest`. */
  signDigest(key: SM2PrivateKey, e: Uint8Array): Promise<Uint8Array> {
    if (!(e instanceof Uint8Array) || e.length !== 32)
      return Promise.reject(new RangeError('digest must be 32 bytes'));
    return this.#signRequest(key, e, undefined, true);
  }

  /** Like `publicKey.verify`: resolves false (never rejects) for malformed or wrong signatures. */
  verify(
    publicKey: SM2PublicKey,
    message: BytesLike,
    signature: Uint8Array,
    opts: { id?: BytesLike } = {},
  ): Promise<boolean> {
    return this.#submit({
      seq: 0,
      op: 'verify',
      pub: publicKey.toBytes(),
      message: copyBytes(toBytes(message, 'message')),
      id: opts.id === undefined ? null : copyBytes(idBytes(opts.id)),
      signature: signature instanceof Uint8Array ? copyBytes(signature) : new Uint8Array(0),
      prehashed: false,
    }).then((v) => v === true);
  }

  #signRequest(
    key: SM2PrivateKey,
    data: Uint8Array,
    id: BytesLike | undefined,
    prehashed: boolean,
  ): Promise<Uint8Array> {
    return this.#submit({
      seq: 0,
      op: 'sign',
      d: key.toBytes(),
      pub: key.publicKey.toBytes(),
      message: copyBytes(data),
      id: id === undefined ? null : copyBytes(idBytes(id)),
      prehashed,
    }) as Promise<Uint8Array>;
  }

  #submit(req: PoolRequest): Promise<Uint8Array | boolean> {
    if (this.#closed) return Promise.reject(new Error('Sm2SignerPool is closed'));
    const slot = this.#slots.reduce((a, b) => (b.inflight < a.inflight ? b : a));
    const seq = ++this.#seq;
    req.seq = seq;
    return new Promise((resolve, reject) => {
      this.#pending.set(seq, { resolve, reject, worker: slot });
      if (slot.inflight++ === 0) slot.worker.ref();
      const transfer = [req.message.buffer as ArrayBuffer];
      if (req.id) transfer.push(req.id.buffer as ArrayBuffer);
      if (req.op === 'sign') transfer.push(req.d.buffer as ArrayBuffer);
      slot.worker.postMessage(req, transfer);
    });
  }

  #settle(msg: PoolResponse): void {
    const p = this.#pending.get(msg.seq);
    if (!p) return;
    this.#pending.delete(msg.seq);
    if (--p.worker.inflight === 0) p.worker.worker.unref();
    if (msg.ok) p.resolve(msg.value);
    else p.reject(new Error(msg.error));
  }

  #failWorker(slot: WorkerSlot, err: Error): void {
    for (const [seq, p] of this.#pending) {
      if (p.worker === slot) {
        this.#pending.delete(seq);
        p.reject(err);
      }
    }
    slot.inflight = 0;
  }

  /** Stops the workers; pending requests are rejected. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // The workers are unreferenced while idle, and a terminating worker's exit does not reliably keep the
    // event loop alive (Node 20): a caller awaiting close() with nothing else pending could see the process
    // end mid-await (exit code 13). A referenced timer holds the loop for the wait, bounded at 2 s.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(this.#slots.map((s) => s.worker.terminate())),
      new Promise((resolve) => (timer = setTimeout(resolve, 2000))),
    ]);
    clearTimeout(timer);
    for (const p of this.#pending.values()) p.reject(new Error('Sm2SignerPool closed'));
    this.#pending.clear();
  }
}
