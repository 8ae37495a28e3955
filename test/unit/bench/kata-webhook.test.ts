import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { expectKataAnswer, findKataLogProblems, readKataPort } from '../../../bench/kata-webhook.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';

test('the port comes from the patched copy’s logrus ready line, and only from a bound loopback address', () => {
  assert.equal(readKataPort('time="2026-12-01T23:21:27Z" level=info msg="Listening on 127.0.0.1:42245"'), 42245);
  // Upstream's own line, logged before it binds ":8080" on every interface: not a loopback port to trust.
  assert.equal(readKataPort('time="2026-12-01T23:21:27Z" level=info msg="Listening on :8080"'), undefined);
  assert.equal(readKataPort('level=info msg="Listening on 127.0.0.1:0"'), undefined);
});

test('its log problems are logrus errors, Go panics and its own error exits, not its per-pod chatter', () => {
  const file = join(makeTempDir('kata-log-'), 'kata-webhook.log');
  const head = 'setting runtime to kata:  team-a web\ntime="t" level=debug msg="Webhook mutating review finished"\n';
  const tail = [
    'time="t" level=error msg="admission review error"',
    'panic: runtime error: index out of range',
    'error serving webhook: listen tcp: address already in use',
    'time="t" level=info msg="Admission review request handled"',
    '',
  ].join('\n');
  writeFileSync(file, head + tail);
  assert.deepEqual(findKataLogProblems(file, 0).problems, tail.split('\n').slice(0, 3));
  const fromTail = findKataLogProblems(file, Buffer.byteLength(head + tail));
  assert.deepEqual(fromTail, { problems: [], end: Buffer.byteLength(head + tail) });
});

test('every pod gets runtimeClassName kata but one on the host network, which it passes unchanged', () => {
  assert.equal(expectKataAnswer('u', false).runtime, 'kata');
  assert.equal(expectKataAnswer('u', true).runtime, undefined);
  assert.equal(expectKataAnswer('u', true).allowed, true);
});
