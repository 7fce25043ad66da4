import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from '../src/index.js';

test('canonical JSON: sorted keys at every depth, no whitespace, undefined members dropped', () => {
  assert.equal(
    canonicalJson({ b: 1, a: [true, null, { d: 'x', c: -0.5 }], u: undefined }),
    '{"a":[true,null,{"c":-0.5,"d":"x"}],"b":1}',
  );
  assert.equal(canonicalJson('处方'), '"处方"');
  assert.equal(canonicalJson({ é: 1, z: 2, Z: 3, '10': 4, '9': 5 }), '{"10":4,"9":5,"Z":3,"z":2,"é":1}');
  assert.equal(canonicalJson(1e21), '1e+21');
  assert.equal(canonicalJson('\u2028"\\'), '"\u2028\\"\\\\"');
  assert.equal(canonicalJson('\ud800'), '"\\ud800"', 'lone surrogates escaped (well-formed JSON.stringify)');
  assert.equal(canonicalJson(Object.create(null) as object), '{}');
});

test('canonical JSON refuses what does not round-trip', () => {
  for (const bad of [
    Number.NaN,
    Infinity,
    1n,
    () => 1,
    Symbol('s'),
    new Date(0),
    new Uint8Array(1),
    new Map(),
    [undefined],
  ]) {
    assert.throws(() => canonicalJson({ x: bad }), TypeError, String(bad));
  }
  assert.throws(() => canonicalJson(undefined), TypeError);
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  assert.throws(() => canonicalJson(circular), /circular/);
  // A repeated (non-circular) reference is fine.
  const shared = { k: 1 };
  assert.equal(canonicalJson({ a: shared, b: shared }), '{"a":{"k":1},"b":{"k":1}}');
});

test('canonical JSON is stable under parse/re-serialise and key order', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      const text = canonicalJson(value);
      assert.equal(canonicalJson(JSON.parse(text)), text);
      assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(value)));
    }),
    { numRuns: 300 },
  );
});
