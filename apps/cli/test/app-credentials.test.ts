// medsign cert issue --profile tls-client (a CSR from OpenSSL), app create --client-cert, app rotate-secret
// (--grace, --json), app unbind-cert on a data directory; then the services check what the commands did:
// both secrets verify during the grace, the certificate is bound, unbinding ends it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '@medsign/server/config';
import { initDataDir } from '@medsign/server/init';
import { openServices } from '@medsign/server/services';
import { authenticateRequest, bodyDigest, RateLimiter, signRequest } from '@medsign/sign';
import { runMedsignCliText, runOpenssl, tempDir, type TempDir } from '@medsign/testkit';

describe('medsign app rotate-secret / --client-cert', () => {
  let dir: TempDir;
  let data: string;
  before(async () => {
    dir = tempDir('medsign-cli-app-credentials-');
    data = join(dir.path, 'data');
    await initDataDir({ dataDir: data, algorithms: ['ecdsa'], env: {} });
  });
  after(() => dir.cleanup());

  test('client certificate from a CSR (tls-client), bound at create; secret rotated with a grace', async () => {
    const key = join(dir.path, 'his.key');
    const csr = join(dir.path, 'his.csr');
    const o = runOpenssl([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      csr,
      '-subj',
      '/CN=HIS client',
    ]);
    assert.equal(o.code, 0, o.stderr);
    const cert = join(dir.path, 'his.pem');
    const issued = runMedsignCliText([
      'cert',
      'issue',
      '--csr',
      csr,
      '--profile',
      'tls-client',
      '--name',
      'HIS client',
      '--organization',
      'Test Hospital',
      '--ca',
      'ecdsa-issuing',
      '--out',
      cert,
      '--data',
      data,
    ]);
    assert.equal(issued.code, 0, issued.stderr);

    const created = runMedsignCliText([
      'app',
      'create',
      '--name',
      'HIS',
      '--type',
      'HIS',
      '--client-cert',
      cert,
      '--json',
      '--data',
      data,
    ]);
    assert.equal(created.code, 0, created.stderr);
    const app = JSON.parse(created.stdout) as { id: string; secret: string; clientCertificate: string };
    assert.match(app.clientCertificate, /^[0-9a-f]{64}$/);

    const bad = runMedsignCliText(['app', 'rotate-secret', '--id', app.id, '--grace', '40d', '--data', data]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--grace/);
    const unknown = runMedsignCliText(['app', 'rotate-secret', '--id', 'app_nobody', '--data', data]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /APP_NOT_FOUND/);
    const rotated = runMedsignCliText([
      'app',
      'rotate-secret',
      '--id',
      app.id,
      '--grace',
      '2h',
      '--json',
      '--data',
      data,
    ]);
    assert.equal(rotated.code, 0, rotated.stderr);
    const r = JSON.parse(rotated.stdout) as { id: string; secret: string; previousValidUntil: string };
    assert.equal(r.id, app.id);
    assert.notEqual(r.secret, app.secret);
    const until = new Date(r.previousValidUntil).getTime() - Date.now();
    assert.ok(until > 7100_000 && until <= 7200_000, `grace ${until} ms`);

    const unbound = runMedsignCliText([
      'app',
      'unbind-cert',
      '--id',
      app.id,
      '--fingerprint',
      app.clientCertificate,
      '--data',
      data,
    ]);
    assert.equal(unbound.code, 0, unbound.stderr);

    const services = await openServices(loadConfig({ dataDir: data, env: {} }));
    try {
      const limiter = new RateLimiter();
      const request = (secret: string, nonce: string) => {
        const timestamp = Math.floor(Date.now() / 1000);
        const parts = {
          method: 'GET',
          path: '/api/v1/signatures',
          bodyDigest: bodyDigest(undefined),
          timestamp,
          nonce,
          appId: app.id,
        };
        return authenticateRequest(
          {
            ...parts,
            timestamp: String(timestamp),
            signature: signRequest(secret, parts),
            remoteIp: '127.0.0.1',
            operation: 'read',
          },
          { ...services.sign.deps, limiter },
        );
      };
      assert.equal((await request(app.secret, 'old-secret-nonce-0001')).id, app.id);
      assert.equal((await request(r.secret, 'new-secret-nonce-0001')).id, app.id);
      const [binding] = await services.sign.deps.credentials.listCertificates(app.id);
      assert.equal(binding?.fingerprint, app.clientCertificate);
      assert.ok(binding?.revokedAt, 'unbound');
      const actions = (await services.store.audit.list({ limit: 10_000 })).map((e) => e.action);
      for (const a of ['app.cert-bind', 'app.secret-rotate', 'app.cert-unbind'])
        assert.ok(actions.includes(a), a);
    } finally {
      await services.close();
    }
  });
});
