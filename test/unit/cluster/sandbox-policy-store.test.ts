import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createCrdPolicyStore, type SandboxPolicyObject } from '../../../src/cluster/sandbox-policy-store.ts';
import type { InformerFactory } from '../../../src/cluster/synced-informer.ts';
import type { PolicyReloadEvent } from '../../../src/policy/policy-store.ts';

/** The informer's contract as the store uses it: a cache by name, and add/update/delete callbacks. */
function fakeInformer(initial: SandboxPolicyObject[]) {
  const objects = new Map(initial.map((o) => [o.metadata!.name!, o]));
  const handlers = new Map<string, Array<(o: unknown) => void>>();
  const informer = {
    start: async () => undefined,
    stop: async () => undefined,
    on: (event: string, cb: (o: unknown) => void) => handlers.set(event, [...(handlers.get(event) ?? []), cb]),
    off: () => undefined,
    get: (name: string) => objects.get(name),
    list: () => [...objects.values()],
  };
  const factory = (() => informer) as unknown as InformerFactory;
  return {
    factory,
    put: (o: SandboxPolicyObject) => {
      objects.set(o.metadata!.name!, o);
      for (const h of handlers.get('update') ?? []) h(o);
    },
    remove: (name: string) => {
      const o = objects.get(name);
      objects.delete(name);
      for (const h of handlers.get('delete') ?? []) h(o);
    },
  };
}

const sbp = (name: string, generation: number, spec: unknown, uid = `uid-${name}`): SandboxPolicyObject & KubernetesObject => ({
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
  const informer = fakeInformer(initial);
  const warnings: string[] = [];
  const s = createCrdPolicyStore({
    kubeConfig: { makeApiClient: () => ({}) } as unknown as KubeConfig,
    webhookNamespace: 'sandbox-admission',
    name: 'default',
    log: { info: () => undefined, warn: (_d, m) => warnings.push(m), error: () => undefined },
    makeInformer: informer.factory,
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
    informer.put(sbp('default', 2, TWO_CLASSES));
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
    informer.put({ ...sbp('default', 2, TWO_CLASSES), status: { observedGeneration: 2 } });
    assert.equal(events.length, 2, 'the same generation is not checked again');
    informer.put(sbp('default', 3, { rules: [] }));
    assert.deepEqual(events.at(-1), { result: 'success', path: 'sandboxpolicies/default', generation: 3 });
    assert.equal(s.refusal(), undefined);
    assert.notEqual(s.policyDigest(), digest);
  });

  test('deleting the object keeps the last good policy, and says so once', async () => {
    const { s, informer, warnings } = store([sbp('default', 1, GOOD)]);
    await s.start();
    informer.remove('default');
    informer.remove('default');
    assert.equal(s.current().rules.length, 1);
    assert.deepEqual(warnings, ['the SandboxPolicy in force was deleted; the last good policy stays in force']);
    // Recreated (a new uid, generation 1 again): a new policy.
    informer.put(sbp('default', 1, { rules: [] }, 'uid-new'));
    assert.equal(s.current().rules.length, 0);
  });
});
