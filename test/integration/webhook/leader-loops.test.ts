// The composition of the leader-only work in startWebhook: the audit runs while this replica leads and only then,
// the generated admission policies follow a policy file edit through the reconciler, and shutdown stops every
// writer before the Lease is released. The elector and the API are in-memory stand-ins (the real ones are proven
// against kube-apiserver in test/e2e/leader-elected-writers.test.ts); the policy file, store and server are real.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { LeaderElector } from '../../../src/cluster/leader-election.ts';
import type { LiveObject, ObjectWriter } from '../../../src/cluster/server-side-apply.ts';
import { startWebhook } from '../../../src/main/webhook.ts';
import { createLogger } from '../../../src/observe/logger.ts';
import { createMetrics } from '../../../src/observe/metrics.ts';
import { POLICY_DIGEST_ANNOTATION } from '../../../src/policy/policy-digest.ts';
import { createSwappableTlsSource } from '../../../src/tls/tls-source.ts';
import { createLoopbackServing } from '../../helpers/certificates.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';

const { serving } = createLoopbackServing('it-ca', 1);
const POLICY = readFileSync(new URL('../../../manifests/base/policy.yaml', import.meta.url), 'utf8');

function createElector() {
  const listeners = new Set<(leading: boolean) => void>();
  let leading = false;
  const events: string[] = [];
  const elector: LeaderElector = {
    identity: 'me',
    start: () => events.push('start'),
    isLeader: () => leading,
    holder: () => (leading ? 'me' : undefined),
    onChange: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop: async () => {
      events.push('elector stop');
      set(false);
    },
  };
  const set = (value: boolean) => {
    if (value === leading) return;
    leading = value;
    for (const l of listeners) l(value);
  };
  return { elector, set, events };
}

function createMemoryApi() {
  const objects = new Map<string, LiveObject>();
  let version = 0;
  const writer: ObjectWriter = {
    list: async (_v, kind) => [...objects.values()].filter((o) => o.kind === kind),
    apply: async (o) => {
      const stored = {
        ...structuredClone(o),
        metadata: { ...structuredClone(o.metadata), resourceVersion: String(++version) },
      } as LiveObject;
      objects.set(`${o.kind}/${o.metadata?.name}`, stored);
      return stored;
    },
    replace: async (o) => o as LiveObject,
    delete: async (o) => {
      objects.delete(`${o.kind}/${o.metadata.name}`);
    },
  };
  return { objects, writer };
}

const until = async (check: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('startWebhook with a leader elector', () => {
  it('runs the audit while leading only, repairs the generated policies after a policy edit, and stops writers before the Lease', async () => {
    const dir = makeTempDir('leader-loops-it-');
    const policyPath = join(dir, 'policy.yaml');
    writeFileSync(policyPath, POLICY);
    const { elector, set, events } = createElector();
    const api = createMemoryApi();
    const metrics = createMetrics();
    let audits = 0;
    const webhook = await startWebhook(
      { host: '127.0.0.1', port: 0, policyPath, webhookNamespace: 'sandbox-admission', drainDelayMs: 0 },
      {
        logger: createLogger({ level: 'silent' }),
        metrics,
        tls: { ...createSwappableTlsSource({ key: serving.keyPem, cert: serving.certPem }), healthy: () => true },
        cluster: { namespaceLabels: () => ({}), runtimeClasses: () => undefined },
        leader: elector,
        admissionPolicySync: { kinds: new Set(['validating'] as const), writer: api.writer, intervalMs: 60_000 },
        createAudit: () => {
          const n = ++audits;
          return { start: () => events.push(`audit ${n} start`), stop: async () => void events.push(`audit ${n} stop`) };
        },
      },
    );
    try {
      assert.deepEqual(events, ['start']);
      assert.equal(api.objects.size, 0, 'a follower writes nothing');
      set(true);
      await until(() => events.includes('audit 1 start') && api.objects.size > 0);
      assert.match(await metrics.registry.metrics(), /^sandbox_admission_leader 1$/m);
      const digest = () =>
        api.objects.get('ValidatingAdmissionPolicy/sandbox-admission-enforce')?.metadata?.annotations?.[POLICY_DIGEST_ANNOTATION];
      const before = digest();
      assert.equal(before, webhook.policy.policyDigest());

      // A policy edit: the reconciler renders the new document at once.
      writeFileSync(policyPath, POLICY.replace(/name: untrusted-apps/, 'name: untrusted-apps-renamed'));
      await until(() => digest() !== before);
      assert.equal(digest(), webhook.policy.policyDigest());

      set(false);
      await until(() => events.includes('audit 1 stop'));
      set(true);
      await until(() => events.includes('audit 2 start'));
    } finally {
      await webhook.shutdown();
    }
    // The audit of the term in force stops before the elector releases the Lease.
    assert.ok(events.indexOf('audit 2 stop') < events.indexOf('elector stop'), events.join(', '));
    assert.match(await metrics.registry.metrics(), /^sandbox_admission_leader 0$/m);
  });
});
