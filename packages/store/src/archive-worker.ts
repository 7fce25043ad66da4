// Worker side of the SQLite token-archive writer (archive-writer.ts): its own better-sqlite3 connection,
// one transaction (one disk sync) per group, so the sync never blocks the server's event loop.
import { parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import type { TsaTokensTable } from './schema.js';

export type ArchiveRequest = { seq: number; rows: TsaTokensTable[] };
export type ArchiveReply =
  { seq: number; ok: true; inserted: string[] } | { seq: number; ok: false; message: string; code?: string };

const { file, busyTimeoutMs } = workerData as { file: string; busyTimeoutMs: number };
const db = new BetterSqlite3(file);
db.pragma(`busy_timeout = ${busyTimeoutMs}`);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
const insert = db.prepare(
  'insert into tsa_tokens (serial, unit, hash_algorithm, hashed_message, gen_time, policy, requester, nonce, token_hash) ' +
    'values (@serial, @unit, @hash_algorithm, @hashed_message, @gen_time, @policy, @requester, @nonce, @token_hash) ' +
    'on conflict (serial) do nothing returning serial',
);
const writeGroup = db.transaction((rows: TsaTokensTable[]) => {
  const inserted: string[] = [];
  for (const row of rows) {
    const r = insert.get(row) as { serial: string } | undefined;
    if (r) inserted.push(r.serial);
  }
  return inserted;
});

parentPort!.on('message', (req: ArchiveRequest | 'close') => {
  if (req === 'close') {
    db.close();
    parentPort!.close();
    return;
  }
  let reply: ArchiveReply;
  try {
    reply = { seq: req.seq, ok: true, inserted: writeGroup.immediate(req.rows) };
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    reply = {
      seq: req.seq,
      ok: false,
      message: (e as Error).message,
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  parentPort!.postMessage(reply);
});
