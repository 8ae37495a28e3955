// The native flavour against the webhook, object for object: two real kube-apiservers side by side, one with the
// generated MutatingAdmissionPolicy and ValidatingAdmissionPolicies and no webhook, one with the webhook and no
// generated policy, the same RuntimeClasses, namespaces and policy. Every pod is created (dry run) in both; the
// stored objects must be identical, or both refused for the same reason, except for the differences README lists
// under "The MutatingAdmissionPolicy" (each counted apart and checked to be exactly that difference).
import * as k8s from '@kubernetes/client-node';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decide } from '../../src/decision/decide.ts';
import type { Decision } from '../../src/decision/types.ts';
import type { Pod } from '../../src/k8s/pod.ts';
import { parsePolicy } from '../../src/policy/parse.ts';
import type { Policy } from '../../src/policy/types.ts';
import { waitFor } from './harness/api-assertions.ts';
import { resolveBinaries } from './harness/binaries.ts';
import { type Cluster, createNamespace, startCluster } from './harness/cluster.ts';
import { type Flavour, installNative, installWebhook, waitUntilSandboxing } from './harness/flavours.ts';
import { type ApiAnswer, tryCreate } from './harness/pod-admission.ts';
import {
  ADMIN,
  arbitraryCase,
  CASES,
  type Case,
  GENERATED,
  NAMESPACES,
  normalize,
  POLICY,
  podOfCase,
  RUNTIME_CLASSES,
  SEED,
  touched,
  UNTRUSTED,
  WEBHOOK_NAMESPACE,
} from './harness/sandbox-pod-cases.ts';
import { REINVOKE_LABEL, startTestMutator, type TestMutator } from './harness/test-mutator.ts';
import type { WebhookProcess } from './harness/webhook.ts';

const bins = resolveBinaries();
const FLAVOURS: readonly Flavour[] = ['native', 'webhook'];
// Namespaces of this file only (not in NAMESPACES, which decide() is given as facts).
const EXTRA_NAMESPACES: Record<string, Record<string, string>> = {
  'ns-fake': { 'sandbox-admission.io/runtime': 'fake' },
  reinvoke: { [REINVOKE_LABEL]: 'true' },
  relabel: { 'sandbox-admission.io/runtime': 'gvisor' },
};
const CONCURRENCY = 8;
const DIFFERENCES_FILE = join(tmpdir(), 'sandbox-admission-native-vs-webhook-differences.txt');

/** The stored pod without what the API server makes up per create (uid, timestamps, a generated name). */
function comparable(pod: k8s.V1Pod): string {
  const copy = JSON.parse(JSON.stringify(pod)) as k8s.V1Pod;
  const meta = copy.metadata ?? {};
  delete meta.uid;
  delete meta.creationTimestamp;
  delete meta.resourceVersion;
  delete meta.managedFields;
  if (meta.generateName) delete meta.name;
  // The ServiceAccount admission plugin names the token volume with a random suffix.
  return JSON.stringify(normalize(copy)).replace(/kube-api-access-[a-z0-9]{5}/g, 'kube-api-access-*');
}

/** What the refusal says, without who said it (`admission webhook "x" denied the request:` / `ValidatingAdmissionPolicy 'x' … denied request:`). */
function reason(answer: ApiAnswer): string {
  const m = /denied (?:the )?request: ([\s\S]*)$/.exec(answer.message);
  return m ? m[1]! : answer.message;
}

type Outcome =
  | 'identical, mutated'
  | 'identical, unchanged'
  | 'refused by both for the same reason'
  | 'known: a conflict with an allowed class is admitted unchanged by the native flavour'
  | 'known: a conflict without a class is refused by the native flavour with the generic message'
  | 'known: the native flavour names what the profile cannot host, not the scheduling conflicts besides';

