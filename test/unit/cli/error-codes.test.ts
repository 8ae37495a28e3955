import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CODES } from '../../../src/errors.ts';

test('every error code a user can see is in the README error-code table', () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const table = readme.slice(readme.indexOf('### Error codes'), readme.indexOf('## Development'));
  for (const code of Object.keys(ERROR_CODES)) assert.match(table, new RegExp(`\`${code}\``), code);
});
