import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Leadership } from '../../../src/cluster/leadership.ts';
import {
  createSandboxPolicyStatusWriter,
  type SandboxPolicyStatus,
  type StatusEvent,
  writeSandboxPolicyStatus,
} from '../../../src/cluster/sandbox-policy-status.ts';
import type { InForce, Refusal, SandboxPolicyObject } from '../../../src/cluster/sandbox-policy-store.ts';
import { createFakeKubeApiClient, kubeApiError } from '../helpers/fake-kube-api-client.ts';

const IN_FORCE: InForce = { name: 'default', uid: 'u1', generation: 2, digest: '0123456789abcdef', rules: 3, mode: 'enforce,warn' };
const object = (name: string, generation: number, status?: SandboxPolicyStatus): SandboxPolicyObject => ({
  apiVersion: 'sandbox-admission.io/v1alpha1',
  kind: 'SandboxPolicy',
  metadata: { name, uid: name === 'default' ? 'u1' : `u-${name}`, generation },
  spec: { rules: [] },
  ...(status ? { status: status as unknown as Record<string, unknown> } : {}),
});

function harness(opts: { objects: SandboxPolicyObject[]; refusal?: Refusal; stale?: string[]; leader?: boolean }) {
  const writes: Array<{ name: string; status: SandboxPolicyStatus }> = [];
  const events: Array<{ name: string; event: StatusEvent }> = [];
  let leader = opts.leader ?? true;
  const listeners: Array<(l: boolean) => void> = [];
  const leadership: Leadership = { isLeader: () => leader, onChange: (l) => listeners.push(l) };
  let objects = opts.objects;
  const writer = createSandboxPolicyStatusWriter({
    store: { name: 'default', objects: () => objects, inForce: () => IN_FORCE, refusal: () => opts.refusal },
    stale: () => opts.stale ?? [],
    leadership,
    writeStatus: async (o, status) => {
      writes.push({ name: o.metadata!.name!, status });
      // What the API server would then send back through the watch.
      objects = objects.map((x) =>
        x.metadata?.name === o.metadata?.name ? { ...x, status: status as unknown as Record<string, unknown> } : x,
      );
    },
    recordEvent: async (o, event) => {
      events.push({ name: o.metadata!.name!, event });
    },
    log: { info: () => undefined, warn: () => undefined },
    now: () => new Date('2026-12-01T12:00:00.000Z'),
  });
  return {
    writer,
    writes,
    events,
    lead: (value: boolean) => {
      leader = value;
      for (const l of listeners) l(value);
    },
  };
}

const cond = (s: SandboxPolicyStatus, type: string) => s.conditions.find((c) => c.type === type)!;

