// Sandboxing with no webhook on the path: the MutatingAdmissionPolicy and ValidatingAdmissionPolicies that
// `sandbox-admission render map` / `render vap` generate, alone in a real kube-apiserver (no webhook configuration
// at all). Every pod goes through decide() (with mutation, no cluster facts) and, as a dry-run create, through the
// API server; what the API server stores must be decide()'s patch applied to the pod, in every field decide()
// touches, and a pod decide() refuses must be refused.
import * as k8s from '@kubernetes/client-node';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decide } from '../../src/decision/decide.ts';
import type { Decision } from '../../src/decision/types.ts';
import type { Pod } from '../../src/k8s/pod.ts';
import { parsePolicy } from '../../src/policy/parse.ts';
import type { Policy } from '../../src/policy/types.ts';
import { applyDecision } from '../helpers/pods.ts';
import { plain, waitFor } from './harness/api-assertions.ts';
import { resolveBinaries } from './harness/binaries.ts';
import { createNamespace, startCluster, type Cluster } from './harness/cluster.ts';
import { installNative, waitUntilSandboxing } from './harness/flavours.ts';
import { kubeletConfig, mirrorPod, podOf, tryCreate } from './harness/pod-admission.ts';
import {
  ADMIN,
  arbitraryCase,
  CASES,
  type Case,
  GENERATED,
  NAMESPACES,
  POLICY,
  podOfCase,
  RUNTIME_CLASSES,
  SEED,
  touched,
  UNTRUSTED,
  WEBHOOK_NAMESPACE,
} from './harness/sandbox-pod-cases.ts';

const bins = resolveBinaries();

function decideFor(policy: Policy, namespace: string, pod: k8s.V1Pod): Decision {
  return decide({
    operation: 'CREATE',
    namespace,
    pod: structuredClone(pod) as Pod,
    requester: ADMIN,
    namespaceFacts: { name: namespace, labels: NAMESPACES[namespace] ?? {} },
    policy,
  });
}

/** Refused by decide() only for a scheduling conflict, with an allowed class: the validating policies cannot see that. */
function isConflictOnly(decision: Decision): boolean {
  return decision.runtimeClassName !== undefined && decision.violations.every((v) => v.kind === 'scheduling-conflict');
}

