// Every example under examples/ run against a real server on loopback (port 0) with a registered
// application and an SM2 signer, each through its exported main(env): they all succeed and do what they say.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createApp, enrolSigner } from '@medsign/sign';
import { tempDir, type TempDir } from '@medsign/testkit';
import type { FastifyInstance } from 'fastify';
import * as anaesthesia from '../../../examples/anaesthesia-record.js';
import * as emr from '../../../examples/emr-record.js';
import * as his from '../../../examples/his-prescription.js';
import * as lis from '../../../examples/lis-report.js';
import * as nursing from '../../../examples/nursing-batch.js';
import * as pacs from '../../../examples/pacs-report.js';
import { buildApp } from '../src/app.js';
import { initDataDir } from '../src/init.js';
import { openServices, type Services } from '../src/services.js';

describe('examples/ against a running server', () => {
  let dir: TempDir;
  let services: Services;
  let app: FastifyInstance;
  let env: Record<string, string>;
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);

  before(async () => {
    dir = tempDir('medsign-examples-');
    const init = await initDataDir({ dataDir: dir.path, env: {} });
    services = await openServices(init.config);
    app = await buildApp(services, { logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const created = await createApp({ name: 'Examples', systemType: 'HIS' }, 'test', services.sign.deps);
    await enrolSigner(
      { name: '张三', employeeNo: 'D001', departmentCode: '0101', pin: '123456' },
      'test',
      services.sign.deps,
    );
    env = {
      MEDSIGN_URL: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
      MEDSIGN_APP_ID: created.app.id,
      MEDSIGN_APP_SECRET: created.secret,
      MEDSIGN_SIGNER: 'D001',
      MEDSIGN_PIN: '123456',
    };
  });
  after(async () => {
    await app?.close();
    await services?.close();
    dir?.cleanup();
  });

  test('HIS prescription: signed with a time-stamp, the retry replays, the record verifies', async () => {
    const r = await his.main(env, log);
    assert.deepEqual(
      { replayed: r.replayed, records: r.records, valid: r.valid },
      { replayed: true, records: 1, valid: true },
    );
  });

  test('LIS report: an unknown document type is refused, the report verifies', async () => {
    const r = await lis.main(env, log);
    assert.equal(r.refused, 'SIGN_DOC_TYPE_UNKNOWN');
    assert.ok(r.valid);
  });

  test('PACS: report and the SM3 digest of the DICOM file, both verify', async () => {
    const r = await pacs.main(env, log);
    assert.ok(r.sameDigest && r.valid);
  });

  test('EMR: P7 attached with GM OIDs and a time-stamp verifies from the record alone', async () => {
    const r = await emr.main(env, log);
    assert.ok(r.valid && r.timestamped);
  });

  test('nursing: a shift signed as one job authorised once, a wrong PIN refused, a stray job cancelled', async () => {
    const r = await nursing.main(env, log);
    assert.deepEqual(
      { state: r.state, signed: r.signed, valid: r.valid, wrongPin: r.wrongPin, cancelled: r.cancelled },
      { state: 'completed', signed: 4, valid: 4, wrongPin: 'SIGN_PIN_WRONG', cancelled: 'cancelled' },
    );
  });

  test('anaesthesia: time-stamped record verifies, a changed one does not', async () => {
    const r = await anaesthesia.main(env, log);
    assert.ok(r.valid);
    assert.equal(r.tamperedValid, false);
    assert.ok(lines.length >= 15, 'every example prints what it did');
  });
});
