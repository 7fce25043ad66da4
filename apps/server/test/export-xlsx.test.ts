// XLSX export of signature records over HTTP: the workbook is a valid ZIP (unzip -t), its sheet holds the
// CSV's columns and values (Chinese intact, formula-like values as text with the quotePrefix style, no
// formula), the filters apply; and 100 000 records export with bounded heap growth (streamed, not buffered).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MedsignClient } from '@medsign/sdk';
import { createApp, enrolSigner } from '@medsign/sign';
import { toIso } from '@medsign/store';
import { tempDir, type TempDir } from '@medsign/testkit';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { initDataDir } from '../src/init.js';
import { openServices, type Services } from '../src/services.js';
import { columnName, crc32, xmlText } from '../src/xlsx.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function unzip(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('unzip', args, { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The sheet's rows as arrays of cell texts (by column letter order), from the sheet XML. */
function rowsOf(sheet: string): Map<string, string>[] {
  const unescape = (t: string) =>
    t
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&amp;/g, '&');
  return [...sheet.matchAll(/<row r="\d+">(.*?)<\/row>/g)].map((m) => {
    const cells = new Map<string, string>();
    for (const c of m[1]!.matchAll(
      /<c r="([A-Z]+)\d+" t="inlineStr"(?: s="(\d)")?><is><t[^>]*>(.*?)<\/t><\/is><\/c>/g,
    ))
      cells.set(c[1]!, unescape(c[3]!) + (c[2] === '1' ? '\u0000quotePrefix' : ''));
    return cells;
  });
}

