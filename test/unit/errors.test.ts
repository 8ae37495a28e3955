import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { VIOLATION_KINDS } from '../../src/decision/types.ts';
import { ERROR_CATALOGUE } from '../../src/errors.ts';
import { tableNames } from '../helpers/readme.ts';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

test('the README lists every error code of the catalogue, and no other', () => {
  assert.deepEqual(tableNames(README, '### Error codes').sort(), Object.keys(ERROR_CATALOGUE).sort());
});

test('the README lists every violation kind, and no other', () => {
  assert.deepEqual(tableNames(README, '### Violation kinds').sort(), [...VIOLATION_KINDS].sort());
});

test('tableNames reads only the first column of the table under its heading', () => {
  const markdown = '\n## A\n\n| x | y |\n|---|---|\n| `ONE`, `TWO` | `not-this` |\n\n## B\n| `THREE` | z |\n';
  assert.deepEqual(tableNames(markdown, '## A'), ['ONE', 'TWO']);
});
