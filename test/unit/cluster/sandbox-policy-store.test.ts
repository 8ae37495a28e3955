import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createCrdPolicyStore, type SandboxPolicyObject } from '../../../src/cluster/sandbox-policy-store.ts';
import type { PolicyReloadEvent } from '../../../src/policy/policy-store.ts';
import { createFakeKubeApiClient, createWatchChannel } from '../helpers/fake-kube-api-client.ts';

/** The API as the store's list and watch see it: the objects listed first, then each change as a watch event. */
function fakeApi(initial: SandboxPolicyObject[]) {
  const watch = createWatchChannel();
  const client = createFakeKubeApiClient(
    () => ({ items: initial, metadata: { resourceVersion: '1' } }),
    (_path, _query, signal, onConnected) => watch.stream(signal, onConnected),
  );
  return {
    client,
    put: (o: SandboxPolicyObject) => watch.push({ type: 'MODIFIED', object: o }),
    remove: (name: string) => watch.push({ type: 'DELETED', object: { metadata: { name } } }),
  };
}

const sbp = (name: string, generation: number, spec: unknown, uid = `uid-${name}`): SandboxPolicyObject => ({
  apiVersion: 'sandbox-admission.io/v1alpha1',
  kind: 'SandboxPolicy',
  metadata: { name, generation, uid, resourceVersion: String(generation), managedFields: [] } as never,
  spec,
  status: { observedGeneration: generation - 1 },
});
const GOOD = {
  rules: [{ name: 'untrusted', action: 'sandbox', runtime: 'gvisor', match: { podSelector: { matchLabels: { app: 'u' } } } }],
};
const TWO_CLASSES = { profiles: { other: { runtimeClassName: 'gvisor' } }, rules: [] };

function store(initial: SandboxPolicyObject[]) {
  const informer = fakeApi(initial);
  const warnings: string[] = [];
  const s = createCrdPolicyStore({
    client: informer.client,
    webhookNamespace: 'sandbox-admission',
    name: 'default',
    log: { info: () => undefined, warn: (_d, m) => warnings.push(m), error: () => undefined },
  });
  const events: PolicyReloadEvent[] = [];
  s.onReload((e) => events.push(e));
  return { s, informer, events, warnings };
}

describe('the SandboxPolicy store', () => {
  test('serves the object named "default"; status, server fields and other objects do not matter', async () => {
    const { s } = store([sbp('default', 1, GOOD), sbp('other', 1, { rules: [] })]);
    await s.start();
    assert.deepEqual(
      s.current().rules.map((r) => r.name),
      ['untrusted'],
    );
    assert.equal(s.current().name, 'default');
    assert.deepEqual(s.inForce(), { ...s.inForce(), name: 'default', generation: 1, rules: 1, mode: 'enforce' });
    assert.equal(s.objects().length, 2);
  });

  test('start-up refuses without a valid "default", naming every problem', async () => {
    await assert.rejects(store([sbp('other', 1, GOOD)]).s.start(), /no SandboxPolicy "default"/);
    await assert.rejects(
      store([sbp('default', 1, TWO_CLASSES)]).s.start(),
      /is invalid:\n {2}POLICY_CONFLICT at spec\.profiles\.other\.runtimeClassName/,
    );
  });

  test('a refused generation keeps the last good policy; a status-only update is not a new policy; a fix is', async () => {
    const { s, informer, events } = store([sbp('default', 1, GOOD)]);
    await s.start();
    const digest = s.policyDigest();
    await informer.put(sbp('default', 2, TWO_CLASSES));
    assert.deepEqual(
      events.map((e) => [e.result, e.generation]),
      [
        ['success', 1],
        ['failure', 2],
      ],
    );
    assert.equal(s.policyDigest(), digest);
    assert.equal(s.current().rules.length, 1);
    assert.deepEqual(
      s.refusal()?.errors.map((e) => e.path),
      ['spec.profiles.other.runtimeClassName'],
    );
    await informer.put({ ...sbp('default', 2, TWO_CLASSES), status: { observedGeneration: 2 } });
    assert.equal(events.length, 2, 'the same generation is not checked again');
    await informer.put(sbp('default', 3, { rules: [] }));
    assert.deepEqual(events.at(-1), { result: 'success', path: 'sandboxpolicies/default', generation: 3 });
    assert.equal(s.refusal(), undefined);
    assert.notEqual(s.policyDigest(), digest);
  });

  test('deleting the object keeps the last good policy, and says so once', async () => {
    const { s, informer, warnings } = store([sbp('default', 1, GOOD)]);
    await s.start();
    await informer.remove('default');
    await informer.remove('default');
    assert.equal(s.current().rules.length, 1);
    assert.deepEqual(warnings, ['the SandboxPolicy in force was deleted; the last good policy stays in force']);
    // Recreated (a new uid, generation 1 again): a new policy.
    await informer.put(sbp('default', 1, { rules: [] }, 'uid-new'));
    assert.equal(s.current().rules.length, 0);
  });
});