describe('XLSX export of signature records', () => {
  let dir: TempDir;
  let services: Services;
  let app: FastifyInstance;
  let client: MedsignClient;
  let appId: string;

  before(async () => {
    dir = tempDir('medsign-xlsx-');
    const init = await initDataDir({ dataDir: dir.path, env: {} });
    services = await openServices(init.config);
    app = await buildApp(services, { logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const created = await createApp({ name: 'HIS', systemType: 'HIS' }, 'test', services.sign.deps);
    appId = created.app.id;
    client = new MedsignClient({
      url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
      appId,
      appSecret: created.secret,
    });
    await enrolSigner(
      { name: '张三', employeeNo: 'D001', departmentCode: '0101', pin: '123456' },
      'test',
      services.sign.deps,
    );
  });
  after(async () => {
    await app?.close();
    await services?.close();
    dir?.cleanup();
  });

  test('the writer helpers: CRC-32, column names, XML text', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32(Buffer.from('6789'), crc32(Buffer.from('12345'))), 0xcbf43926);
    assert.deepEqual([0, 25, 26, 27, 701, 702].map(columnName), ['A', 'Z', 'AA', 'AB', 'ZZ', 'AAA']);
    assert.equal(xmlText('a<b>&"c"\u0001\ud800'), 'a&lt;b&gt;&amp;&quot;c&quot;');
  });

  test('content: the CSV columns and values, Chinese intact, formula-like values stay text, filters apply', async () => {
    const data = '处方 Rx-0001';
    await client.sign({
      signer: 'D001',
      pin: '123456',
      data,
      metadata: { docType: 'prescription', docId: '处方-一号', visitRef: '<V&1>', system: '门诊 HIS' },
    });
    await client.sign({
      signer: 'D001',
      pin: '123456',
      data,
      metadata: { docType: 'lab-report', docId: '=HYPERLINK("http://x")' },
    });
    const r = await client.exportSignatures({}, { format: 'xlsx' });
    assert.equal(
      r.headers.get('content-type'),
      'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    );
    assert.match(r.headers.get('content-disposition') ?? '', /signatures\.xlsx/);
    const file = join(dir.path, 'all.xlsx');
    await pipeline(Readable.fromWeb(r.body! as WebReadableStream), createWriteStream(file));
    const t = unzip(['-t', file]);
    assert.equal(t.code, 0, t.stdout + t.stderr);
    assert.match(t.stdout, /No errors detected/);
    for (const part of ['[Content_Types].xml', '_rels/.rels', 'xl/workbook.xml', 'xl/styles.xml'])
      assert.ok(t.stdout.includes(part), part);
    const sheet = unzip(['-p', file, 'xl/worksheets/sheet1.xml']).stdout;
    assert.doesNotMatch(sheet, /<f>|<f /, 'no formula is ever written');
    const rows = rowsOf(sheet);
    assert.equal(rows.length, 3);
    const csv = (await (await client.exportSignatures()).text()).replace(/^\ufeff/, '').split('\r\n');
    assert.deepEqual([...rows[0]!.values()], csv[0]!.split(','));
    const lab = rows[1]!; // newest first
    const rx = rows[2]!;
    assert.equal(rx.get('H'), '处方-一号');
    assert.equal(rx.get('F'), '门诊 HIS');
    assert.equal(rx.get('I'), '<V&1>');
    assert.equal(rx.get('D'), 'D001');
    assert.equal(rx.get('C'), appId);
    assert.equal(lab.get('H'), '=HYPERLINK("http://x")\u0000quotePrefix');
    assert.equal(lab.get('O'), 'no');

    const filtered = await client.exportSignatures({ docType: 'prescription' }, { format: 'xlsx' });
    const f2 = join(dir.path, 'rx.xlsx');
    await pipeline(Readable.fromWeb(filtered.body! as WebReadableStream), createWriteStream(f2));
    const rxRows = rowsOf(unzip(['-p', f2, 'xl/worksheets/sheet1.xml']).stdout);
    assert.equal(rxRows.length, 2);
    assert.equal(rxRows[1]!.get('G'), 'prescription');
  });

  test('100 000 records: streamed with bounded heap growth', async () => {
    const signer = (await services.store.signing.getSignerByEmployeeNo('D001'))!;
    const N = 100_000;
    const created0 = Date.now();
    const created = new Date('2026-01-01T00:00:00Z').getTime();
    const db = services.store.database.db;
    await db.transaction().execute(async (trx) => {
      for (let i = 0; i < N; i += 500) {
        await trx
          .insertInto('signatures')
          .values(
            Array.from({ length: Math.min(500, N - i) }, (_, k) => ({
              id: randomUUID(),
              app_id: appId,
              signer_id: signer.id,
              employee_no: 'D001',
              department_code: '0101',
              ca_id: signer.caId,
              cert_serial: signer.certSerial,
              format: 'p7-detached',
              digest_algorithm: 'sm3',
              digest: 'ab'.repeat(32),
              signature: new Uint8Array(64),
              token: null,
              system: 'HIS',
              doc_type: 'nursing-record',
              doc_id: `护理记录-${i + k}`,
              visit_ref: `V${i + k}`,
              idempotency_key: null,
              request_hash: null,
              created_at: toIso(new Date(created + (i + k) * 1000)),
            })),
          )
          .execute();
      }
    });

    const inserted = Date.now() - created0;
    gc();
    const baseline = process.memoryUsage().heapUsed;
    let peak = baseline;
    // What stays reachable during the export (collected first: garbage waiting for the GC is no growth).
    const sampler = setInterval(() => {
      gc();
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }, 500);
    const file = join(dir.path, 'big.xlsx');
    const started = Date.now();
    try {
      const r = await client.exportSignatures({ docType: 'nursing-record' }, { format: 'xlsx' });
      await pipeline(Readable.fromWeb(r.body! as WebReadableStream), createWriteStream(file));
    } finally {
      clearInterval(sampler);
    }
    const exported = Date.now() - started;
    const growth = (peak - baseline) / 1024 / 1024;
    const count = spawnSync(
      'sh',
      ['-c', `unzip -p '${file}' xl/worksheets/sheet1.xml | grep -o '<row ' | wc -l`],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(Number(count.stdout.trim()), N + 1);
    // The sheet XML alone is ~40 MB (twice that as JS strings), the workbook ~8 MB: buffering either would
    // blow past this.
    assert.ok(growth < 32, `heap grew by ${growth.toFixed(1)} MB during the export`);
    console.log(
      `# 100k-row XLSX export: insert ${inserted} ms, export ${exported} ms, heap growth ${growth.toFixed(1)} MB`,
    );
  });
});