describe('SandboxPolicy status', () => {
  test('the object in force: Accepted and Ready True, digest, rules, mode; one PolicyAccepted event', async () => {
    const h = harness({ objects: [object('default', 2)] });
    await h.writer.reconcile();
    await h.writer.reconcile();
    assert.equal(h.writes.length, 1, 'an up-to-date status is not written again');
    const { status } = h.writes[0]!;
    assert.deepEqual([status.observedGeneration, status.digest, status.rules, status.mode], [2, IN_FORCE.digest, 3, 'enforce,warn']);
    assert.equal(cond(status, 'Accepted').status, 'True');
    assert.equal(cond(status, 'Ready').reason, 'InForce');
    assert.equal(cond(status, 'Ready').lastTransitionTime, '2026-12-01T12:00:00Z');
    assert.deepEqual(
      h.events.map((e) => [e.name, e.event.type, e.event.reason]),
      [['default', 'Normal', 'PolicyAccepted']],
    );
  });

  test('stale generated admission policies make Ready False, naming them', async () => {
    const h = harness({ objects: [object('default', 2)], stale: ['sandbox-admission-runtime'] });
    await h.writer.reconcile();
    const ready = cond(h.writes[0]!.status, 'Ready');
    assert.deepEqual([ready.status, ready.reason], ['False', 'AdmissionPoliciesStale']);
    assert.match(ready.message, /sandbox-admission-runtime/);
  });

  test('a refused generation lists every path and the last good policy; a Warning event', async () => {
    const refusal: Refusal = {
      uid: 'u1',
      generation: 3,
      errors: [
        { code: 'POLICY_CONFLICT', path: 'spec.profiles.a.runtimeClassName', message: 'x' },
        { code: 'POLICY_SCHEMA', path: 'spec.rules[0].match.podSelector.matchLabels["a b"]', message: 'y' },
      ],
    };
    const h = harness({ objects: [object('default', 3)], refusal });
    await h.writer.reconcile();
    const accepted = cond(h.writes[0]!.status, 'Accepted');
    assert.deepEqual([accepted.status, accepted.reason, accepted.observedGeneration], ['False', 'Invalid', 3]);
    assert.match(accepted.message, /spec\.profiles\.a\.runtimeClassName.*spec\.rules\[0\]\.match\.podSelector\.matchLabels\["a b"\]/);
    assert.match(accepted.message, /last good policy \(generation 2, digest 0123456789abcdef\) stays in force/);
    assert.equal(h.writes[0]!.status.digest, IN_FORCE.digest);
    assert.deepEqual(
      h.events.map((e) => e.event.reason),
      ['PolicyRejected'],
    );
  });

  test('any other object is NotInForce, naming the one in force', async () => {
    const h = harness({ objects: [object('default', 2), object('team-a', 1)] });
    await h.writer.reconcile();
    const other = h.writes.find((w) => w.name === 'team-a')!.status;
    for (const type of ['Accepted', 'Ready']) {
      assert.equal(cond(other, type).reason, 'NotInForce');
      assert.match(cond(other, type).message, /only the SandboxPolicy named "default"/);
    }
  });

  test('a generation not checked yet is left alone', async () => {
    const h = harness({ objects: [object('default', 5)] });
    await h.writer.reconcile();
    assert.equal(h.writes.length, 0);
  });

  test('a replica that does not lead writes no status and no event; it does once it leads, and a new leader repeats nothing', async () => {
    const h = harness({ objects: [object('default', 2), object('team-a', 1)], leader: false });
    await h.writer.reconcile();
    assert.deepEqual([h.writes.length, h.events.length], [0, 0]);
    h.lead(true);
    await h.writer.reconcile();
    assert.deepEqual([h.writes.length, h.events.length], [2, 2]);
    // Another replica taking over sees the statuses already written: nothing to write, no second event.
    const next = harness({ objects: h.writes.map((w) => object(w.name, w.status.observedGeneration, w.status)) });
    await next.writer.reconcile();
    assert.deepEqual([next.writes.length, next.events.length], [0, 0]);
  });
});

describe('writeSandboxPolicyStatus', () => {
  test('PUTs the object with its resourceVersion and the new status to the status subresource; a stale write is refused (409)', async () => {
    const client = createFakeKubeApiClient((request) => request.body);
    const write = writeSandboxPolicyStatus(client);
    const status: SandboxPolicyStatus = { observedGeneration: 2, conditions: [] };
    const live = { ...object('default', 2), metadata: { name: 'default', uid: 'u1', generation: 2, resourceVersion: '41' } };
    await write(live, status);
    const path = '/apis/sandbox-admission.io/v1alpha1/sandboxpolicies/default/status';
    assert.deepEqual(client.requests, [
      {
        method: 'PUT',
        path,
        body: { apiVersion: 'sandbox-admission.io/v1alpha1', kind: 'SandboxPolicy', metadata: live.metadata, spec: { rules: [] }, status },
      },
    ]);
    client.failNext(path, kubeApiError(409, 'the object has been modified'));
    await assert.rejects(write(live, status), { code: 409 });
  });
});

describe('SandboxPolicy status write failures', () => {
  test('a 409 (a newer object is on its way) is left to the next watch event; any other failure is logged', async () => {
    for (const [code, warned] of [
      [409, 0],
      [500, 1],
    ] as const) {
      const warnings: string[] = [];
      const writer = createSandboxPolicyStatusWriter({
        store: { name: 'default', objects: () => [object('default', 2)], inForce: () => IN_FORCE, refusal: () => undefined },
        stale: () => [],
        leadership: { isLeader: () => true, onChange: () => undefined },
        writeStatus: writeSandboxPolicyStatus(
          createFakeKubeApiClient(() => {
            throw kubeApiError(code, 'refused');
          }),
        ),
        recordEvent: async () => undefined,
        log: { info: () => undefined, warn: (_d, m) => warnings.push(m) },
      });
      await writer.reconcile();
      assert.equal(warnings.length, warned, `HTTP ${code}`);
    }
  });
});
