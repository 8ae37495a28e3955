// --policy-source=crd against a real kube-apiserver: the webhook process reads the SandboxPolicy "default" with an
// informer, writes its status and Events, and the API server calls it for pods through the project's own
// MutatingWebhookConfiguration. Every assertion reads what the API server stored or answered (or kubectl printed).
import * as k8s from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { VAP_LABELS } from '../../src/admission-policies/validating-admission-policy.ts';
import { POLICY_DIGEST_ANNOTATION } from '../../src/policy/policy-digest.ts';
import { runBinary } from '../helpers/cli.ts';
import { waitFor } from './harness/api-assertions.ts';
import { resolveBinaries } from './harness/binaries.ts';
import { createNamespace, startCluster, type Cluster } from './harness/cluster.ts';
import { condition, installSandboxPolicyCrd, sandboxPolicies, waitForStatus } from './harness/sandbox-policy.ts';
import { readManifests, renderMutatingWebhook, startWebhookProcess, type WebhookProcess } from './harness/webhook.ts';

const bins = resolveBinaries();

const policy = (rules: Array<Record<string, unknown>>, profiles?: Record<string, unknown>) => ({
  apiVersion: 'sandbox-admission.io/v1alpha1',
  kind: 'SandboxPolicy',
  metadata: { name: 'default' },
  spec: { ...(profiles ? { profiles } : {}), rules },
});
const UNTRUSTED = {
  name: 'untrusted-apps',
  match: { podSelector: { matchLabels: { app: 'untrusted' } } },
  action: 'sandbox',
  runtime: 'gvisor',
};
const EDITED = { name: 'edited-apps', match: { podSelector: { matchLabels: { app: 'edited' } } }, action: 'sandbox', runtime: 'kata' };

