// Operator CLI for the lifecycle on a data directory: user add → cert apply → cert applications (masked)
// → self-review refused → cert approve → cert reject → cert renew --supersede. The refusals themselves are
// covered by the core and API tests; each CLI run is a process, so this file keeps to the verbs.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encodePem } from '@medsign/gm';
import { buildCsr, ParsedCertificate, PrivateKey } from '@medsign/pki';
import { runMedsignCliText, tempDir, type TempDir } from '@medsign/testkit';

const ID = '44030519850101234X';
const PHONE = '13698765432';

describe('medsign cert apply / approve / reject / renew, user add', () => {
  let dir: TempDir;
  let data: string;
  let csrFile: string;
  const cli = (...args: string[]) => runMedsignCliText([...args, '--data', data]);

  before(async () => {
    dir = tempDir('medsign-cli-lifecycle-');
    data = join(dir.path, 'data');
    assert.equal(runMedsignCliText(['init', '--data', data]).code, 0);
    const key = PrivateKey.generate('sm2');
    const csr = await buildCsr({ subject: [['CN', '周九']], signer: key.signer() });
    csrFile = dir.file('req.pem', encodePem('CERTIFICATE REQUEST', csr));
  });
  after(() => dir.cleanup());

  test('user add prints a one-time password once', () => {
    const r = cli('user', 'add', '--username', 'sec1', '--role', 'security-admin');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /created account sec1 \(security-admin\)\n\s+one-time password: \S{20,}/);
  });

  test('apply → self-review refused → approve prints the certificate; listing masks; duplicate refused; reject; renew', () => {
    const common = ['--profile', 'doctor', '--employee-no', 'E3131', '--department', '眼科'];
    const applied = cli(
      'cert',
      'apply',
      '--csr',
      csrFile,
      ...common,
      '--id-number',
      ID,
      '--phone',
      PHONE,
      '--operator',
      'clerk',
    );
    assert.equal(applied.code, 0, applied.stderr);
    const id = applied.stdout.trim();
    assert.match(id, /^[0-9a-f-]{36}$/);

    const self = cli('cert', 'approve', '--id', id, '--operator', 'clerk');
    assert.equal(self.code, 1);
    assert.match(self.stderr, /CA_APPLICATION_SELF_REVIEW/);

    const list = cli('cert', 'applications', '--state', 'pending', '--json');
    assert.equal(list.code, 0, list.stderr);
    const items = (JSON.parse(list.stdout) as { items: { id: string; applicant: Record<string, string> }[] })
      .items;
    assert.deepEqual(
      items.map((a) => a.id),
      [id],
    );
    assert.equal(items[0]!.applicant.idNumber, '440305********234X');
    assert.equal(items[0]!.applicant.phone, '136****5432');
    assert.doesNotMatch(list.stdout, new RegExp(`${ID}|${PHONE}`));

    const approved = cli('cert', 'approve', '--id', id, '--operator', 'sec1', '--reason', '核对无误');
    assert.equal(approved.code, 0, approved.stderr);
    const cert = ParsedCertificate.parse(approved.stdout);
    assert.match(approved.stderr, new RegExp(`issued ${cert.serialNumber} under sm2-issuing`));

    const second = cli(
      'cert',
      'apply',
      '--csr',
      csrFile,
      '--profile',
      'nurse',
      '--employee-no',
      'E3131',
      '--department',
      '眼科',
      '--operator',
      'clerk',
    );
    assert.equal(second.code, 0, second.stderr);
    const rejected = cli(
      'cert',
      'reject',
      '--id',
      second.stdout.trim(),
      '--reason',
      '重复申请',
      '--operator',
      'sec1',
    );
    assert.equal(rejected.code, 0, rejected.stderr);

    const renewed = cli('cert', 'renew', '--serial', cert.serialNumber, '--supersede', '--operator', 'sec1');
    assert.equal(renewed.code, 0, renewed.stderr);
    const next = ParsedCertificate.parse(renewed.stdout);
    assert.deepEqual(next.publicKeyInfo, cert.publicKeyInfo);
    assert.match(renewed.stderr, /the old one is revoked \(superseded\)/);
  });
});