describe('the generated MutatingAdmissionPolicy with no webhook at all', { skip: bins.skip ?? false }, () => {
  let cluster: Cluster;
  let core: k8s.CoreV1Api;
  let policy: Policy;

  before(
    async () => {
      const parsed = parsePolicy(POLICY, { webhookNamespace: WEBHOOK_NAMESPACE });
      assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.error));
      policy = parsed.value;
      cluster = await startCluster({ binaries: bins.binaries! });
      core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
      // RuntimeClasses without scheduling or overhead: the RuntimeClass plugin then adds nothing of its own.
      const node = cluster.kubeConfig.makeApiClient(k8s.NodeV1Api);
      for (const [name, handler] of RUNTIME_CLASSES) await node.createRuntimeClass({ body: { metadata: { name }, handler } });
      for (const [name, labels] of Object.entries(NAMESPACES)) await createNamespace(cluster.kubeConfig, name, labels);
      await createNamespace(cluster.kubeConfig, 'ns-fake', { 'sandbox-admission.io/runtime': 'fake' });
      for (const namespace of Object.keys(NAMESPACES))
        await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'builder-1' } } });

      await installNative(cluster, POLICY, WEBHOOK_NAMESPACE);
      await waitUntilSandboxing(cluster, 'apps', UNTRUSTED);
    },
    { timeout: 300_000 },
  );

  after(async () => {
    await cluster?.stop();
  });

  it('1. the API server accepted the policy without type-check warnings', async () => {
    const admission = cluster.kubeConfig.makeApiClient(k8s.AdmissionregistrationV1Api);
    const list = (await admission.listMutatingAdmissionPolicy()) as { items: Array<{ metadata?: k8s.V1ObjectMeta; status?: unknown }> };
    assert.deepEqual(
      list.items.map((p) => p.metadata?.name),
      ['sandbox-admission-sandbox'],
    );
    const status = list.items[0]!.status as { typeChecking?: { expressionWarnings?: unknown[] } } | undefined;
    assert.equal(status?.typeChecking?.expressionWarnings?.length ?? 0, 0, JSON.stringify(status));
  });

  /** Every case through decide() and the API server; returns the disagreements and how many pods were compared. */
  async function compareWithDecide(
    cases: readonly Case[],
    prefix: string,
  ): Promise<{ mismatches: string[]; counts: Record<string, number> }> {
    const mismatches: string[] = [];
    const counts: Record<string, number> = {};
    const count = (k: string) => {
      counts[k] = (counts[k] ?? 0) + 1;
    };
    for (const [i, c] of cases.entries()) {
      const pod = podOfCase(c, `${prefix}-${i}`);
      const decision = decideFor(policy, c.namespace, pod);
      const answer = await tryCreate(core, c.namespace, pod);
      const label = `${prefix}-${i} ${c.what} (${c.namespace}) ${JSON.stringify({ labels: c.labels, spec: c.spec })}`;
      if (!decision.allowed) {
        if (!answer.allowed) count('refused by both');
        else if (isConflictOnly(decision) && JSON.stringify(touched(answer.stored!)) === JSON.stringify(touched(pod)))
          count('conflict: admitted unchanged');
        else mismatches.push(`${label}: decide() refuses (${decision.message}), the API server admitted it`);
        continue;
      }
      if (!answer.allowed) {
        mismatches.push(`${label}: refused by the API server: ${answer.message}`);
        continue;
      }
      const expected = applyDecision(structuredClone(pod) as Pod, decision);
      const want = JSON.stringify(touched(expected));
      const got = JSON.stringify(touched(answer.stored!));
      if (want !== got) mismatches.push(`${label}\n  api:    ${got}\n  decide: ${want}`);
      else count(decision.patch.length > 0 ? 'mutated, identical' : 'unchanged, identical');
      // Idempotent: decide()'s result created again is stored as it is (the policy adds nothing the second time).
      if (decision.patch.length > 0) {
        const again = await tryCreate(core, c.namespace, expected as k8s.V1Pod);
        if (!again.allowed || JSON.stringify(touched(again.stored!)) !== want)
          mismatches.push(`${label}: not idempotent: ${JSON.stringify(touched(again.stored ?? {}))}`);
        assert.equal(decideFor(policy, c.namespace, expected as k8s.V1Pod).patch.length, 0);
      }
    }
    return { mismatches, counts };
  }

  it('2. every case of the table: the API server stores what decide() makes of the pod', async () => {
    const { mismatches, counts } = await compareWithDecide(CASES, 'case');
    process.stderr.write(`[e2e] map table: ${CASES.length} pods ${JSON.stringify(counts)}\n`);
    assert.deepEqual(mismatches, []);
    assert.ok((counts['mutated, identical'] ?? 0) >= 15, JSON.stringify(counts));
  });

  it(`3. ${GENERATED} generated pods (seed ${SEED}): the API server stores what decide() makes of each`, async () => {
    const cases = fc.sample(arbitraryCase, { seed: SEED, numRuns: GENERATED });
    const { mismatches, counts } = await compareWithDecide(cases, 'random');
    process.stderr.write(
      `[e2e] map generated (seed ${SEED}): ${cases.length} pods ${JSON.stringify(counts)}, ${mismatches.length} differences\n`,
    );
    assert.deepEqual(mismatches, []);
    for (const k of ['mutated, identical', 'unchanged, identical', 'refused by both'])
      assert.ok((counts[k] ?? 0) >= 20, `only ${counts[k] ?? 0} "${k}": ${JSON.stringify(counts)}`);
  });

  it('4. a real create is stored sandboxed; a mirror pod from its node is left alone, a forged one is not', async () => {
    const answer = await tryCreate(core, 'apps', podOf('real', UNTRUSTED), false);
    assert.ok(answer.allowed, answer.message);
    const stored = await core.readNamespacedPod({ namespace: 'apps', name: 'real' });
    assert.equal(stored.spec?.runtimeClassName, 'gvisor');
    assert.equal(stored.metadata?.annotations?.['sandbox-admission.io/rule'], 'untrusted-apps');

    const nodeConfig = kubeletConfig(cluster, 'node-1');
    const mirror = (name: string) => mirrorPod(name, 'node-1');
    const byNode = await tryCreate(nodeConfig.makeApiClient(k8s.CoreV1Api), 'ns-gvisor', mirror('static-web-node-1'));
    assert.ok(byNode.allowed, byNode.message);
    assert.equal(byNode.stored?.spec?.runtimeClassName, undefined);
    const forged = await tryCreate(core, 'ns-gvisor', mirror('static-web-forged'));
    assert.ok(forged.allowed, forged.message);
    assert.equal(forged.stored?.spec?.runtimeClassName, 'gvisor');
  });

  it('5. a class whose RuntimeClass runs runc is refused as the webhook refuses it (RuntimeClasses as params)', async () => {
    const runtimeClasses = new Map(RUNTIME_CLASSES.map(([name, handler]) => [name, { name, handler }]));
    const withFacts = (namespace: string, labels: Record<string, string>, pod: k8s.V1Pod): Decision =>
      decide({
        operation: 'CREATE',
        namespace,
        pod: structuredClone(pod) as Pod,
        requester: ADMIN,
        namespaceFacts: { name: namespace, labels },
        policy,
        runtimeClasses,
      });
    const label = { 'sandbox-admission.io/runtime': 'fake' };
    for (const [namespace, labels, pod] of [
      ['ns-fake', label, podOf('injected')],
      ['apps', {}, podOf('asked', UNTRUSTED, { runtimeClassName: 'fake-sandbox' })],
    ] as const) {
      const decision = withFacts(namespace, labels, pod);
      assert.equal(decision.allowed, false);
      assert.deepEqual(
        decision.violations.map((v) => v.kind),
        ['runtime-class-not-sandbox'],
      );
      const answer = await tryCreate(core, namespace, pod);
      assert.equal(answer.allowed, false, `${namespace}: admitted`);
      assert.ok(
        answer.message.endsWith(
          `ValidatingAdmissionPolicy 'sandbox-admission-runtime-class-enforce' with binding 'sandbox-admission-runtime-class-enforce' denied request: ${decision.message}`,
        ),
        `${answer.message}\n  decide: ${decision.message}`,
      );
    }
    // The same class on an ungoverned pod, or a governed pod in a real sandbox, is none of its business.
    for (const [namespace, pod] of [
      ['apps', podOf('ungoverned', {}, { runtimeClassName: 'fake-sandbox' })],
      ['apps', podOf('sandboxed', UNTRUSTED, { runtimeClassName: 'gvisor' })],
    ] as const) {
      const answer = await tryCreate(core, namespace, pod);
      assert.ok(answer.allowed, answer.message);
    }
  });

  it("6. a class's own scheduling: the RuntimeClass plugin merges it after the mutation, where the webhook adds it itself", async () => {
    const node = cluster.kubeConfig.makeApiClient(k8s.NodeV1Api);
    const kata = await node.readRuntimeClass({ name: 'kata' });
    kata.scheduling = { nodeSelector: { 'katacontainers.io/kata-runtime': 'true' } };
    kata.overhead = { podFixed: { memory: '160Mi', cpu: '250m' } };
    await node.replaceRuntimeClass({ name: 'kata', body: kata });
    const pod = podOf('kata-injected');
    // The webhook's decision, knowing the class's scheduling (the kata profile has no nodeSelector of its own).
    const decision = decide({
      operation: 'CREATE',
      namespace: 'team-a',
      pod: structuredClone(pod) as Pod,
      requester: ADMIN,
      namespaceFacts: { name: 'team-a', labels: {} },
      policy,
      runtimeClasses: new Map([['kata', { name: 'kata', handler: 'kata', nodeSelector: { 'katacontainers.io/kata-runtime': 'true' } }]]),
    });
    const expected = touched(applyDecision(structuredClone(pod) as Pod, decision));
    // The plugin's informer has the updated class soon after.
    let answer: Awaited<ReturnType<typeof tryCreate>> | undefined;
    await waitFor(async () => {
      answer = await tryCreate(core, 'team-a', pod);
      return answer.stored?.spec?.overhead !== undefined;
    });
    assert.deepEqual(touched(answer!.stored!), expected);
    assert.deepEqual(plain(answer!.stored!.spec!.overhead), { cpu: '250m', memory: '160Mi' });
  });
});
