import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPublishDue, type LastPublish } from '../../../src/tls/self-managed-certificates.ts';

const at = Date.parse('2026-01-01T00:00:00Z');
const last: LastPublish = { bundlePem: 'CA', at, published: true };
const after = (ms: number) => new Date(at + ms);

test('a bundle is published the first time, when it changed, and after a failed attempt', () => {
  assert.equal(isPublishDue(undefined, 'CA', after(0), 60_000), true);
  assert.equal(isPublishDue(last, 'CA+NEW', after(1), 60_000), true);
  assert.equal(isPublishDue({ ...last, published: false }, 'CA', after(1), 60_000), true);
});

test('a published bundle is re-checked only once the check interval has passed', () => {
  assert.equal(isPublishDue(last, 'CA', after(59_999), 60_000), false);
  assert.equal(isPublishDue(last, 'CA', after(60_000), 60_000), true);
});

test('a clock that went backwards makes it due', () => {
  assert.equal(isPublishDue(last, 'CA', after(-1), 60_000), true);
});
