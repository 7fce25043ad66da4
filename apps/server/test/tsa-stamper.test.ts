// The signing service's time-stamper keeps the TimeStamper contract: a token that does not carry the SM3
// imprint of the signature value it was asked for is refused (SIGN_TIMESTAMP_UNAVAILABLE), not embedded.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DomainError } from '@medsign/errors';
import { sm3 } from '@medsign/gm';
import type { TsaUnit } from '@medsign/tsa';
import { tsaTimeStamper, type TsaService } from '../src/tsa.js';

function fakeTsa(token: Uint8Array): TsaService {
  const respond = async () => ({ der: new Uint8Array(), granted: true, token });
  return {
    defaultUnit: 'sm2',
    units: async () => new Map([['sm2', {} as TsaUnit]]),
    certificates: async () => [],
    respond,
    respondInGroup: respond,
  };
}

test('tsaTimeStamper: a token with the value’s imprint passes, another is refused', async () => {
  const value = new Uint8Array([1, 2, 3]);
  const imprint = Buffer.concat([Buffer.from([0x04, 0x20]), sm3(value)]);
  const good = new Uint8Array(Buffer.concat([Buffer.from([0x30, 0x22]), imprint]));
  assert.deepEqual(await tsaTimeStamper(fakeTsa(good)).timestamp(value), good);
  const other = new Uint8Array(
    Buffer.concat([Buffer.from([0x30, 0x22, 0x04, 0x20]), sm3(new Uint8Array([9]))]),
  );
  await assert.rejects(
    tsaTimeStamper(fakeTsa(other)).timestamp(value),
    (e: DomainError) => e instanceof DomainError && e.code === 'SIGN_TIMESTAMP_UNAVAILABLE',
  );
});
