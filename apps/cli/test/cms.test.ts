import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { encryptPrivateKeyPem } from '@medsign/pki';
import {
  makeHierarchy,
  peerOrSkip,
  runMedsignCli,
  runMedsignCliText,
  runOpenssl,
  tempDir,
} from '@medsign/testkit';

const dir = tempDir('medsign-cli-cms-');
after(() => dir.cleanup());

for (const type of ['sm2', 'rsa-2048'] as const) {
  describe(`medsign cms sign (${type})`, () => {
    let root: string;
    let chain: string;
    let cert: string;
    let key: string;
    const data = dir.file(`${type}-rx.txt`, '处方 Rx-2026-000777: 阿莫西林 0.5 g');
    before(async () => {
      const h = await makeHierarchy(type);
      root = dir.file(`${type}-root.pem`, h.root.cert.toPem());
      chain = dir.file(`${type}-inter.pem`, h.intermediate.cert.toPem());
      cert = dir.file(`${type}-leaf.pem`, h.leaf.cert.toPem());
      key = dir.file(`${type}-leaf.key`, h.leaf.key.toPem());
      dir.file(
        `${type}-leaf.enc.key`,
        encryptPrivateKeyPem(h.leaf.key, 'pass phrase 1', { iterations: 1000 }),
      );
    });

    test('detached signature: medsign verify, and the peers, accept it', (t) => {
      const out = dir.file(`${type}-detached.p7s`);
      const r = runMedsignCli([
        'cms',
        'sign',
        '--cert',
        cert,
        '--key',
        key,
        '--chain',
        chain,
        '--in',
        data,
        '--detached',
        '--out',
        out,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const v = runMedsignCliText(['verify', out, '--data', data, '--ca', root]);
      assert.equal(v.code, 0, v.stdout);
      assert.match(v.stdout, /CMS\/PKCS#7/);
      assert.equal(
        runMedsignCliText(['verify', out, '--data', cert, '--ca', root]).code,
        1,
        'other data must not verify',
      );
      const bc = peerOrSkip(t, ['cms-verify', out, data, '--ca', root]);
      if (bc) assert.equal(bc.code, 0, JSON.stringify(bc.json));
      if (type !== 'sm2') {
        const o = runOpenssl([
          'cms',
          '-verify',
          '-binary',
          '-inform',
          'DER',
          '-in',
          out,
          '-content',
          data,
          '-CAfile',
          root,
          '-purpose',
          'any',
          '-out',
          '/dev/null',
        ]);
        assert.equal(o.code, 0, o.stderr);
      }
    });

    test('attached signature from stdin to stdout, with an encrypted key', () => {
      const r = runMedsignCli(
        ['cms', 'sign', '--cert', cert, '--key', dir.file(`${type}-leaf.enc.key`), '--chain', chain],
        'stdin content',
      );
      assert.equal(r.code, 2, 'no passphrase: usage error');
      process.env.MEDSIGN_KEY_PASSPHRASE = 'pass phrase 1';
      try {
        const ok = runMedsignCli(
          ['cms', 'sign', '--cert', cert, '--key', dir.file(`${type}-leaf.enc.key`), '--chain', chain],
          'stdin content',
        );
        assert.equal(ok.code, 0, ok.stderr);
        const p7s = dir.file(`${type}-attached.p7s`, ok.stdout);
        assert.equal(runMedsignCliText(['verify', p7s, '--ca', root]).code, 0);
      } finally {
        delete process.env.MEDSIGN_KEY_PASSPHRASE;
      }
    });

    test(
      type === 'sm2' ? 'GM/T 0010 object identifiers' : 'GM/T 0010 needs an SM2 key (usage error)',
      (t) => {
        const out = dir.file(`${type}-gm.p7s`);
        const r = runMedsignCli([
          'cms',
          'sign',
          '--cert',
          cert,
          '--key',
          key,
          '--chain',
          chain,
          '--in',
          data,
          '--detached',
          '--gm-oids',
          '--out',
          out,
        ]);
        if (type !== 'sm2') {
          assert.equal(r.code, 2);
          return;
        }
        assert.equal(r.code, 0, r.stderr);
        const v = runMedsignCliText(['verify', out, '--data', data, '--ca', root, '--json']);
        assert.equal((JSON.parse(v.stdout) as { valid: boolean }).valid, true);
        assert.match(v.stdout, /GM\/T 0010/);
        const bc = peerOrSkip(t, ['cms-verify', out, data, '--ca', root]);
        if (bc) assert.equal(bc.code, 0, JSON.stringify(bc.json));
      },
    );
  });
}
