import assert from 'node:assert/strict';
import { test } from 'node:test';
import fjp from 'fast-json-patch';
import { escapePointerToken, pointer } from '../../../src/util/json-pointer.ts';

test('RFC 6901 escaping: ~ before /, so "a~1b" and "a/b" stay distinct', () => {
  assert.equal(escapePointerToken('sandbox.gke.io/runtime'), 'sandbox.gke.io~1runtime');
  assert.equal(escapePointerToken('a~1b'), 'a~01b');
  assert.equal(escapePointerToken('~/'), '~0~1');
  assert.equal(pointer('metadata', 'annotations', 'x/y'), '/metadata/annotations/x~1y');
  const doc = { m: { 'a/b': 1, 'a~1b': 2 } };
  assert.equal(fjp.getValueByPointer(doc, pointer('m', 'a~1b')), 2);
  assert.equal(fjp.getValueByPointer(doc, pointer('m', 'a/b')), 1);
});