describe('the native flavour and the webhook store the same pods', { skip: bins.skip ?? false }, () => {
  const clusters = {} as Record<Flavour, Cluster>;
  const cores = {} as Record<Flavour, k8s.CoreV1Api>;
  let webhook: WebhookProcess | undefined;
  const mutators: TestMutator[] = [];
  let policy: Policy;
  const t0 = Date.now();

  before(
    async () => {
      const parsed = parsePolicy(POLICY, { webhookNamespace: WEBHOOK_NAMESPACE });
      assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.error));
      policy = parsed.value;
      const started = await Promise.all(FLAVOURS.map(() => startCluster({ binaries: bins.binaries! })));
      for (const [i, flavour] of FLAVOURS.entries()) {
        const cluster = started[i]!;
        clusters[flavour] = cluster;
        cores[flavour] = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
        const node = cluster.kubeConfig.makeApiClient(k8s.NodeV1Api);
        for (const [name, handler] of RUNTIME_CLASSES) await node.createRuntimeClass({ body: { metadata: { name }, handler } });
        for (const [name, labels] of Object.entries({ ...NAMESPACES, ...EXTRA_NAMESPACES }))
          await createNamespace(cluster.kubeConfig, name, labels);
        for (const namespace of Object.keys(NAMESPACES))
          await cores[flavour].createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'builder-1' } } });
        if (flavour === 'native') await installNative(cluster, POLICY, WEBHOOK_NAMESPACE);
        else webhook = await installWebhook(cluster, POLICY);
        mutators.push(await startTestMutator(cluster));
      }
      await Promise.all(FLAVOURS.map((f) => waitUntilSandboxing(clusters[f], 'apps', UNTRUSTED)));
      process.stderr.write(`[e2e] phase native-vs-webhook-setup: ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
    },
    { timeout: 300_000 },
  );

  after(async () => {
    for (const mutator of mutators) await mutator.stop();
    await webhook?.stop();
    await Promise.all(FLAVOURS.map((f) => clusters[f]?.stop()));
    process.stderr.write(`[e2e] phase native-vs-webhook: ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
  });

  const decideFor = (c: Case, pod: k8s.V1Pod): Decision =>
    decide({
      operation: 'CREATE',
      namespace: c.namespace,
      pod: structuredClone(pod) as Pod,
      requester: ADMIN,
      namespaceFacts: { name: c.namespace, labels: NAMESPACES[c.namespace] ?? {} },
      policy,
    });

  /** One case in both clusters: its outcome, or a description of the difference. */
  async function compare(c: Case, name: string): Promise<{ outcome?: Outcome; difference?: string }> {
    const pod = podOfCase(c, name);
    const [native, hooked] = await Promise.all(FLAVOURS.map((f) => tryCreate(cores[f], c.namespace, structuredClone(pod))));
    const label = `${name} ${c.what} (${c.namespace}) ${JSON.stringify({ labels: c.labels, spec: c.spec })}`;
    if (native!.allowed && hooked!.allowed) {
      const [a, b] = [comparable(native!.stored!), comparable(hooked!.stored!)];
      if (a !== b) return { difference: `${label}\n  native:  ${a}\n  webhook: ${b}` };
      return {
        outcome: JSON.stringify(touched(native!.stored!)) === JSON.stringify(touched(pod)) ? 'identical, unchanged' : 'identical, mutated',
      };
    }
    const decision = NAMESPACES[c.namespace] ? decideFor(c, pod) : undefined;
    const conflictOnly = decision !== undefined && !decision.allowed && decision.violations.every((v) => v.kind === 'scheduling-conflict');
    if (!native!.allowed && !hooked!.allowed) {
      if (reason(native!) === reason(hooked!)) return { outcome: 'refused by both for the same reason' };
      if (conflictOnly && pod.spec?.runtimeClassName === undefined && hooked!.message.includes(decision!.message ?? '\u0000'))
        return { outcome: 'known: a conflict without a class is refused by the native flavour with the generic message' };
      const conflicts = (decision?.violations ?? []).filter((v) => v.kind === 'scheduling-conflict').map((v) => v.message);
      if (!conflictOnly && conflicts.length > 0 && reason(hooked!) === `${reason(native!)}; ${conflicts.join('; ')}`)
        return { outcome: 'known: the native flavour names what the profile cannot host, not the scheduling conflicts besides' };
      return { difference: `${label}: refused for different reasons\n  native:  ${native!.message}\n  webhook: ${hooked!.message}` };
    }
    if (native!.allowed && conflictOnly && JSON.stringify(touched(native!.stored!)) === JSON.stringify(touched(pod)))
      return { outcome: 'known: a conflict with an allowed class is admitted unchanged by the native flavour' };
    return {
      difference: `${label}: ${native!.allowed ? 'only the native flavour admitted it' : 'only the webhook admitted it'}\n  native:  ${native!.message}\n  webhook: ${hooked!.message}`,
    };
  }

  async function compareAll(cases: readonly Case[], prefix: string): Promise<{ differences: string[]; counts: Record<string, number> }> {
    const differences: string[] = [];
    const counts: Record<string, number> = {};
    for (let start = 0; start < cases.length; start += CONCURRENCY) {
      const batch = cases.slice(start, start + CONCURRENCY);
      const results = await Promise.all(batch.map((c, j) => compare(c, `${prefix}-${start + j}`)));
      for (const r of results) {
        if (r.difference !== undefined) differences.push(r.difference);
        else counts[r.outcome!] = (counts[r.outcome!] ?? 0) + 1;
      }
    }
    return { differences, counts };
  }

  it('1. every case of the table: identical stored objects or the same refusal', async () => {
    const { differences, counts } = await compareAll(CASES, 'case');
    process.stderr.write(
      `[e2e] native vs webhook, table: ${CASES.length} pods ${JSON.stringify(counts)}, ${differences.length} differences\n`,
    );
    assert.deepEqual(differences, []);
    assert.ok((counts['identical, mutated'] ?? 0) >= 15, JSON.stringify(counts));
  });

  it(`2. ${GENERATED} generated pods (seed ${SEED}): identical stored objects or the same refusal`, { timeout: 900_000 }, async () => {
    const cases = fc.sample(arbitraryCase, { seed: SEED, numRuns: GENERATED });
    const { differences, counts } = await compareAll(cases, 'random');
    process.stderr.write(
      `[e2e] native vs webhook, generated (seed ${SEED}): ${cases.length} pods ${JSON.stringify(counts)}, ${differences.length} differences\n`,
    );
    if (differences.length > 0) writeFileSync(DIFFERENCES_FILE, differences.join('\n\n'));
    assert.deepEqual(
      differences.slice(0, 20),
      [],
      `${differences.length} differences (first 20 shown, all in ${DIFFERENCES_FILE}), seed ${SEED}`,
    );
    for (const k of ['identical, mutated', 'identical, unchanged', 'refused by both for the same reason'] as const)
      assert.ok((counts[k] ?? 0) >= 20, `only ${counts[k] ?? 0} "${k}": ${JSON.stringify(counts)}`);
  });

  it('3. a second mutator that strips the tolerations: both flavours are reinvoked and store the same, complete pod', async () => {
    const cases: Case[] = [
      { what: 'governed by a rule', namespace: 'reinvoke', labels: UNTRUSTED },
      {
        what: 'with its own toleration',
        namespace: 'reinvoke',
        labels: UNTRUSTED,
        spec: { tolerations: [{ key: 'a', operator: 'Exists' }] },
      },
      { what: 'ungoverned', namespace: 'reinvoke', labels: { app: 'web' } },
    ];
    for (const [i, c] of cases.entries()) {
      const pod = podOfCase(c, `reinvoked-${i}`);
      const answers = await Promise.all(FLAVOURS.map((f) => tryCreate(cores[f], c.namespace, structuredClone(pod))));
      for (const [j, answer] of answers.entries()) {
        assert.ok(answer.allowed, `${FLAVOURS[j]}: ${answer.message}`);
        assert.equal(answer.stored?.metadata?.labels?.['e2e.sandbox-admission.io/mutated'], 'true', 'the second mutator ran');
      }
      assert.equal(comparable(answers[0]!.stored!), comparable(answers[1]!.stored!), c.what);
      const spec = answers[0]!.stored!.spec!;
      if (c.labels === UNTRUSTED) {
        assert.equal(spec.runtimeClassName, 'gvisor');
        // The mutator removed every toleration after the first pass; only a second pass can have put ours back,
        // once (not doubled) and the pod's own is gone with the rest.
        const gvisor = (spec.tolerations ?? []).filter((t) => t.key === 'sandbox.gke.io/runtime');
        assert.equal(gvisor.length, 2, JSON.stringify(spec.tolerations));
        assert.equal(
          (spec.tolerations ?? []).some((t) => t.key === 'a'),
          false,
        );
        const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
        assert.equal(terms.length, 1);
        assert.equal(terms[0]!.matchExpressions?.filter((e) => e.key === 'sandbox.gke.io/runtime').length, 1, 'affinity not doubled');
      } else assert.equal(spec.runtimeClassName, undefined);
    }
  });

  it('4. a namespace label changed between two creates: both flavours follow it the same way', async () => {
    const steps: Array<{ labels: Record<string, string>; want: string | undefined }> = [
      { labels: { 'sandbox-admission.io/runtime': 'gvisor' }, want: 'gvisor' },
      { labels: { 'sandbox-admission.io/runtime': 'kata' }, want: 'kata' },
      { labels: { 'sandbox-admission.io/runtime': 'kata', 'sandbox-admission.io/mode': 'warn' }, want: 'kata' },
      { labels: {}, want: undefined },
      { labels: { 'sandbox-admission.io/runtime': 'gvisor' }, want: 'gvisor' },
    ];
    let n = 0;
    for (const step of steps) {
      for (const f of FLAVOURS) {
        const core = cores[f];
        const current = await core.readNamespace({ name: 'relabel' });
        const labels = { ...(current.metadata?.labels ?? {}) };
        for (const key of Object.keys(labels)) if (key.startsWith('sandbox-admission.io/')) delete labels[key];
        current.metadata!.labels = { ...labels, ...step.labels };
        await core.replaceNamespace({ name: 'relabel', body: current });
      }
      // The API server's own namespace lister and the webhook's informer each catch up on their own.
      const answers: ApiAnswer[] = [];
      for (const [j, f] of FLAVOURS.entries())
        await waitFor(async () => {
          answers[j] = await tryCreate(cores[f], 'relabel', podOfCase({ what: 'relabel', namespace: 'relabel' }, `relabel-${n++}`));
          return answers[j]!.allowed && answers[j]!.stored?.spec?.runtimeClassName === step.want;
        });
      const pod = podOfCase({ what: 'relabel', namespace: 'relabel' }, 'relabel-final');
      const [native, hooked] = await Promise.all(FLAVOURS.map((f) => tryCreate(cores[f], 'relabel', structuredClone(pod))));
      assert.ok(native!.allowed && hooked!.allowed, `${native!.message} / ${hooked!.message}`);
      assert.equal(comparable(native!.stored!), comparable(hooked!.stored!), JSON.stringify(step.labels));
      // A pod it cannot move: refused under an enforcing label, admitted unchanged under warn or no label.
      const host = podOfCase({ what: 'hostNetwork', namespace: 'relabel', spec: { hostNetwork: true } }, 'relabel-host');
      const [nativeHost, hookedHost] = await Promise.all(FLAVOURS.map((f) => tryCreate(cores[f], 'relabel', structuredClone(host))));
      assert.equal(
        nativeHost!.allowed,
        hookedHost!.allowed,
        `${JSON.stringify(step.labels)}: ${nativeHost!.message} / ${hookedHost!.message}`,
      );
      assert.equal(nativeHost!.allowed, step.want === undefined || step.labels['sandbox-admission.io/mode'] === 'warn');
    }
  });
});
