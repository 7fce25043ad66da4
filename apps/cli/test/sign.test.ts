// medsign app create / signer add / signer unlock on a data directory, then medsign sign against a running
// server (child process) through the SDK: the signature verifies through the API and the record exists.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MedsignClient } from '@medsign/sdk';
import { initDataDir } from '@medsign/server/init';
import {
  runMedsignCliText,
  startMedsignServer,
  tempDir,
  type MedsignServerProcess,
  type TempDir,
} from '@medsign/testkit';

describe('medsign app / signer / sign', () => {
  let dir: TempDir;
  let data: string;
  let server: MedsignServerProcess | undefined;
  before(async () => {
    dir = tempDir('medsign-cli-sign-');
    data = join(dir.path, 'data');
    await initDataDir({ dataDir: data, env: {} });
  });
  after(async () => {
    await server?.stop();
    dir.cleanup();
  });

  test('app create prints the credentials once; signer add prints id and serial; sign prints the id', async () => {
    const bad = runMedsignCliText(['app', 'create', '--name', 'X', '--type', 'ERP', '--data', data]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /APP_INVALID/);

    const created = runMedsignCliText([
      'app',
      'create',
      '--name',
      'HIS',
      '--type',
      'HIS',
      '--data',
      data,
      '--json',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const app = JSON.parse(created.stdout) as { id: string; secret: string; systemType: string };
    assert.equal(app.systemType, 'HIS');
    const plain = runMedsignCliText(['app', 'create', '--name', 'LIS', '--type', 'LIS', '--data', data]);
    assert.match(plain.stdout, /app id: +app_\S+\napp secret: +\S{43}\n/);

    const added = runMedsignCliText([
      'signer',
      'add',
      '--name',
      '张三',
      '--employee-no',
      'D001',
      '--department-code',
      '0101',
      '--pin',
      '123456',
      '--data',
      data,
    ]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /signer id: +[0-9a-f-]{36}\ncert serial: +[0-9a-f]+ \(CA sm2-issuing\)\n/);
    const again = runMedsignCliText([
      'signer',
      'add',
      '--name',
      '张三',
      '--employee-no',
      'D001',
      '--department-code',
      '0101',
      '--pin',
      '123456',
      '--data',
      data,
    ]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /SIGN_SIGNER_EXISTS/);
    const unlock = runMedsignCliText(['signer', 'unlock', '--employee-no', 'D001', '--data', data]);
    assert.equal(unlock.code, 1);
    assert.match(unlock.stderr, /SIGN_SIGNER_NOT_LOCKED/);

    server = await startMedsignServer(['--data', data, '--port', '0']);
    const input = dir.file('rx.txt', '处方 Rx-0001');
    const out = join(dir.path, 'rx.p7s');
    const signed = runMedsignCliText([
      'sign',
      '--url',
      server.url,
      '--app-id',
      app.id,
      '--app-secret',
      app.secret,
      '--signer',
      'D001',
      '--pin',
      '123456',
      '--in',
      input,
      '--doc-type',
      'prescription',
      '--doc-id',
      'RX1',
      '--out',
      out,
    ]);
    assert.equal(signed.code, 0, signed.stderr);
    const id = signed.stdout.trim();
    assert.match(id, /^[0-9a-f-]{36}$/);
    const client = new MedsignClient({ url: server.url, appId: app.id, appSecret: app.secret });
    const v = await client.verify({ data: readFileSync(input), signature: readFileSync(out) });
    assert.ok(v.valid, v.errors.join('; '));
    assert.equal((await client.signature(id)).metadata.docId, 'RX1');

    const wrong = runMedsignCliText([
      'sign',
      '--url',
      server.url,
      '--app-id',
      app.id,
      '--app-secret',
      app.secret,
      '--signer',
      'D001',
      '--pin',
      '000000',
      '--in',
      input,
      '--out',
      out,
    ]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /SIGN_PIN_WRONG/);
  });
});
