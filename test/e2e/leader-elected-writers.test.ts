// Three webhook replicas (real processes, as the webhook's ServiceAccount with the manifests' RBAC) against a real
// kube-apiserver: exactly one writes the generated admission policies and the PolicyReports; a policy edit reaches
// the generated objects within 5 s; a hand edit or delete is repaired; an unchanged policy writes nothing (stable
// resourceVersions); SIGKILL of the leader hands the Lease to another replica within the lease duration plus one
// retry period, and nothing flaps across the takeover.
import * as k8s from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { POLICY_DIGEST_ANNOTATION } from '../../src/policy/policy-digest.ts';
import { plain, waitFor } from './harness/api-assertions.ts';
import { resolveBinaries } from './harness/binaries.ts';
import { createNamespace, startCluster, type Cluster } from './harness/cluster.ts';
import { applyManifestRbac, serviceAccountKubeConfig } from './harness/service-account.ts';
import { readManifests, startWebhookProcess, type WebhookProcess } from './harness/webhook.ts';

const bins = resolveBinaries();
const NAMESPACE = 'sandbox-admission';
// Short for a quick test, but not so short that a loaded machine's slow renews make the leader step down.
const LEASE = { durationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 500 };
const POLICY = `apiVersion: sandbox-admission.io/v1alpha1
kind: SandboxPolicy
metadata: {name: e2e-writers}
spec:
  namespaceLabels: {enabled: false}
  rules:
    - {name: untrusted-apps, match: {podSelector: {matchLabels: {app: untrusted}}}, action: sandbox, runtime: gvisor}
`;
// One more rule in warn mode: the policy then renders a warn pair of ValidatingAdmissionPolicies too.
const POLICY_WITH_WARN = `${POLICY}    - {name: legacy, match: {namespaces: [legacy]}, action: sandbox, runtime: gvisor, mode: warn}
`;
const VAP = 'admissionregistration.k8s.io/v1';
const GENERATED_KINDS = [
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'MutatingAdmissionPolicy',
  'MutatingAdmissionPolicyBinding',
] as const;

function pod(name: string, labels: Record<string, string>, spec: Partial<k8s.V1PodSpec> = {}): k8s.V1Pod {
  return { metadata: { name, labels }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }], ...spec } };
}

