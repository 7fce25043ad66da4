// start: first-use init, listen, print URL and the one-time password, serve /healthz, stop cleanly; and
// the real `medsign start` process shuts down gracefully on SIGTERM.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ParsedCertificate } from '@medsign/pki';
import { startMedsignServer, tempDir, type TempDir } from '@medsign/testkit';
import { startServer } from '../src/start.js';

describe('start', () => {
  let dir: TempDir;
  before(() => (dir = tempDir('medsign-start-')));
  after(() => dir.cleanup());

  test('first run initialises and prints the credentials; the second run does not', async () => {
    const lines: string[] = [];
    const data = join(dir.path, 'a');
    const server = await startServer({
      dataDir: data,
      env: {},
      overrides: { port: 0 },
      print: (l) => lines.push(l),
      logger: false,
      handleSignals: false,
    });
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const text = lines.join('\n');
      assert.match(text, /medsign is listening on http:\/\/127\.0\.0\.1:\d+/);
      assert.match(text, /username: admin\n\s+password: (\S{20,})/);
      const res = await fetch(`${server.url}/healthz`);
      const body = (await res.json()) as { status: string };
      assert.equal(body.status, 'ok', JSON.stringify(body));
      // caIssuers walk from the issuing CA: its AIA names the root's URL, which serves the root (DER).
      const issuing = ParsedCertificate.parse(
        new Uint8Array(await (await fetch(`${server.url}/pki/ca/sm2-issuing.cer`)).arrayBuffer()),
      );
      const [rootUrl] = issuing.authorityInfoAccess.caIssuers;
      // (With port 0 the configured public URL carries port 0: follow its path on the real port.)
      assert.equal(new URL(rootUrl!).pathname, '/pki/ca/sm2-root.cer');
      const rootRes = await fetch(`${server.url}${new URL(rootUrl!).pathname}`);
      assert.equal(rootRes.status, 200);
      const root = ParsedCertificate.parse(new Uint8Array(await rootRes.arrayBuffer()));
      assert.ok(issuing.verifySignature(root.publicKeyInfo), 'the root signed the issuing CA');
      assert.equal(root.subjectText, root.issuerText);
    } finally {
      await server.stop();
    }
    await server.stopped;
    const again: string[] = [];
    const second = await startServer({
      dataDir: data,
      env: {},
      overrides: { port: 0 },
      print: (l) => again.push(l),
      logger: false,
      handleSignals: false,
    });
    await second.stop();
    assert.doesNotMatch(again.join('\n'), /password|medsign init:/);
  });

  test('`medsign start` exits 0 on SIGTERM after closing the server', async () => {
    const data = join(dir.path, 'b');
    const server = await startMedsignServer(['--data', data, '--port', '0']);
    const url = server.url;
    const res = await fetch(`${url}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(await server.stop(), 0, server.output());
  });
});
