// Signing without the secret in the client: the `sign` hook, the backend helper `signRequestParts` (what it
// refuses), and `backendSigner` (what a web page sends to its backend).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  backendSigner,
  bodyDigest,
  canonicalRequest,
  MedsignClient,
  signRequest,
  signRequestParts,
  type SignableRequest,
} from '../src/index.js';

type Seen = { url: string; init: RequestInit };
const recorder = (seen: Seen[], answer: () => Response): typeof fetch =>
  (async (input: string | URL | Request, init?: RequestInit) => {
    seen.push({ url: String(input), init: init ?? {} });
    return answer();
  }) as typeof fetch;

test('the sign hook gets the canonical string and the request, and its answer is the signature header', async () => {
  const asked: [string, SignableRequest][] = [];
  const seen: Seen[] = [];
  const client = new MedsignClient({
    url: 'http://medsign.test',
    appId: 'app_web',
    sign: async (canonical, request) => {
      asked.push([canonical, request]);
      return signRequestParts('backend-secret', request);
    },
    now: () => 1764806400_000,
    fetch: recorder(seen, () => new Response('{"id":"sig-1"}', { status: 200 })),
  });
  await client.sign({ signer: 'D001', pin: '123456', data: 'x' }, { idempotencyKey: 'k-1' });
  assert.equal(asked.length, 1);
  const [canonical, request] = asked[0]!;
  assert.equal(request.body, seen[0]!.init.body);
  assert.equal(request.bodyDigest, bodyDigest(request.body));
  assert.equal(canonical, canonicalRequest(request));
  assert.match(
    canonical,
    /^MEDSIGN-HMAC-SM3\nPOST\n\/api\/v1\/sign\n[0-9a-f]{64}\n1764806400\n[\w-]{16,64}\napp_web$/,
  );
  const headers = seen[0]!.init.headers as Record<string, string>;
  assert.equal(headers['x-medsign-signature'], signRequest('backend-secret', request));
  assert.equal(headers['x-medsign-app-id'], 'app_web');
  assert.equal(headers['idempotency-key'], 'k-1');
  assert.equal(JSON.stringify(asked).includes('backend-secret'), false);
});

test('a client needs exactly one of appSecret and sign', () => {
  const sign = async () => '0'.repeat(64);
  assert.throws(() => new MedsignClient({ url: 'http://x', appId: 'a' }), /exactly one/);
  assert.throws(
    () => new MedsignClient({ url: 'http://x', appId: 'a', appSecret: 's', sign }),
    /exactly one/,
  );
  assert.throws(() => new MedsignClient({ url: 'http://x', appId: '', sign }), /appId/);
});

test('a failing sign hook fails the call without sending the request', async () => {
  const seen: Seen[] = [];
  const client = new MedsignClient({
    url: 'http://medsign.test',
    appId: 'app_web',
    sign: async () => {
      throw new Error('backend says no');
    },
    fetch: recorder(seen, () => new Response('{}')),
  });
  await assert.rejects(client.signature('s1'), /backend says no/);
  assert.equal(seen.length, 0);
});

test('signRequestParts refuses what is not a well-formed signing-API request', () => {
  const good: SignableRequest = {
    method: 'POST',
    path: '/api/v1/sign',
    body: '{"signer":"D001"}',
    bodyDigest: bodyDigest('{"signer":"D001"}'),
    timestamp: 1764806400,
    nonce: 'abcdefghijklmnop',
    appId: 'app_web',
  };
  assert.equal(signRequestParts('s', good), signRequest('s', good));
  // No bodyDigest given: computed from the body.
  const noDigest: Partial<SignableRequest> = { ...good };
  delete noDigest.bodyDigest;
  assert.equal(signRequestParts('s', noDigest as SignableRequest), signRequest('s', good));
  const bad: [Partial<SignableRequest> & Record<string, unknown>, RegExp][] = [
    [{ method: 'PUT' }, /method/],
    [{ method: 'post' }, /method/],
    [{ path: '/admin/apps' }, /path/],
    [{ path: '/api/v1/sign\nX' }, /path/],
    [{ timestamp: 1.5 }, /timestamp/],
    [{ timestamp: -1 }, /timestamp/],
    [{ nonce: 'short' }, /nonce/],
    [{ nonce: 'abcdefghijklmnop\n' }, /nonce/],
    [{ appId: '' }, /appId/],
    [{ body: 42 as unknown as string }, /body/],
    [{ bodyDigest: bodyDigest('{}') }, /bodyDigest/],
  ];
  for (const [change, message] of bad)
    assert.throws(() => signRequestParts('s', { ...good, ...change } as SignableRequest), message);
});

test('backendSigner posts the request as JSON with the session cookie and takes the signature', async () => {
  const seen: Seen[] = [];
  const signature = 'ab'.repeat(32);
  const signer = backendSigner('/medsign/sign-request', {
    headers: { 'x-csrf-token': 't' },
    fetch: recorder(seen, () => Response.json({ signature })),
  });
  const request: SignableRequest = {
    method: 'GET',
    path: '/api/v1/signatures/s1',
    body: undefined,
    bodyDigest: bodyDigest(undefined),
    timestamp: 1,
    nonce: 'abcdefghijklmnop',
    appId: 'a',
  };
  assert.equal(await signer(canonicalRequest(request), request), signature);
  assert.equal(seen[0]!.url, '/medsign/sign-request');
  assert.equal(seen[0]!.init.method, 'POST');
  assert.equal(seen[0]!.init.credentials, 'same-origin');
  assert.equal((seen[0]!.init.headers as Record<string, string>)['x-csrf-token'], 't');
  assert.deepEqual(JSON.parse(String(seen[0]!.init.body)), JSON.parse(JSON.stringify(request)));

  const refusing = backendSigner('/s', { fetch: recorder([], () => new Response('no', { status: 403 })) });
  await assert.rejects(refusing('', request), /HTTP 403/);
  const empty = backendSigner('/s', { fetch: recorder([], () => Response.json({ signature: 'x' })) });
  await assert.rejects(empty('', request), /no signature/);
});

test('without crypto.randomUUID (a plain-http page) idempotency keys are v4 UUIDs from getRandomValues', async () => {
  const seen: Seen[] = [];
  const client = new MedsignClient({
    url: 'http://medsign.test',
    appId: 'a',
    appSecret: 's',
    fetch: recorder(seen, () => new Response('{}')),
  });
  Object.defineProperty(globalThis.crypto, 'randomUUID', { value: undefined, configurable: true });
  try {
    assert.equal(crypto.randomUUID, undefined);
    await client.sign({ signer: 'D001', data: 'x' });
    await client.sign({ signer: 'D001', data: 'x' });
  } finally {
    delete (globalThis.crypto as { randomUUID?: unknown }).randomUUID;
  }
  assert.equal(typeof crypto.randomUUID, 'function');
  const keys = seen.map((s) => (s.init.headers as Record<string, string>)['idempotency-key']);
  for (const k of keys)
    assert.match(k!, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(keys[0], keys[1]);
});