describe('leader-elected writers: three replicas, one writer', { skip: bins.skip ?? false }, () => {
  let cluster: Cluster;
  let objects: k8s.KubernetesObjectApi;
  let coordination: k8s.CoordinationV1Api;
  let core: k8s.CoreV1Api;
  let policyPath: string;
  const replicas = new Map<string, WebhookProcess>();

  before(
    async () => {
      cluster = await startCluster({ binaries: bins.binaries! });
      const kc = cluster.kubeConfig;
      objects = k8s.KubernetesObjectApi.makeApiClient(kc);
      coordination = kc.makeApiClient(k8s.CoordinationV1Api);
      core = kc.makeApiClient(k8s.CoreV1Api);
      await createNamespace(kc, NAMESPACE);
      await applyManifestRbac(kc, [
        'manifests/base/rbac.yaml',
        'manifests/components/manage-validating-admission-policies/rbac.yaml',
        'manifests/components/manage-mutating-admission-policies/rbac.yaml',
      ]);
      for (const crd of readManifests('manifests/policy-report-crd/policy-report-crd.yaml'))
        await objects.create(crd as k8s.KubernetesObject);
      const node = kc.makeApiClient(k8s.NodeV1Api);
      for (const [name, handler] of [
        ['gvisor', 'runsc'],
        ['kata', 'kata'],
      ] as const)
        await node.createRuntimeClass({ body: { metadata: { name }, handler } });
      // Pods created while no webhook runs (and no generated policy exists yet): two break the policy.
      await createNamespace(kc, 'apps');
      await createNamespace(kc, 'clean');
      await core.createNamespacedPod({ namespace: 'apps', body: pod('unsandboxed-1', { app: 'untrusted' }) });
      await core.createNamespacedPod({ namespace: 'apps', body: pod('unsandboxed-2', { app: 'untrusted' }) });
      await core.createNamespacedPod({ namespace: 'clean', body: pod('sandboxed', { app: 'untrusted' }, { runtimeClassName: 'gvisor' }) });
      await waitFor(async () => {
        const crd = await kc.makeApiClient(k8s.ApiextensionsV1Api).readCustomResourceDefinition({ name: 'policyreports.wgpolicyk8s.io' });
        return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
      }, 30_000);

      const sa = serviceAccountKubeConfig(kc, cluster.dir);
      policyPath = join(cluster.dir, 'policy.yaml');
      let serving: WebhookProcess['serving'] | undefined;
      for (const n of [1, 2, 3]) {
        const identity = `replica-${n}`;
        const replica = await startWebhookProcess({
          dir: cluster.dir,
          kubeconfigPath: sa.path,
          policyYaml: POLICY,
          ...(serving ? { serving } : {}),
          extraArgs: [
            '--webhook-namespace',
            NAMESPACE,
            '--manage-admission-policies',
            'validating,mutating',
            '--leader-election-identity',
            identity,
            '--leader-election-lease-duration',
            `${LEASE.durationMs}ms`,
            '--leader-election-renew-deadline',
            `${LEASE.renewDeadlineMs}ms`,
            '--leader-election-retry-period',
            `${LEASE.retryPeriodMs}ms`,
            '--admission-policy-check-interval',
            '1s',
            '--audit-interval',
            '1s',
          ],
        });
        // One serving certificate for all three: they share the directory, as replicas share a Secret.
        serving = replica.serving;
        replicas.set(identity, replica);
      }
    },
    { timeout: 300_000 },
  );

  after(async () => {
    for (const r of replicas.values()) await r.stop();
    await cluster?.stop();
  });

  const holder = async () =>
    (await coordination.readNamespacedLease({ name: 'sandbox-admission', namespace: NAMESPACE })).spec?.holderIdentity;
  const metric = async (replica: WebhookProcess, name: string): Promise<number> => {
    const text = (await replica.get('/metrics')).text;
    return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);
  };
  const generated = async () => {
    const found = new Map<string, { resourceVersion: string; object: Record<string, unknown> }>();
    for (const kind of GENERATED_KINDS) {
      const list = await objects.list(
        VAP,
        kind,
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        'app.kubernetes.io/name=sandbox-admission',
      );
      for (const item of list.items)
        found.set(`${kind}/${item.metadata?.name}`, {
          resourceVersion: item.metadata!.resourceVersion!,
          object: plain(item) as Record<string, unknown>,
        });
    }
    return found;
  };
  const versions = async () => new Map([...(await generated())].map(([k, v]) => [k, v.resourceVersion]));
  const EXPECTED = [
    'MutatingAdmissionPolicy/sandbox-admission-sandbox',
    'MutatingAdmissionPolicyBinding/sandbox-admission-sandbox',
    'ValidatingAdmissionPolicy/sandbox-admission-enforce',
    'ValidatingAdmissionPolicy/sandbox-admission-runtime-class-enforce',
    'ValidatingAdmissionPolicy/sandbox-admission-runtime-classes',
    'ValidatingAdmissionPolicyBinding/sandbox-admission-enforce',
    'ValidatingAdmissionPolicyBinding/sandbox-admission-runtime-class-enforce',
    'ValidatingAdmissionPolicyBinding/sandbox-admission-runtime-classes',
  ];
  const digestOf = (entry: { object: Record<string, unknown> } | undefined) =>
    (entry?.object.metadata as { annotations?: Record<string, string> } | undefined)?.annotations?.[POLICY_DIGEST_ANNOTATION];

  it('exactly one replica leads and writes; the generated objects appear, under the one field manager', async () => {
    await waitFor(async () => (await generated()).size === EXPECTED.length, 20_000);
    const leader = await holder();
    assert.ok(leader && replicas.has(leader), `Lease holder ${leader}`);
    assert.deepEqual([...(await generated()).keys()].sort(), EXPECTED);
    for (const [identity, replica] of replicas) {
      assert.equal(await metric(replica, 'sandbox_admission_leader'), identity === leader ? 1 : 0, identity);
      const writes = await metric(replica, 'sandbox_admission_admission_policy_writes_total');
      if (identity === leader) assert.ok(writes >= EXPECTED.length, `${identity} wrote ${writes}`);
      else assert.equal(writes, 0, `${identity} wrote ${writes} objects without leading`);
    }
    for (const [key, { object }] of await generated()) {
      const managers = ((object.metadata as { managedFields?: Array<{ manager: string; operation: string }> }).managedFields ?? []).map(
        (m) => `${m.manager}/${m.operation}`,
      );
      assert.deepEqual(managers, ['sandbox-admission/Apply'], key);
    }
  });

  it('an unchanged policy writes nothing: resourceVersions stay over several reconciles', async () => {
    const first = await versions();
    await new Promise((r) => setTimeout(r, 3_500));
    assert.deepEqual(await versions(), first);
  });

  it('PolicyReports show the findings for pods created while no webhook ran, and clear when fixed', async () => {
    const report = () =>
      objects.read({
        apiVersion: 'wgpolicyk8s.io/v1alpha2',
        kind: 'PolicyReport',
        metadata: { name: 'sandbox-admission', namespace: 'apps' },
      });
    await waitFor(async () => ((await report()) as unknown as { results?: unknown[] }).results?.length === 2, 20_000);
    const found = plain(await report()) as unknown as {
      summary: Record<string, number>;
      results: Array<{
        policy: string;
        rule: string;
        result: string;
        resources: Array<{ name: string }>;
        properties: Record<string, string>;
      }>;
    };
    assert.deepEqual(found.summary, { pass: 0, fail: 2, warn: 0, error: 0, skip: 0 });
    assert.deepEqual(
      found.results.map((r) => [r.policy, r.rule, r.result, r.resources[0]!.name, r.properties.violations]),
      [
        ['e2e-writers', 'untrusted-apps', 'fail', 'unsandboxed-1', 'no-sandbox-runtime'],
        ['e2e-writers', 'untrusted-apps', 'fail', 'unsandboxed-2', 'no-sandbox-runtime'],
      ],
    );
    const reports = await objects.list('wgpolicyk8s.io/v1alpha2', 'PolicyReport');
    assert.deepEqual(
      reports.items.map((r) => r.metadata?.namespace),
      ['apps'],
      'no report where nothing is wrong',
    );
    // An unchanged finding is not rewritten.
    const version = (await report()).metadata?.resourceVersion;
    await new Promise((r) => setTimeout(r, 2_500));
    assert.equal((await report()).metadata?.resourceVersion, version);

    // Fixed one at a time: the report follows, then goes.
    await core.deleteNamespacedPod({ name: 'unsandboxed-1', namespace: 'apps', gracePeriodSeconds: 0 });
    await waitFor(async () => ((await report()) as unknown as { results?: unknown[] }).results?.length === 1, 20_000);
    await core.deleteNamespacedPod({ name: 'unsandboxed-2', namespace: 'apps', gracePeriodSeconds: 0 });
    await waitFor(async () => (await objects.list('wgpolicyk8s.io/v1alpha2', 'PolicyReport')).items.length === 0, 20_000);
  });

  it('a policy edit (the file rewritten) reaches the generated objects within 5 s, and a mode no rule uses any more loses its pair', async () => {
    const oldDigest = digestOf((await generated()).get('ValidatingAdmissionPolicy/sandbox-admission-enforce'));
    const editedAt = Date.now();
    writeFileSync(policyPath, POLICY_WITH_WARN);
    await waitFor(
      async () => {
        const now = await generated();
        const digests = new Set([...now].filter(([k]) => !k.includes('Binding')).map(([, v]) => digestOf(v)));
        return now.has('ValidatingAdmissionPolicy/sandbox-admission-warn') && digests.size === 1 && !digests.has(oldDigest);
      },
      5_000,
      // Four lists a poll: not so often that the polling itself slows the API server down.
      200,
    );
    process.stderr.write(`[writers] policy edit reflected in ${Date.now() - editedAt} ms\n`);
    assert.ok((await generated()).has('ValidatingAdmissionPolicyBinding/sandbox-admission-warn'));

    writeFileSync(policyPath, POLICY);
    await waitFor(async () => !(await generated()).has('ValidatingAdmissionPolicy/sandbox-admission-warn'), 5_000, 200);
    assert.deepEqual([...(await generated()).keys()].sort(), EXPECTED);
    // Every replica agrees again that nothing is stale.
    for (const replica of replicas.values())
      await waitFor(async () => (await metric(replica, 'sandbox_admission_admission_policy_stale')) === 0, 5_000);
  });

  it('a hand edit or delete of a generated ValidatingAdmissionPolicy is repaired', async () => {
    const name = 'sandbox-admission-enforce';
    const read = async () =>
      plain(
        await objects.read({ apiVersion: VAP, kind: 'ValidatingAdmissionPolicy', metadata: { name } }),
      ) as k8s.V1ValidatingAdmissionPolicy;
    const original = await read();
    // Someone "edits" it (an update, as kubectl edit makes): a validation that admits everything, and a
    // matchCondition that exempts every pod, a field the generator never sets.
    const edited = structuredClone(original);
    edited.spec!.validations = [{ expression: 'true' }];
    edited.spec!.matchConditions = [...(edited.spec!.matchConditions ?? []), { name: 'nothing', expression: 'false' }];
    await objects.replace(edited as k8s.KubernetesObject, undefined, undefined, 'kubectl-edit');
    await waitFor(async () => {
      const now = await read();
      return (
        JSON.stringify(now.spec?.validations) === JSON.stringify(original.spec?.validations) &&
        JSON.stringify(now.spec?.matchConditions) === JSON.stringify(original.spec?.matchConditions)
      );
    }, 10_000);

    await objects.delete({ apiVersion: VAP, kind: 'ValidatingAdmissionPolicyBinding', metadata: { name } });
    await waitFor(async () => (await generated()).has(`ValidatingAdmissionPolicyBinding/${name}`), 10_000);
  });

  it('SIGKILL of the leader: another replica takes the Lease within the lease duration plus a retry period, and nothing flaps', async () => {
    // Settle: the repairs above are done.
    await new Promise((r) => setTimeout(r, 2_000));
    const before = await versions();
    const leader = (await holder())!;
    const killedAt = Date.now();
    replicas.get(leader)!.process.child.kill('SIGKILL');
    await replicas.get(leader)!.process.exited;
    let next: string | undefined;
    await waitFor(
      async () => {
        next = await holder();
        return next !== leader && next !== undefined && next !== '';
      },
      15_000,
      50,
    );
    const takeoverMs = Date.now() - killedAt;
    process.stderr.write(`[writers] ${next} took the Lease from ${leader} ${takeoverMs} ms after SIGKILL\n`);
    assert.ok(takeoverMs <= LEASE.durationMs + LEASE.retryPeriodMs + 1_000, `takeover after ${takeoverMs} ms`);
    replicas.delete(leader);
    await waitFor(async () => (await metric(replicas.get(next!)!, 'sandbox_admission_leader')) === 1, 5_000);
    // The new leader reconciled at once (it logs nothing written) and keeps reconciling: nothing changes.
    await new Promise((r) => setTimeout(r, 3_000));
    assert.deepEqual(await versions(), before);
    assert.equal(await metric(replicas.get(next!)!, 'sandbox_admission_admission_policy_writes_total'), 0);
    for (const [identity, replica] of replicas)
      assert.equal(await metric(replica, 'sandbox_admission_leader'), identity === next ? 1 : 0, identity);
  });
});