describe('the policy from a SandboxPolicy object (--policy-source=crd)', { skip: bins.skip ?? false }, () => {
  let cluster: Cluster;
  let webhook: WebhookProcess;
  let core: k8s.CoreV1Api;
  const kubectl = (args: string[], input?: string) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(bins.binaries!.kubectl, ['--kubeconfig', cluster.kubeconfigPath, ...args], (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      child.stdin?.end(input ?? '');
    });
  const apply = (object: Record<string, unknown>) => kubectl(['apply', '-f', '-'], stringify(object));
  /** The runtimeClassName a pod with these labels gets (dry run: nothing is stored). */
  const runtimeOf = async (labels: Record<string, string>) =>
    (
      await core.createNamespacedPod({
        namespace: 'apps',
        body: {
          metadata: { name: `probe-${Date.now()}`, labels },
          spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
        },
        dryRun: 'All',
      })
    ).spec?.runtimeClassName;
  const generation = async () => (await sandboxPolicies(cluster.kubeConfig).get('default')).metadata.generation!;

  before(
    async () => {
      cluster = await startCluster({ binaries: bins.binaries! });
      core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
      await installSandboxPolicyCrd(cluster, bins.binaries!.kubectl);
      const objects = k8s.KubernetesObjectApi.makeApiClient(cluster.kubeConfig);
      for (const rc of readManifests('manifests/base/runtime-classes.yaml')) await objects.create(rc as k8s.KubernetesObject);
      await createNamespace(cluster.kubeConfig, 'apps', {});
      // Migration as the README documents it: the ConfigMap's policy, printed as the object, piped to kubectl.
      await createNamespace(cluster.kubeConfig, 'sandbox-admission', {});
      await core.createNamespacedConfigMap({
        namespace: 'sandbox-admission',
        body: {
          metadata: { name: 'sandbox-admission-policy' },
          data: { 'policy.yaml': `# from the ConfigMap\n${stringify({ ...policy([UNTRUSTED]), metadata: { name: 'example' } })}` },
        },
      });
      const migrated = runBinary(['policy', 'migrate', '--kubeconfig', cluster.kubeconfigPath]);
      assert.equal(migrated.code, 0, migrated.stderr);
      const applied = await kubectl(['apply', '-f', '-'], migrated.stdout);
      assert.equal(applied.code, 0, applied.stderr);
      assert.match(applied.stdout, /sandboxpolicy\.sandbox-admission\.io\/default created/);
      webhook = await startWebhookProcess({
        dir: cluster.dir,
        kubeconfigPath: cluster.kubeconfigPath,
        // The file holds another policy: a decision from it would show the webhook read the wrong source.
        policyYaml: 'apiVersion: sandbox-admission.io/v1alpha1\nkind: SandboxPolicy\nspec: {rules: []}\n',
        // A short drift-check interval, so that a generated admission policy changed behind its back shows soon.
        extraArgs: ['--policy-source', 'crd', '--admission-policy-check-interval', '1s'],
      });
      await objects.create(renderMutatingWebhook(webhook.url, webhook.caPem) as k8s.KubernetesObject);
      await waitFor(async () => (await runtimeOf({ app: 'untrusted' })) === 'gvisor');
    },
    { timeout: 300_000 },
  );
  after(async () => {
    await webhook?.stop();
    await cluster?.stop();
  });

  it('kubectl apply of a policy with a typo is refused by the API server with the field path', async () => {
    const typo = policy([{ ...UNTRUSTED, mtach: {} }]);
    const result = await apply(typo);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /unknown field "spec\.rules\[0\]\.mtach"/);
    const unknownRuntime = await apply(policy([{ ...UNTRUSTED, runtime: 'firecracker' }]));
    assert.match(unknownRuntime.stderr, /spec\.rules: Invalid value: .*a rule's runtime must name a profile/);
    assert.equal(await generation(), 1, 'nothing was stored');
    // The schema's descriptions, for whoever writes the next one.
    const explained = await kubectl(['explain', 'sandboxpolicy.spec.rules.action']);
    assert.match(explained.stdout, /ENUM:\s+sandbox\s+require\s+exempt/);
    assert.match(explained.stdout, /require: reject unless the pod already asks for an\s+allowed sandbox/);
  });

  it('the policy in force shows Ready=True, its digest, rules and mode, in kubectl get', async () => {
    const object = await waitForStatus(cluster.kubeConfig, 'default', (s) => condition(s, 'Ready')?.status === 'True');
    assert.equal(object.status?.observedGeneration, 1);
    assert.equal(condition(object.status!, 'Accepted')?.reason, 'Accepted');
    assert.match(object.status?.digest ?? '', /^[0-9a-f]{16}$/);
    const listed = await kubectl(['get', 'sandboxpolicies']);
    assert.match(listed.stdout, /^NAME\s+RULES\s+MODE\s+READY\s+AGE\ndefault\s+1\s+enforce\s+True\s+\S+\n$/);
  });

  it('an edit is Ready=True and reaches the webhook decisions within 5 s', async () => {
    const t0 = Date.now();
    const applied = await apply(policy([UNTRUSTED, EDITED]));
    assert.equal(applied.code, 0, applied.stderr);
    await waitFor(async () => (await runtimeOf({ app: 'edited' })) === 'kata', 5000, 50);
    const decidedMs = Date.now() - t0;
    const object = await waitForStatus(
      cluster.kubeConfig,
      'default',
      (s) => s.observedGeneration === 2 && condition(s, 'Ready')?.status === 'True' && s.rules === 2,
      5000,
    );
    process.stderr.write(`[e2e] edit decided after ${decidedMs} ms, Ready after ${Date.now() - t0} ms\n`);
    assert.equal(condition(object.status!, 'Ready')?.observedGeneration, 2);
  });

  it('a change only the runtime refuses is Accepted=False with every path, and the last good policy stays in force', async () => {
    const digest = (await sandboxPolicies(cluster.kubeConfig).get('default')).status?.digest;
    // Two profiles on one RuntimeClass: the CRD schema cannot say it (sandbox-policy-crd.test.ts lists it).
    const applied = await apply(policy([UNTRUSTED], { other: { runtimeClassName: 'gvisor' }, twin: { runtimeClassName: 'kata' } }));
    assert.equal(applied.code, 0, applied.stderr);
    const object = await waitForStatus(cluster.kubeConfig, 'default', (s) => s.observedGeneration === 3, 5000);
    const accepted = condition(object.status!, 'Accepted')!;
    assert.equal(accepted.status, 'False');
    assert.equal(accepted.reason, 'Invalid');
    assert.match(accepted.message, /spec\.profiles\.other\.runtimeClassName/);
    assert.match(accepted.message, /spec\.profiles\.twin\.runtimeClassName/);
    assert.match(accepted.message, /the last good policy \(generation 2, digest [0-9a-f]{16}\) stays in force/);
    assert.equal(condition(object.status!, 'Ready')?.status, 'False');
    assert.equal(object.status?.digest, digest, 'the digest is that of the policy still in force');
    // Still the generation 2 policy: app=edited goes to kata.
    assert.equal(await runtimeOf({ app: 'edited' }), 'kata');
    const refused = await webhook.waitForLogLines((l) => l.msg === 'policy refused; the last good policy stays in force');
    assert.equal(refused[0]?.generation, 3);
    const readyz = JSON.parse((await webhook.get('/readyz')).text) as { detail: { sandboxPolicy: Record<string, unknown> } };
    assert.deepEqual(
      { ...readyz.detail.sandboxPolicy, digest: undefined },
      { name: 'default', generation: 2, digest: undefined, watching: true, refusedGeneration: 3 },
    );
    const metrics = await webhook.get('/metrics');
    assert.match(metrics.text, /sandbox_admission_policy_reloads_total\{result="failure"\} 1/);
    await waitFor(async () => {
      const events = await core.listNamespacedEvent({
        namespace: 'default',
        fieldSelector: 'involvedObject.name=default,reason=PolicyRejected',
      });
      return events.items.some(
        (e) => e.involvedObject.kind === 'SandboxPolicy' && /spec\.profiles\.other\.runtimeClassName/.test(e.message ?? ''),
      );
    }, 5000);
    const described = await kubectl(['describe', 'sandboxpolicy', 'default']);
    assert.match(described.stdout, /PolicyRejected/);
  });

  it('fixing it is accepted again (an Event says so), and a second object reports NotInForce naming the one in force', async () => {
    assert.equal((await apply(policy([UNTRUSTED]))).code, 0);
    await waitForStatus(cluster.kubeConfig, 'default', (s) => s.observedGeneration === 4 && condition(s, 'Ready')?.status === 'True', 5000);
    assert.equal(await runtimeOf({ app: 'edited' }), undefined);
    const events = await core.listNamespacedEvent({
      namespace: 'default',
      fieldSelector: 'involvedObject.name=default,reason=PolicyAccepted',
    });
    assert.ok(events.items.length >= 1);

    const second = { ...policy([EDITED]), metadata: { name: 'team-a' } };
    assert.equal((await apply(second)).code, 0);
    const object = await waitForStatus(cluster.kubeConfig, 'team-a', (s) => s.observedGeneration === 1, 5000);
    for (const type of ['Accepted', 'Ready']) {
      const c = condition(object.status!, type)!;
      assert.equal(c.status, 'False');
      assert.equal(c.reason, 'NotInForce');
      assert.match(c.message, /only the SandboxPolicy named "default"/);
    }
    assert.equal(await runtimeOf({ app: 'edited' }), undefined, 'its rules are not served');
  });

  it('Ready follows the generated admission policies: False while one carries another digest, True once it is re-rendered', async () => {
    const admission = cluster.kubeConfig.makeApiClient(k8s.AdmissionregistrationV1Api);
    const { digest } = (await sandboxPolicies(cluster.kubeConfig).get('default')).status!;
    // A generated policy as `render vap` labels it, from an older policy; no binding, so it decides nothing.
    const vap = (annotation: string): k8s.V1ValidatingAdmissionPolicy => ({
      metadata: { name: 'sandbox-admission-drift', labels: { ...VAP_LABELS }, annotations: { [POLICY_DIGEST_ANNOTATION]: annotation } },
      spec: {
        matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] }] },
        validations: [{ expression: 'true' }],
      },
    });
    await admission.createValidatingAdmissionPolicy({ body: vap('0000000000000000') });
    const stale = await waitForStatus(
      cluster.kubeConfig,
      'default',
      (s) => condition(s, 'Ready')?.reason === 'AdmissionPoliciesStale',
      5000,
    );
    assert.equal(condition(stale.status!, 'Ready')?.status, 'False');
    assert.match(condition(stale.status!, 'Ready')!.message, /sandbox-admission-drift/);
    assert.equal(condition(stale.status!, 'Accepted')?.status, 'True', 'the policy itself is still accepted');
    await admission.replaceValidatingAdmissionPolicy({
      name: 'sandbox-admission-drift',
      body: {
        ...vap(digest!),
        metadata: {
          ...vap(digest!).metadata,
          resourceVersion: (await admission.readValidatingAdmissionPolicy({ name: 'sandbox-admission-drift' })).metadata?.resourceVersion,
        },
      },
    });
    await waitForStatus(cluster.kubeConfig, 'default', (s) => condition(s, 'Ready')?.status === 'True', 5000);
  });

  it('without a valid SandboxPolicy of its --policy-name the webhook does not start, and says why last in its log', async () => {
    await assert.rejects(
      startWebhookProcess({
        dir: cluster.dir,
        kubeconfigPath: cluster.kubeconfigPath,
        policyYaml: 'apiVersion: sandbox-admission.io/v1alpha1\nkind: SandboxPolicy\nspec: {rules: []}\n',
        extraArgs: ['--policy-source', 'crd', '--policy-name', 'missing'],
      }),
      /webhook exited during start-up:[\s\S]*no SandboxPolicy \\"missing\\"[\s\S]*policy migrate/,
    );
  });
});
