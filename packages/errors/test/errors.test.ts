import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DomainError, ERROR_CODES, renderErrorsMarkdown } from '../src/index.js';

test('docs/errors.md is the table rendered (regenerate: node --import tsx -e "…renderErrorsMarkdown()")', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  assert.equal(doc, renderErrorsMarkdown());
});

test('codes carry their kind and HTTP status; detail defaults to the meaning', () => {
  const e = new DomainError('CA_ALREADY_REVOKED');
  assert.equal(e.kind, 'conflict');
  assert.equal(e.status, 409);
  assert.equal(e.detail, ERROR_CODES.CA_ALREADY_REVOKED.meaning);
  const withDetail = new DomainError('CA_CERT_NOT_FOUND', 'serial 1f not issued by CA sm2', {
    cause: new Error('db'),
  });
  assert.equal(withDetail.detail, 'serial 1f not issued by CA sm2');
  assert.match(withDetail.message, /^CA_CERT_NOT_FOUND: /);
});
