import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createFilePolicyStore, type PolicyReloadEvent } from '../../../src/policy/file-store.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';

const policyText = (rule: string) =>
  `apiVersion: sandbox-admission.io/v1alpha1\nkind: SandboxPolicy\nspec:\n  rules:\n    - {name: ${rule}, action: sandbox, runtime: gvisor}\n`;

function setup() {
  const dir = makeTempDir('policy-');
  const path = join(dir, 'policy.yaml');
  writeFileSync(path, policyText('first'));
  const events: PolicyReloadEvent[] = [];
  const store = createFilePolicyStore({ path, webhookNamespace: 'sa', pollIntervalMs: 60_000, onReload: (e) => events.push(e) });
  return { dir, path, events, store };
}

test('a changed file replaces the policy', () => {
  const { path, store, events } = setup();
  writeFileSync(path, policyText('second'));
  assert.equal(store.reload().result, 'success');
  assert.equal(store.current().rules[0]!.name, 'second');
  assert.deepEqual(
    events.map((e) => e.result),
    ['success'],
  );
  store.close();
});

test('a bad file is refused with the field path and the last good policy stays in force', () => {
  const { path, store, events } = setup();
  writeFileSync(path, policyText('second').replace('runtime: gvisor', 'runtime: nope'));
  const event = store.reload();
  assert.equal(event.result, 'failure');
  assert.equal(event.errors![0]!.path, 'spec.rules[0].runtime');
  assert.equal(store.current().rules[0]!.name, 'first');
  // The same bad content is reported once, not on every poll.
  assert.equal(store.reload().result, 'unchanged');
  assert.equal(events.length, 1);
  store.close();
});

test('an unreadable file keeps the policy too', () => {
  const { path, dir, store } = setup();
  renameSync(path, join(dir, 'moved.yaml'));
  assert.equal(store.reload().errors?.[0]?.code, 'POLICY_READ');
  assert.equal(store.current().rules[0]!.name, 'first');
  store.close();
});

test('a file replaced by rename (how editors and kubelet write) is picked up by the watcher', async () => {
  const { path, dir, store } = setup();
  const next = join(dir, '.next');
  writeFileSync(next, policyText('renamed'));
  renameSync(next, path);
  for (let i = 0; i < 50 && store.current().rules[0]!.name !== 'renamed'; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(store.current().rules[0]!.name, 'renamed');
  store.close();
});

test('an invalid policy at start-up throws with the problems attached', () => {
  const dir = makeTempDir('policy-');
  const path = join(dir, 'policy.yaml');
  writeFileSync(path, 'kind: Nope\n');
  assert.throws(
    () => createFilePolicyStore({ path, webhookNamespace: 'sa' }),
    (e: Error & { problems?: unknown[] }) => (e.problems?.length ?? 0) > 0,
  );
  // The message alone must say what to fix: it is what `serve` prints before exiting.
  assert.throws(() => createFilePolicyStore({ path, webhookNamespace: 'sa' }), /is invalid:\n {2}POLICY_SCHEMA at [a-z]/);
});

test('a reload of unresolvable YAML is a refusal event, never an exception out of the timer', () => {
  const { path, store } = setup();
  writeFileSync(path, 'apiVersion: sandbox-admission.io/v1alpha1\nkind: SandboxPolicy\nspec: *typo\n');
  assert.equal(store.reload().result, 'failure');
  assert.equal(store.current().rules[0]!.name, 'first');
  store.close();
});

test('unchanged text is no event; a mistake repeated after a fix is reported again', () => {
  const { path, store, events } = setup();
  assert.equal(store.reload().result, 'unchanged');
  const bad = policyText('second').replace('runtime: gvisor', 'runtime: nope');
  writeFileSync(path, bad);
  assert.equal(store.reload().result, 'failure');
  writeFileSync(path, policyText('first'));
  assert.equal(store.reload().result, 'unchanged');
  writeFileSync(path, bad);
  assert.equal(store.reload().result, 'failure');
  assert.deepEqual(
    events.map((e) => e.result),
    ['failure', 'failure'],
  );
  store.close();
});

test('listeners added with onReload hear every success and refusal, after options.onReload', () => {
  const { path, store, events } = setup();
  const heard: string[] = [];
  store.onReload((e) => heard.push(`${e.result} after ${events.length}`));
  store.reload();
  writeFileSync(path, policyText('second'));
  store.reload();
  writeFileSync(path, policyText('third').replace('runtime: gvisor', 'runtime: nope'));
  store.reload();
  assert.deepEqual(heard, ['success after 1', 'failure after 2']);
  store.close();
});
