// The TSA wiring on real services (SQLite): units found from init's keys and certificates, the archive
// row of every token, a revoked TSA certificate stopping its unit within TSA_CERT_STATUS_MS, and the
// trust material export-trust uses.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { buildTimeStampReq, parseTimeStampResp } from '@medsign/pki';
import { tempDir } from '@medsign/testkit';
import { loadConfig } from '../src/config.js';
import { initDataDir } from '../src/init.js';
import { openServices } from '../src/services.js';
import { TSA_CERT_STATUS_MS } from '../src/tsa.js';

const tmp = tempDir('medsign-tsa-services-');
after(() => tmp.cleanup());

test('units from init; archive rows; a revoked TSA certificate stops its unit within a minute', async () => {
  let t = Date.now();
  const now = () => new Date(t);
  await initDataDir({ dataDir: tmp.path, env: {}, now });
  const s = await openServices(loadConfig({ dataDir: tmp.path, env: {} }), { now });
  try {
    const units = await s.tsa.units();
    assert.deepEqual([...units.keys()], ['sm2'], 'init made the SM2 unit only');
    const found = await s.tsa.certificates();
    assert.equal(found[0]!.chain.length, 2, 'issuing CA and root');
    const unit = units.get('sm2')!;
    const req = buildTimeStampReq({ hash: 'sm3', data: new Uint8Array([1, 2, 3]), nonce: 9n });
    const ok = await s.tsa.respond(unit, req, '10.0.0.7');
    assert.equal(ok.granted, true);
    const row = await s.store.tsaTokens.get(ok.serial!);
    assert.equal(row?.requester, '10.0.0.7');
    assert.equal(row?.nonce, true);

    await s.backend.revoke({
      caId: 'sm2-issuing',
      serial: unit.certificate.serialNumber,
      reason: 'keyCompromise',
      actor: 'test',
    });
    assert.equal((await s.tsa.respond(unit, req)).granted, true, 'the cached status holds for a minute');
    t += TSA_CERT_STATUS_MS + 1000;
    await s.tsa.respond(unit, req); // starts the background look-up
    await new Promise((r) => setTimeout(r, 200));
    const refused = await s.tsa.respond(unit, req);
    assert.equal(refused.failInfo, 'systemFailure');
    assert.match(parseTimeStampResp(refused.der).statusStrings[0]!, /revoked/);
  } finally {
    await s.close();
  }
});
