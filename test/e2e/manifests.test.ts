// manifests/ as a user installs it: rendered by the real kubectl (kustomize) and server-side applied to a real
// kube-apiserver, one fresh API server per flavour (base, the top-level manifests/ and each overlay), so any
// manifest the API rejects fails CI. Webhook configurations are the one edit: their Service reference becomes a
// URL on an unused loopback port (nothing of ours may ever be dialled outside 127.0.0.1, see README.md here), with
// a caBundle filled in. With that unreachable webhook, the base (fail closed) and the default manifests/ (fail open
// behind the generated ValidatingAdmissionPolicies) also show each failurePolicy doing what its comment says.
// cert-manager.io objects have no CRDs here (cert-manager is not in any registry this suite can reach), so they
// are checked as rendered, and everything else of that overlay is applied.
import * as k8s from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments, stringify } from 'yaml';
import { POD_UPDATE_CHANGES_GOVERNANCE_CEL } from '../../src/decision/pod-update.ts';
import { renderVapText } from '../../src/cli/render-vap-command.ts';
import { describeApiError, plain, waitFor } from './harness/api-assertions.ts';
import { resolveBinaries } from './harness/binaries.ts';
import { startCluster, type Cluster } from './harness/cluster.ts';
import { startControlPlane, type ControlPlane } from './harness/control-plane.ts';
import { resolveNodeBinaries } from './harness/node-binaries.ts';
import { forTestCluster, isWebhookConfig, renderKustomization, type Manifest, type WebhookConfig } from './harness/manifests.ts';
import { freePort } from './harness/ports.ts';

const bins = resolveBinaries();
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const NS = 'sandbox-admission';
const SA_USER = `system:serviceaccount:${NS}:sandbox-admission`;
const EXEMPT = ['kube-system', 'kube-public', 'kube-node-lease', NS];

/** '.' is manifests/ itself, what `kubectl apply -k manifests/` installs: the recommended default. */
const FLAVOURS = ['base', '.', 'overlays/cert-manager', 'overlays/gke-sandbox', 'overlays/kata', 'overlays/native'] as const;
type Flavour = (typeof FLAVOURS)[number];
const flavourName = (flavour: Flavour) => (flavour === '.' ? 'manifests/' : `manifests/${flavour}`);

/** The failurePolicy of every webhook: the base fails closed on pods; every other flavour fails open on pod CREATE. */
const FAIL_CLOSED = {
  'mutate.sandbox-admission.io': 'Fail',
  'pods.validate.sandbox-admission.io': 'Fail',
  'ephemeral-containers.validate.sandbox-admission.io': 'Fail',
  'namespaces.validate.sandbox-admission.io': 'Fail',
  'workloads.validate.sandbox-admission.io': 'Ignore',
  'runtimeclasses.validate.sandbox-admission.io': 'Ignore',
};
const FAIL_OPEN = { ...FAIL_CLOSED, 'mutate.sandbox-admission.io': 'Ignore', 'pods.validate.sandbox-admission.io': 'Ignore' };
/** native: no pod webhook at all; the MutatingAdmissionPolicy and the ValidatingAdmissionPolicies take their place. */
const { 'mutate.sandbox-admission.io': _mutate, 'pods.validate.sandbox-admission.io': _pods, ...NO_POD_WEBHOOKS } = FAIL_CLOSED;
const FAILURE_POLICIES: Record<Flavour, Record<string, string>> = {
  base: FAIL_CLOSED,
  '.': FAIL_OPEN,
  'overlays/cert-manager': FAIL_OPEN,
  'overlays/gke-sandbox': FAIL_OPEN,
  'overlays/kata': FAIL_OPEN,
  'overlays/native': NO_POD_WEBHOOKS,
};
/** The runtimeClassNames the generated ValidatingAdmissionPolicies accept, per flavour (none: the base has none). */
const VAP_ALLOWED: Record<Flavour, string[] | undefined> = {
  base: undefined,
  '.': ['gvisor', 'kata'],
  'overlays/cert-manager': ['gvisor', 'kata'],
  'overlays/gke-sandbox': ['gvisor', 'kata'],
  'overlays/kata': ['gvisor', 'kata-qemu'],
  'overlays/native': ['gvisor', 'kata'],
};
const VAP_KINDS = new Set(['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);
const isVap = (o: Manifest) => VAP_KINDS.has(o.kind ?? '');
const isMap = (o: Manifest) => o.kind === 'MutatingAdmissionPolicy' || o.kind === 'MutatingAdmissionPolicyBinding';
/** The grant and the flag of components/manage-<kind>-admission-policies: the leader keeps those generated policies in sync. */
const SYNC_RBAC = (kind: 'validating' | 'mutating') => [
  `ClusterRole/sandbox-admission-${kind}-admission-policies`,
  `ClusterRoleBinding/sandbox-admission-${kind}-admission-policies`,
];
const isSyncRbac = (kind: 'validating' | 'mutating') => (o: Manifest) => SYNC_RBAC(kind).includes(`${o.kind}/${o.metadata?.name}`);
/** The objects with the component's effect taken out: its RBAC dropped, its flag removed from the args. */
function withoutSync(objects: Manifest[], kind: 'validating' | 'mutating'): Manifest[] {
  const copy = structuredClone(objects.filter((o) => !isSyncRbac(kind)(o)));
  const deployment = copy.find((o) => o.kind === 'Deployment') as unknown as k8s.V1Deployment;
  const container = deployment.spec!.template.spec!.containers[0]!;
  container.args = container.args?.filter((a) => a !== `--manage-admission-policies=${kind}`);
  return copy;
}

function kubectl(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  // The API server's /metrics is several MiB: more than spawnSync's default 1 MiB buffer.
  const r = spawnSync(bins.binaries!.kubectl, args, { encoding: 'utf8', input, timeout: 120_000, maxBuffer: 256 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const render = (dir: string) => renderKustomization(bins.binaries!.kubectl, dir);

function find<T>(objects: Manifest[], kind: string, name: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  assert.ok(found, `${kind}/${name} is not in the rendered manifests`);
  return found as unknown as T;
}

function has(objects: Manifest[], kind: string, name: string): boolean {
  return objects.some((o) => o.kind === kind && o.metadata?.name === name);
}

const id = (o: Manifest) => `${o.kind}/${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name}`;

/** What an admission webhook's refusal or a failed call looks like to the client; undefined when admitted. */
async function refusal(call: Promise<unknown>): Promise<string | undefined> {
  try {
    await call;
    return undefined;
  } catch (error) {
    return describeApiError(error);
  }
}

/** Retries a refused (or admitted) call until its message matches: webhook configurations take effect once the API server's informer has them. */
async function waitForRefusal(what: string, call: () => Promise<unknown>, pattern: RegExp, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  while (Date.now() < deadline) {
    last = await refusal(call());
    if (last !== undefined && pattern.test(last)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`timed out waiting for ${what}; last answer: ${last ?? 'admitted'}`);
}

/** Evaluate an app=untrusted pod against the policy the ConfigMap carries, with the product's own CLI. */
function runtimeForUntrustedPod(policyYaml: string): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-admission-policy-'));
  try {
    writeFileSync(join(dir, 'policy.yaml'), policyYaml);
    writeFileSync(
      join(dir, 'pod.yaml'),
      stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p', namespace: 'apps', labels: { app: 'untrusted' } },
        spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
      }),
    );
    const out = execFileSync(
      process.execPath,
      [join(REPO, 'src/cli/main.ts'), 'evaluate', '--policy', join(dir, 'policy.yaml'), '-o', 'json', '-f', join(dir, 'pod.yaml')],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return (JSON.parse(out) as Array<{ runtimeClassName?: string }>)[0]?.runtimeClassName;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function policyOf(objects: Manifest[]): string {
  const data = find<k8s.V1ConfigMap>(objects, 'ConfigMap', 'sandbox-admission-policy').data ?? {};
  assert.deepEqual(Object.keys(data), ['policy.yaml'], 'the Deployment reads /etc/sandbox-admission/policy.yaml');
  return data['policy.yaml']!;
}

function webhooksByName(config: WebhookConfig): Map<string, k8s.V1ValidatingWebhook & k8s.V1MutatingWebhook> {
  return new Map((config.webhooks ?? []).map((w) => [w.name, w as k8s.V1ValidatingWebhook & k8s.V1MutatingWebhook]));
}

/** name -> failurePolicy of every webhook of both configurations, mutating first. */
function failurePolicies(objects: Manifest[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
    for (const w of find<WebhookConfig>(objects, kind, 'sandbox-admission').webhooks ?? []) out[w.name] = w.failurePolicy;
  }
  return out;
}

/** What `sandbox-admission render vap` makes of a policy, as objects. */
function generatedVap(policyYaml: string, afterMap = false): Manifest[] {
  const rendered = renderVapText(policyYaml, { webhookNamespace: NS, output: 'yaml', afterMap });
  assert.ok(rendered.ok, JSON.stringify(!rendered.ok && rendered.errors));
  return parseAllDocuments(rendered.text).map((d) => d.toJS() as Manifest);
}

/** What `sandbox-admission render map` makes of a policy, as objects. */
function generatedMap(policyYaml: string): Manifest[] {
  const rendered = renderVapText(policyYaml, { webhookNamespace: NS, output: 'yaml' }, 'map');
  assert.ok(rendered.ok, JSON.stringify(!rendered.ok && rendered.errors));
  return parseAllDocuments(rendered.text).map((d) => d.toJS() as Manifest);
}

const byId = (objects: Manifest[]) => new Map(objects.map((o) => [id(o), o]));

describe('manifests/ rendered with kubectl kustomize', { skip: bins.skip ?? false }, () => {
  const rendered = new Map<Flavour, Manifest[]>();
  before(() => {
    for (const flavour of FLAVOURS) rendered.set(flavour, render(flavour));
  });
  const base = () => rendered.get('base')!;
  const defaults = () => rendered.get('.')!;

  it('manifests/ (`kubectl apply -k manifests/`): the base, the generated ValidatingAdmissionPolicies, the pod webhooks failing open', () => {
    const ids = defaults().map(id);
    assert.equal(new Set(ids).size, ids.length, 'no object twice');
    // The base's objects, with failurePolicy Ignore on exactly the two pod CREATE webhooks.
    const expected = structuredClone(base());
    for (const o of expected.filter(isWebhookConfig)) {
      for (const w of (o as unknown as WebhookConfig).webhooks ?? []) {
        if (w.name === 'mutate.sandbox-admission.io' || w.name === 'pods.validate.sandbox-admission.io') w.failurePolicy = 'Ignore';
      }
    }
    // Plus the leader keeping the generated ValidatingAdmissionPolicies in sync: the component's grant and flag.
    assert.deepEqual(byId(withoutSync(defaults(), 'validating').filter((o) => !isVap(o))), byId(expected));
    assert.deepEqual(defaults().filter(isSyncRbac('validating')).map(id).sort(), SYNC_RBAC('validating'));
    const args = find<k8s.V1Deployment>(defaults(), 'Deployment', 'sandbox-admission').spec!.template.spec!.containers[0]!.args;
    assert.deepEqual(args, ['serve', '--cluster', '--manage-admission-policies=validating']);
    // And the ValidatingAdmissionPolicies exactly as checked in under manifests/admission-policy/.
    const checkedIn = parseAllDocuments(
      readFileSync(join(REPO, 'manifests/admission-policy/validating-admission-policy.yaml'), 'utf8'),
    ).map((d) => d.toJS() as Manifest);
    assert.deepEqual(byId(defaults().filter(isVap)), byId(checkedIn));
  });

  it('failurePolicy of every webhook, per flavour: base fails closed on pods, the others fail open on pod CREATE only', () => {
    for (const flavour of FLAVOURS) {
      assert.deepEqual(failurePolicies(rendered.get(flavour)!), FAILURE_POLICIES[flavour], flavourName(flavour));
    }
  });

  it('every flavour but the base installs the ValidatingAdmissionPolicies generated from its own policy', () => {
    assert.equal(base().some(isVap), false, 'the base installs the webhook alone');
    for (const flavour of FLAVOURS.filter((f) => f !== 'base')) {
      const objects = rendered.get(flavour)!;
      const name = flavourName(flavour);
      const policy = policyOf(objects);
      // Exactly what `render vap` makes of the policy in this flavour's ConfigMap: one policy and binding per mode
      // (`--after-map` where the MutatingAdmissionPolicy runs before them).
      const afterMap = objects.some(isMap);
      assert.deepEqual(byId(objects.filter(isVap)), byId(generatedVap(policy, afterMap)), `${name}: not generated from its own policy`);
      const enforce = find<k8s.V1ValidatingAdmissionPolicy>(objects, 'ValidatingAdmissionPolicy', 'sandbox-admission-enforce');
      const allowed = enforce.spec?.variables?.find((v) => v.name === 'allowed')?.expression;
      assert.deepEqual(JSON.parse(allowed ?? 'null'), VAP_ALLOWED[flavour], `${name}: allowed runtimeClassNames`);
      assert.equal(enforce.spec?.failurePolicy, 'Fail', name);
      assert.deepEqual(
        find<k8s.V1ValidatingAdmissionPolicyBinding>(objects, 'ValidatingAdmissionPolicyBinding', 'sandbox-admission-enforce').spec
          ?.validationActions,
        ['Deny'],
        name,
      );
      // The class the webhook gives an app=untrusted pod is one the policy lets in when the webhook is down.
      const runtime = runtimeForUntrustedPod(policy);
      assert.ok(runtime && VAP_ALLOWED[flavour]!.includes(runtime), `${name}: app=untrusted gets ${runtime}, not allowed by the VAP`);
    }
  });

  it('overlays/native: the default flavour with the MutatingAdmissionPolicy generated from the same policy and no pod webhook', () => {
    const objects = rendered.get('overlays/native')!;
    assert.deepEqual(byId(objects.filter(isMap)), byId(generatedMap(policyOf(objects))));
    assert.equal(defaults().some(isMap), false, 'manifests/ keeps the webhook on the pod path');
    // Everything else is manifests/'s, minus the two pod webhooks (the configuration of the mutating one stays, empty).
    const expected = structuredClone(defaults());
    for (const o of expected.filter(isWebhookConfig)) {
      const config = o as unknown as WebhookConfig;
      config.webhooks = (config.webhooks ?? [])
        .filter((w) => w.name !== 'mutate.sandbox-admission.io' && w.name !== 'pods.validate.sandbox-admission.io')
        .map((w) => ({ ...w, failurePolicy: FAIL_CLOSED[w.name as keyof typeof FAIL_CLOSED] }));
    }
    // The validating policies are the ones written to run after the mutation (`render vap --after-map`).
    const policy = policyOf(objects);
    for (const [i, o] of expected.entries()) {
      if (!isVap(o)) continue;
      const afterMap = generatedVap(policy, true).find((g) => id(g) === id(o));
      assert.ok(afterMap, id(o));
      expected[i] = afterMap;
    }
    // And the leader keeps both kinds in sync here (components/manage-mutating-admission-policies).
    assert.deepEqual(byId(withoutSync(objects, 'mutating').filter((o) => !isMap(o))), byId(expected));
    assert.deepEqual(objects.filter(isSyncRbac('mutating')).map(id).sort(), SYNC_RBAC('mutating'));
    assert.deepEqual(find<k8s.V1Deployment>(objects, 'Deployment', 'sandbox-admission').spec!.template.spec!.containers[0]!.args, [
      'serve',
      '--cluster',
      '--manage-admission-policies=validating',
      '--manage-admission-policies=mutating',
    ]);
  });

  it('base: every object, each once', () => {
    const ids = base().map(id);
    assert.equal(new Set(ids).size, ids.length, 'no object twice');
    assert.deepEqual(ids.sort(), [
      'ClusterRole/sandbox-admission',
      'ClusterRole/sandbox-admission-ca-bundle',
      'ClusterRole/sandbox-admission-namespace-label-admin',
      'ClusterRoleBinding/sandbox-admission',
      'ClusterRoleBinding/sandbox-admission-ca-bundle',
      `ConfigMap/${NS}/sandbox-admission-policy`,
      'CustomResourceDefinition/sandboxpolicies.sandbox-admission.io',
      `Deployment/${NS}/sandbox-admission`,
      'MutatingWebhookConfiguration/sandbox-admission',
      'Namespace/sandbox-admission',
      `PodDisruptionBudget/${NS}/sandbox-admission`,
      `Role/${NS}/sandbox-admission-leader-election`,
      `Role/${NS}/sandbox-admission-tls`,
      `RoleBinding/${NS}/sandbox-admission-leader-election`,
      `RoleBinding/${NS}/sandbox-admission-tls`,
      'RuntimeClass/gvisor',
      'RuntimeClass/kata',
      `Service/${NS}/sandbox-admission`,
      `ServiceAccount/${NS}/sandbox-admission`,
      'ValidatingWebhookConfiguration/sandbox-admission',
    ]);
  });

  it('components/policy-crd: the Deployment reads the SandboxPolicy (--policy-source=crd), nothing else changes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sandbox-admission-policy-crd-'));
    try {
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        // Kustomize takes directories by relative path only.
        `resources: [${relative(dir, join(REPO, 'manifests/base'))}]\ncomponents: [${relative(dir, join(REPO, 'manifests/components/policy-crd'))}]\n`,
      );
      const r = kubectl(['kustomize', dir]);
      assert.equal(r.status, 0, r.stderr);
      const objects = parseAllDocuments(r.stdout).map((d) => d.toJS() as Manifest);
      const args = (o: Manifest[]) => find<k8s.V1Deployment>(o, 'Deployment', 'sandbox-admission').spec?.template.spec?.containers[0]?.args;
      assert.deepEqual(args(objects), [...(args(base()) ?? []), '--policy-source=crd']);
      assert.equal(objects.length, base().length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('base Deployment: 3 spread replicas, critical priority, restricted securityContext, real probes, drain', () => {
    const deployment = find<k8s.V1Deployment>(base(), 'Deployment', 'sandbox-admission');
    const spec = deployment.spec!;
    const pod = spec.template.spec!;
    assert.equal(spec.replicas, 3);
    assert.deepEqual(spec.strategy?.rollingUpdate, { maxSurge: 1, maxUnavailable: 0 });
    assert.equal(pod.priorityClassName, 'system-cluster-critical');
    assert.equal(pod.serviceAccountName, 'sandbox-admission');
    assert.deepEqual(
      pod.topologySpreadConstraints?.map((c) => [c.topologyKey, c.whenUnsatisfiable, c.maxSkew]),
      [
        ['kubernetes.io/hostname', 'DoNotSchedule', 1],
        ['topology.kubernetes.io/zone', 'ScheduleAnyway', 1],
      ],
    );
    for (const c of pod.topologySpreadConstraints ?? []) assert.deepEqual(c.labelSelector?.matchLabels, spec.selector.matchLabels);
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.equal(pod.securityContext?.runAsUser, 65532);
    assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');

    assert.equal(pod.containers.length, 1);
    const container = pod.containers[0]!;
    assert.deepEqual(container.args, ['serve', '--cluster']);
    assert.match(container.image ?? '', /^sandbox-admission:\d+\.\d+\.\d+/);
    assert.deepEqual(container.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    assert.ok(container.resources?.requests?.['cpu'] && container.resources.requests['memory'], 'requests');
    assert.ok(container.resources?.limits?.['memory'], 'a memory limit');
    assert.deepEqual(container.ports, [{ name: 'https', containerPort: 8443, protocol: 'TCP' }]);
    assert.deepEqual(
      [container.readinessProbe?.httpGet?.path, container.readinessProbe?.httpGet?.port, container.readinessProbe?.httpGet?.scheme],
      ['/readyz', 'https', 'HTTPS'],
    );
    assert.deepEqual(
      [container.livenessProbe?.httpGet?.path, container.livenessProbe?.httpGet?.port, container.livenessProbe?.httpGet?.scheme],
      ['/healthz', 'https', 'HTTPS'],
    );

    const preStop = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
    assert.ok(preStop > 0, 'a preStop delay');
    // preStop, then the server's default --drain-delay of 5 s, then the longest webhook timeout (5 s).
    assert.ok((pod.terminationGracePeriodSeconds ?? 30) >= preStop + 5 + 5, 'the grace period covers the drain');

    assert.deepEqual(container.env, [
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'SANDBOX_ADMISSION_POLICY', value: '/etc/sandbox-admission/policy.yaml' },
      { name: 'NODE_OPTIONS', value: '--enable-source-maps --max-old-space-size=192' },
    ]);
    // The V8 heap the webhook is given fits its memory limit with room for code, buffers and TLS (bench/RESULTS.md).
    const heapMib = Number(/--max-old-space-size=(\d+)/.exec(container.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '')?.[1]);
    const limit = /^(\d+)Mi$/.exec(String(container.resources?.limits?.['memory']));
    assert.ok(limit && heapMib > 0 && heapMib * 2 <= Number(limit[1]), `heap ${heapMib} MiB at most half of the ${limit?.[1]} MiB limit`);
    const policyMount = container.volumeMounts?.find((m) => m.name === 'policy');
    assert.equal(policyMount?.mountPath, '/etc/sandbox-admission', 'the policy ConfigMap is mounted as a directory');
    assert.equal(policyMount?.subPath, undefined, 'a subPath mount would never see ConfigMap updates');
    assert.equal(pod.volumes?.find((v) => v.name === 'policy')?.configMap?.name, 'sandbox-admission-policy');
  });

  it('base PodDisruptionBudget and Service', () => {
    const deployment = find<k8s.V1Deployment>(base(), 'Deployment', 'sandbox-admission');
    const pdb = find<k8s.V1PodDisruptionBudget>(base(), 'PodDisruptionBudget', 'sandbox-admission');
    assert.equal(pdb.spec?.maxUnavailable, 1);
    assert.deepEqual(pdb.spec?.selector, deployment.spec?.selector);
    const service = find<k8s.V1Service>(base(), 'Service', 'sandbox-admission');
    assert.deepEqual(service.spec?.selector, deployment.spec?.selector.matchLabels);
    assert.deepEqual(
      service.spec?.ports?.map((p) => [p.port, p.targetPort]),
      [[443, 'https']],
    );
  });

  it('base RBAC: read-only cluster facts; its own webhook configurations and Secret by name; create explained', () => {
    const facts = find<k8s.V1ClusterRole>(base(), 'ClusterRole', 'sandbox-admission');
    for (const rule of facts.rules ?? []) {
      // The audit's PolicyReports: written by name only (every one of ours is sandbox-admission), listed to find ours.
      if (rule.resources?.[0] === 'policyreports') {
        assert.ok(rule.resourceNames ? rule.resourceNames.join() === 'sandbox-admission' : rule.verbs.join() === 'list', `${rule.verbs}`);
        continue;
      }
      // Creating Events and SubjectAccessReviews (the namespace label guard's RBAC question) writes nothing else.
      const createOnly = rule.resources?.length === 1 && ['events', 'subjectaccessreviews'].includes(rule.resources[0]!);
      // The leader writes the SandboxPolicy status subresource, never the spec.
      const statusOnly = rule.resources?.length === 1 && rule.resources[0] === 'sandboxpolicies/status';
      assert.ok(
        rule.verbs.every((v) => (createOnly ? ['create'] : statusOnly ? ['update', 'patch'] : ['get', 'list', 'watch']).includes(v)),
        `${rule.resources}: ${rule.verbs}`,
      );
    }
    // For people, bound by the cluster's admins: exactly the guard's custom verb on its virtual resource.
    assert.deepEqual(plain(find<k8s.V1ClusterRole>(base(), 'ClusterRole', 'sandbox-admission-namespace-label-admin').rules), [
      { apiGroups: ['sandbox-admission.io'], resources: ['namespacelabels'], verbs: ['weaken'] },
    ]);
    const caBundle = find<k8s.V1ClusterRole>(base(), 'ClusterRole', 'sandbox-admission-ca-bundle');
    assert.deepEqual(plain(caBundle.rules), [
      {
        apiGroups: ['admissionregistration.k8s.io'],
        resources: ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'],
        resourceNames: ['sandbox-admission'],
        verbs: ['get', 'patch', 'update'],
      },
    ]);
    // The names it may patch are exactly those of the configurations shipped.
    assert.ok(
      has(base(), 'MutatingWebhookConfiguration', 'sandbox-admission') &&
        has(base(), 'ValidatingWebhookConfiguration', 'sandbox-admission'),
    );
    const tls = find<k8s.V1Role>(base(), 'Role', 'sandbox-admission-tls');
    assert.equal(tls.metadata?.namespace, NS);
    assert.deepEqual(plain(tls.rules), [
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['sandbox-admission-tls'], verbs: ['get', 'update'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
    ]);
    assert.match(readFileSync(join(REPO, 'manifests/base/rbac.yaml'), 'utf8'), /`create` cannot be restricted by resourceNames/);
    // Leader election: its own Lease by name; create only in its namespace.
    const lease = find<k8s.V1Role>(base(), 'Role', 'sandbox-admission-leader-election');
    assert.equal(lease.metadata?.namespace, NS);
    assert.deepEqual(plain(lease.rules), [
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['sandbox-admission'], verbs: ['get', 'update'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    ]);
  });

  it('base webhook configurations: rules, failurePolicy, timeouts, selectors', () => {
    const mutating = find<k8s.V1MutatingWebhookConfiguration>(base(), 'MutatingWebhookConfiguration', 'sandbox-admission');
    const validating = find<k8s.V1ValidatingWebhookConfiguration>(base(), 'ValidatingWebhookConfiguration', 'sandbox-admission');
    const exemptSelector = { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: EXEMPT }] };
    const service = (path: string) => ({ service: { name: 'sandbox-admission', namespace: NS, path, port: 443 } });

    const mutate = webhooksByName(mutating).get('mutate.sandbox-admission.io')!;
    assert.deepEqual(plain(mutate.rules), [
      { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' },
    ]);
    assert.deepEqual([mutate.failurePolicy, mutate.timeoutSeconds, mutate.reinvocationPolicy], ['Fail', 5, 'IfNeeded']);
    assert.deepEqual(plain(mutate.clientConfig), service('/mutate'));
    assert.deepEqual(plain(mutate.namespaceSelector), exemptSelector);

    const v = webhooksByName(validating);
    assert.deepEqual(
      [...v.keys()],
      [
        'pods.validate.sandbox-admission.io',
        'ephemeral-containers.validate.sandbox-admission.io',
        'namespaces.validate.sandbox-admission.io',
        'workloads.validate.sandbox-admission.io',
        'runtimeclasses.validate.sandbox-admission.io',
      ],
    );
    const summary = (name: string) => {
      const w = v.get(name)!;
      return {
        rules: plain(w.rules)?.map((r) => `${r.operations} ${r.apiGroups}/${r.apiVersions}/${r.resources}`),
        failurePolicy: w.failurePolicy,
        timeoutSeconds: w.timeoutSeconds,
      };
    };
    // Pod CREATE and kubectl debug are two webhooks so that their failurePolicies can differ (components/fail-open).
    assert.deepEqual(summary('pods.validate.sandbox-admission.io'), {
      rules: ['CREATE,UPDATE /v1/pods'],
      failurePolicy: 'Fail',
      timeoutSeconds: 5,
    });
    // UPDATEs reach the webhook only when they change images or labels, by the same test the decision makes.
    assert.deepEqual(plain(v.get('pods.validate.sandbox-admission.io')!.matchConditions), [
      { name: 'create-or-image-or-label-change', expression: `${POD_UPDATE_CHANGES_GOVERNANCE_CEL}\n` },
    ]);
    assert.deepEqual(summary('ephemeral-containers.validate.sandbox-admission.io'), {
      rules: ['UPDATE /v1/pods/ephemeralcontainers'],
      failurePolicy: 'Fail',
      timeoutSeconds: 5,
    });
    assert.deepEqual(summary('namespaces.validate.sandbox-admission.io'), {
      rules: ['CREATE,UPDATE /v1/namespaces,namespaces/status,namespaces/finalize'],
      failurePolicy: 'Fail',
      timeoutSeconds: 5,
    });
    assert.deepEqual(summary('workloads.validate.sandbox-admission.io'), {
      rules: ['CREATE,UPDATE apps/v1/deployments,statefulsets,daemonsets,replicasets', 'CREATE,UPDATE batch/v1/jobs,cronjobs'],
      failurePolicy: 'Ignore',
      timeoutSeconds: 3,
    });
    assert.deepEqual(summary('runtimeclasses.validate.sandbox-admission.io'), {
      rules: ['CREATE,UPDATE node.k8s.io/v1/runtimeclasses'],
      failurePolicy: 'Ignore',
      timeoutSeconds: 3,
    });

    for (const w of v.values()) {
      assert.deepEqual(plain(w.clientConfig), service('/validate'), w.name);
      assert.deepEqual(w.admissionReviewVersions, ['v1', 'v1beta1'], w.name);
      assert.equal(w.sideEffects, 'None', w.name);
      assert.equal(w.matchPolicy, 'Equivalent', w.name);
    }
    // Pod-scoped webhooks skip the control plane and the webhook's own namespace; cluster-scoped ones skip nothing.
    assert.deepEqual(plain(v.get('pods.validate.sandbox-admission.io')!.namespaceSelector), exemptSelector);
    assert.deepEqual(plain(v.get('ephemeral-containers.validate.sandbox-admission.io')!.namespaceSelector), exemptSelector);
    assert.deepEqual(plain(v.get('workloads.validate.sandbox-admission.io')!.namespaceSelector), exemptSelector);
    assert.equal(v.get('namespaces.validate.sandbox-admission.io')!.namespaceSelector, undefined);
    assert.equal(v.get('runtimeclasses.validate.sandbox-admission.io')!.namespaceSelector, undefined);
    // Never an objectSelector: labels on the object belong to whoever writes it.
    for (const w of [mutate, ...v.values()]) assert.equal(w.objectSelector, undefined, w.name);
  });

  it('base policy: the ConfigMap carries manifests/base/policy.yaml, which sandboxes app=untrusted in gVisor', () => {
    assert.equal(policyOf(base()), readFileSync(join(REPO, 'manifests/base/policy.yaml'), 'utf8'));
    assert.equal(runtimeForUntrustedPod(policyOf(base())), 'gvisor');
  });

  it('cert-manager: CA chain, serving Certificate for the Service, CA injected into both configurations, files mode', () => {
    const objects = rendered.get('overlays/cert-manager')!;
    const selfSigned = find<Manifest>(objects, 'Issuer', 'sandbox-admission-selfsigned');
    const caCert = find<Manifest>(objects, 'Certificate', 'sandbox-admission-ca');
    const caIssuer = find<Manifest>(objects, 'Issuer', 'sandbox-admission-ca');
    const serving = find<Manifest>(objects, 'Certificate', 'sandbox-admission-serving');
    for (const o of [selfSigned, caCert, caIssuer, serving]) {
      assert.equal(o.apiVersion, 'cert-manager.io/v1');
      assert.equal(o.metadata?.namespace, NS);
    }
    const spec = (o: Manifest) => o['spec'] as Record<string, unknown>;
    assert.deepEqual(spec(selfSigned), { selfSigned: {} });
    assert.equal(spec(caCert)['isCA'], true);
    assert.deepEqual(spec(caCert)['issuerRef'], { group: 'cert-manager.io', kind: 'Issuer', name: 'sandbox-admission-selfsigned' });
    assert.deepEqual(spec(caIssuer), { ca: { secretName: spec(caCert)['secretName'] } });
    assert.deepEqual(spec(serving)['issuerRef'], { group: 'cert-manager.io', kind: 'Issuer', name: 'sandbox-admission-ca' });
    assert.deepEqual(spec(serving)['dnsNames'], [`sandbox-admission.${NS}.svc`, `sandbox-admission.${NS}.svc.cluster.local`]);
    assert.ok((spec(serving)['usages'] as string[]).includes('server auth'));

    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      const config = find<WebhookConfig>(objects, kind, 'sandbox-admission');
      assert.equal(config.metadata?.annotations?.['cert-manager.io/inject-ca-from'], `${NS}/sandbox-admission-serving`, kind);
    }

    const pod = find<k8s.V1Deployment>(objects, 'Deployment', 'sandbox-admission').spec!.template.spec!;
    const container = pod.containers[0]!;
    const tlsVolume = pod.volumes?.find((v) => v.secret?.secretName === spec(serving)['secretName']);
    assert.ok(tlsVolume, 'the Secret cert-manager writes is mounted');
    const mountPath = container.volumeMounts?.find((m) => m.name === tlsVolume.name)?.mountPath;
    assert.deepEqual(container.args, [
      'serve',
      '--cluster',
      '--certificates=files',
      `--tls-cert-file=${mountPath}/tls.crt`,
      `--tls-key-file=${mountPath}/tls.key`,
      '--manage-admission-policies=validating',
    ]);
    assert.ok(!mountPath?.startsWith('/etc/sandbox-admission/'), 'not nested in the policy ConfigMap volume');

    // The webhook writes no Secret and no caBundle here: those grants are gone, the rest is the base's.
    for (const [kind, name] of [
      ['Role', 'sandbox-admission-tls'],
      ['RoleBinding', 'sandbox-admission-tls'],
      ['ClusterRole', 'sandbox-admission-ca-bundle'],
      ['ClusterRoleBinding', 'sandbox-admission-ca-bundle'],
    ] as const) {
      assert.equal(has(objects, kind, name), false, `${kind}/${name}`);
    }
    assert.deepEqual(
      find<k8s.V1ClusterRole>(objects, 'ClusterRole', 'sandbox-admission'),
      find<k8s.V1ClusterRole>(base(), 'ClusterRole', 'sandbox-admission'),
    );

    // Everything else is manifests/ (the generated ValidatingAdmissionPolicies, the webhooks failing open).
    const own = new Set(['Issuer', 'Certificate']);
    const withoutAnnotation = (o: Manifest): Manifest => {
      if (!isWebhookConfig(o)) return o;
      const copy = structuredClone(o);
      delete copy.metadata!.annotations;
      return copy;
    };
    const rest = (list: Manifest[]) =>
      list
        .filter((o) => !own.has(o.kind ?? '') && o.kind !== 'Deployment' && !/^(Cluster)?Role(Binding)?$/.test(o.kind ?? ''))
        .map(withoutAnnotation);
    assert.deepEqual(byId(rest(objects)), byId(rest(defaults())));
  });

  it('gke-sandbox: GKE owns the gvisor RuntimeClass; a quota admits system-cluster-critical pods; the rest is manifests/', () => {
    const objects = rendered.get('overlays/gke-sandbox')!;
    assert.equal(has(objects, 'RuntimeClass', 'gvisor'), false);
    const quota = find<k8s.V1ResourceQuota>(objects, 'ResourceQuota', 'sandbox-admission-critical-pods');
    assert.equal(quota.metadata?.namespace, NS);
    assert.deepEqual(plain(quota.spec?.scopeSelector?.matchExpressions), [
      { scopeName: 'PriorityClass', operator: 'In', values: ['system-cluster-critical'] },
    ]);
    const replicas = find<k8s.V1Deployment>(objects, 'Deployment', 'sandbox-admission').spec!.replicas!;
    assert.ok(Number(quota.spec?.hard?.['pods']) >= replicas + 1, 'room for every replica and a surge pod');
    const rest = (list: Manifest[]) =>
      list.filter((o) => !(o.kind === 'RuntimeClass' && o.metadata?.name === 'gvisor') && o.kind !== 'ResourceQuota');
    assert.deepEqual(byId(rest(objects)), byId(rest(defaults())));
  });

  it('kata: kata-deploy owns the kata RuntimeClasses; the policy sends app=untrusted to kata-qemu, and its own VAP lets it in', () => {
    const objects = rendered.get('overlays/kata')!;
    assert.equal(has(objects, 'RuntimeClass', 'kata'), false);
    assert.equal(has(objects, 'RuntimeClass', 'gvisor'), true);
    assert.equal(policyOf(objects), readFileSync(join(REPO, 'manifests/overlays/kata/policy.yaml'), 'utf8'));
    assert.equal(runtimeForUntrustedPod(policyOf(objects)), 'kata-qemu');
    // Its ValidatingAdmissionPolicies are the ones checked in beside its policy (not manifests/admission-policy's,
    // which would refuse kata-qemu).
    const checkedIn = parseAllDocuments(readFileSync(join(REPO, 'manifests/overlays/kata/validating-admission-policy.yaml'), 'utf8')).map(
      (d) => d.toJS() as Manifest,
    );
    assert.deepEqual(byId(objects.filter(isVap)), byId(checkedIn));
    // The rest is manifests/ but for the policy ConfigMap and the kata RuntimeClass.
    const rest = (list: Manifest[]) =>
      list.filter((o) => !isVap(o) && o.kind !== 'ConfigMap' && !(o.kind === 'RuntimeClass' && o.metadata?.name === 'kata'));
    assert.deepEqual(byId(rest(objects)), byId(rest(defaults())));
  });
});

for (const flavour of FLAVOURS) {
  describe(`${flavourName(flavour)} server-side applied to a real kube-apiserver`, { skip: bins.skip ?? false }, () => {
    let cluster: Cluster;
    let objects: Manifest[];
    let applied: Manifest[];
    let result: ReturnType<typeof kubectl>;

    before(
      async () => {
        objects = render(flavour);
        cluster = await startCluster({ binaries: bins.binaries! });
        // Nothing listens there: the API server may only ever dial loopback, and here it dials nothing at all.
        applied = forTestCluster(objects, await freePort(), cluster.caPem);
        result = kubectl(
          [
            'apply',
            '--server-side',
            '--field-manager=sandbox-admission-e2e',
            `--kubeconfig=${cluster.kubeconfigPath}`,
            `--cache-dir=${join(cluster.dir, 'kubectl-cache')}`,
            '-f',
            '-',
          ],
          // JSON, so no YAML 1.1/1.2 difference between this parser and kubectl's can change a value.
          JSON.stringify({ apiVersion: 'v1', kind: 'List', items: applied }),
        );
      },
      { timeout: 180_000 },
    );

    after(async () => {
      await cluster?.stop();
    });

    it('the API server accepts every object, without warnings', () => {
      const r = result;
      assert.equal(r.status, 0, `kubectl apply --server-side failed:\n${r.stderr}\n${r.stdout}`);
      // Warnings would include PodSecurity "restricted" violations of the Deployment's pod template.
      assert.equal(r.stderr.trim(), '', 'kubectl printed warnings');
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines.length, applied.length, r.stdout);
      for (const line of lines) assert.match(line, / serverside-applied$/);
    });

    it('the stored objects are the rendered ones (nothing silently dropped by the API)', async () => {
      const api = k8s.KubernetesObjectApi.makeApiClient(cluster.kubeConfig);
      for (const o of applied) {
        // client-node's CRD model renames enum and x-kubernetes-* (to _enum, xKubernetesValidations): read it raw.
        const stored =
          o.kind === 'CustomResourceDefinition'
            ? (JSON.parse(
                kubectl([`--kubeconfig=${cluster.kubeconfigPath}`, 'get', 'crd', o.metadata!.name!, '-o', 'json']).stdout,
              ) as Manifest)
            : (plain(
                await api.read({
                  apiVersion: o.apiVersion,
                  kind: o.kind!,
                  metadata: { name: o.metadata!.name!, namespace: o.metadata?.namespace },
                }),
              ) as Manifest);
        assert.ok(isSubset(o, stored), `${id(o)}: the API stored something else than was applied`);
      }
    });

    it('the Deployment\'s pod passes PodSecurity "restricted", ServiceAccount, Priority and ResourceQuota admission (dry run)', async (t) => {
      const deployment = find<k8s.V1Deployment>(applied, 'Deployment', 'sandbox-admission');
      const core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
      let controlPlane: ControlPlane | undefined;
      if (applied.some((o) => o.kind === 'ResourceQuota')) {
        // A ResourceQuota admits no pod until the quota controller has computed its usage: run the real one.
        const node = resolveNodeBinaries();
        if (node.skip !== undefined) {
          t.skip(`its ResourceQuota needs the quota controller of kube-controller-manager: ${node.skip}`);
          return;
        }
        controlPlane = await startControlPlane(cluster, node.binaries);
        await waitFor(async () => {
          const quotas = await core.listNamespacedResourceQuota({ namespace: NS });
          return quotas.items.length > 0 && quotas.items.every((q) => q.status?.hard !== undefined);
        }, 60_000);
      }
      try {
        const pod = await core.createNamespacedPod({
          namespace: NS,
          dryRun: 'All',
          body: {
            metadata: { generateName: 'sandbox-admission-', labels: deployment.spec!.template.metadata!.labels! },
            spec: deployment.spec!.template.spec!,
          },
        });
        assert.equal(pod.spec?.priority, 2_000_000_000, 'system-cluster-critical resolved');
        assert.equal(pod.spec?.runtimeClassName, undefined, 'the webhook itself runs on the default runtime');
      } finally {
        await controlPlane?.stop();
      }
    });

    if (flavour === 'base' || flavour === 'overlays/cert-manager') {
      it('RBAC grants the webhook exactly what it needs (SubjectAccessReview against the real authorizer)', async () => {
        const authz = cluster.kubeConfig.makeApiClient(k8s.AuthorizationV1Api);
        type Attributes = { group?: string; namespace?: string; name?: string; subresource?: string };
        const can = async (verb: string, resource: string, opts: Attributes = {}) => {
          const review = await authz.createSubjectAccessReview({
            body: {
              spec: {
                user: SA_USER,
                groups: ['system:serviceaccounts', `system:serviceaccounts:${NS}`, 'system:authenticated'],
                resourceAttributes: {
                  verb,
                  resource,
                  group: opts.group ?? '',
                  namespace: opts.namespace ?? '',
                  name: opts.name ?? '',
                  subresource: opts.subresource ?? '',
                },
              },
            },
          });
          return review.status?.allowed === true;
        };
        const selfManaged = flavour === 'base';
        // components/manage-*-admission-policies: their generated objects by name, nothing else.
        const managesValidating = flavour !== 'base';
        const managesMutating = (flavour as string) === 'overlays/native';
        const ar = 'admissionregistration.k8s.io';
        const sbp = { group: 'sandbox-admission.io', name: 'default' };
        const expectations: Array<[boolean, string, string, Attributes?]> = [
          [true, 'watch', 'sandboxpolicies', { group: 'sandbox-admission.io' }],
          [true, 'get', 'sandboxpolicies', sbp],
          [true, 'update', 'sandboxpolicies', { ...sbp, subresource: 'status' }],
          [false, 'update', 'sandboxpolicies', sbp],
          [false, 'create', 'sandboxpolicies', { group: 'sandbox-admission.io' }],
          [false, 'delete', 'sandboxpolicies', sbp],
          [true, 'create', 'events', { namespace: 'default' }],
          [true, 'list', 'namespaces'],
          [true, 'watch', 'namespaces'],
          [true, 'get', 'namespaces', { name: 'apps' }],
          [true, 'watch', 'runtimeclasses', { group: 'node.k8s.io' }],
          [true, 'list', 'pods'],
          [true, 'create', 'events', { namespace: 'apps' }],
          [true, 'list', 'validatingadmissionpolicies', { group: 'admissionregistration.k8s.io' }],
          [managesValidating, 'update', 'validatingadmissionpolicies', { group: ar, name: 'sandbox-admission-enforce' }],
          [managesValidating, 'create', 'validatingadmissionpolicies', { group: ar, name: 'sandbox-admission-runtime-classes' }],
          [managesValidating, 'delete', 'validatingadmissionpolicybindings', { group: ar, name: 'sandbox-admission-warn' }],
          [false, 'create', 'validatingadmissionpolicies', { group: ar }],
          [false, 'update', 'validatingadmissionpolicies', { group: ar, name: 'someone-elses-policy' }],
          [false, 'delete', 'validatingadmissionpolicybindings', { group: ar, name: 'someone-elses-policy' }],
          [true, 'list', 'mutatingadmissionpolicies', { group: ar }],
          [managesMutating, 'update', 'mutatingadmissionpolicies', { group: ar, name: 'sandbox-admission-sandbox' }],
          [false, 'create', 'mutatingadmissionpolicies', { group: ar }],
          [false, 'patch', 'mutatingadmissionpolicies', { group: ar, name: 'someone-elses-policy' }],
          // Leader election: its own Lease, in its own namespace.
          [true, 'get', 'leases', { group: 'coordination.k8s.io', namespace: NS, name: 'sandbox-admission' }],
          [true, 'update', 'leases', { group: 'coordination.k8s.io', namespace: NS, name: 'sandbox-admission' }],
          [false, 'update', 'leases', { group: 'coordination.k8s.io', namespace: NS, name: 'other' }],
          [false, 'update', 'leases', { group: 'coordination.k8s.io', namespace: 'kube-system', name: 'sandbox-admission' }],
          // PolicyReports: its own, named sandbox-admission, in any namespace.
          [true, 'patch', 'policyreports', { group: 'wgpolicyk8s.io', namespace: 'apps', name: 'sandbox-admission' }],
          [false, 'patch', 'policyreports', { group: 'wgpolicyk8s.io', namespace: 'apps', name: 'kyverno-report' }],
          [false, 'update', 'namespaces', { name: 'apps' }],
          [false, 'create', 'pods', { namespace: 'apps' }],
          [false, 'list', 'secrets'],
          [false, 'get', 'secrets', { namespace: NS, name: 'other' }],
          [false, 'create', 'secrets', { namespace: 'default' }],
          [false, 'patch', 'mutatingwebhookconfigurations', { group: 'admissionregistration.k8s.io', name: 'someone-else' }],
          [false, 'delete', 'validatingwebhookconfigurations', { group: 'admissionregistration.k8s.io', name: 'sandbox-admission' }],
          [selfManaged, 'patch', 'mutatingwebhookconfigurations', { group: 'admissionregistration.k8s.io', name: 'sandbox-admission' }],
          [selfManaged, 'update', 'validatingwebhookconfigurations', { group: 'admissionregistration.k8s.io', name: 'sandbox-admission' }],
          [selfManaged, 'get', 'secrets', { namespace: NS, name: 'sandbox-admission-tls' }],
          [selfManaged, 'update', 'secrets', { namespace: NS, name: 'sandbox-admission-tls' }],
          [selfManaged, 'create', 'secrets', { namespace: NS }],
        ];
        for (const [expected, verb, resource, opts] of expectations) {
          assert.equal(await can(verb, resource, opts), expected, `${verb} ${resource} ${JSON.stringify(opts ?? {})}`);
        }
      });
    }

    if (flavour === 'base') {
      it('with the webhook unreachable, each failurePolicy does what the configuration says (pods fail closed)', async () => {
        const core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
        const apps = cluster.kubeConfig.makeApiClient(k8s.AppsV1Api);
        const node = cluster.kubeConfig.makeApiClient(k8s.NodeV1Api);
        const pod = (name: string): k8s.V1Pod => ({
          metadata: { name },
          spec: { automountServiceAccountToken: false, containers: [{ name: 'app', image: 'registry.example/app:1' }] },
        });
        await core.createNamespace({ body: { metadata: { name: 'apps' } } });
        for (const namespace of ['apps', 'kube-system'])
          await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } });

        // Both configurations are in force once the API server's informers have them.
        await waitForRefusal(
          'the mutating configuration',
          () => core.createNamespacedPod({ namespace: 'apps', dryRun: 'All', body: pod('probe') }),
          /failed calling webhook "mutate\.sandbox-admission\.io"/,
        );
        const labelled = { metadata: { name: 'governed', labels: { 'sandbox-admission.io/runtime': 'gvisor' } } };
        await waitForRefusal(
          'the validating configuration',
          () => core.createNamespace({ dryRun: 'All', body: labelled }),
          /failed calling webhook "namespaces\.validate\.sandbox-admission\.io"/,
        );

        // Pods fail closed outside the exempt namespaces, and kube-system never depends on the webhook.
        assert.match(
          (await refusal(core.createNamespacedPod({ namespace: 'apps', body: pod('app') }))) ?? '',
          /failed calling webhook "mutate\.sandbox-admission\.io"/,
        );
        assert.equal(await refusal(core.createNamespacedPod({ namespace: 'kube-system', body: pod('system') })), undefined);

        // The label guard fails closed, but only for namespaces that carry sandbox-admission.io labels.
        assert.equal(await refusal(core.createNamespace({ body: { metadata: { name: 'plain', labels: { team: 'a' } } } })), undefined);
        assert.equal(
          await refusal(core.patchNamespace({ name: 'plain', body: [{ op: 'add', path: '/metadata/labels/owner', value: 'b' }] })),
          undefined,
        );
        assert.match(
          (await refusal(core.createNamespace({ body: labelled }))) ?? '',
          /failed calling webhook "namespaces\.validate\.sandbox-admission\.io"/,
        );
        assert.match(
          (await refusal(
            core.patchNamespace({
              name: 'plain',
              body: [{ op: 'add', path: '/metadata/labels/sandbox-admission.io~1mode', value: 'audit' }],
            }),
          )) ?? '',
          /failed calling webhook "namespaces\.validate\.sandbox-admission\.io"/,
        );

        // Early feedback and RuntimeClass flagging fail open.
        const deployment: k8s.V1Deployment = {
          metadata: { name: 'web' },
          spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: pod('x').spec! } },
        };
        assert.equal(await refusal(apps.createNamespacedDeployment({ namespace: 'apps', body: deployment })), undefined);
        assert.equal(await refusal(node.createRuntimeClass({ body: { metadata: { name: 'runc' }, handler: 'runc' } })), undefined);
      });
    }

    if (flavour === '.') {
      it('with the webhook unreachable, pods fail open and the ValidatingAdmissionPolicy alone keeps governed pods out of runc', async () => {
        const core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
        const apps = cluster.kubeConfig.makeApiClient(k8s.AppsV1Api);
        const node = cluster.kubeConfig.makeApiClient(k8s.NodeV1Api);
        const pod = (name: string, labels: Record<string, string> = {}, spec: Partial<k8s.V1PodSpec> = {}): k8s.V1Pod => ({
          metadata: { name, labels },
          spec: { automountServiceAccountToken: false, containers: [{ name: 'app', image: 'registry.example/app:1' }], ...spec },
        });
        const untrusted = { app: 'untrusted' };
        /** apiserver_admission_webhook_fail_open_count by webhook name: calls that failed and were let through. */
        const failedOpen = (): Record<string, number> => {
          const r = kubectl([
            'get',
            '--raw',
            '/metrics',
            `--kubeconfig=${cluster.kubeconfigPath}`,
            `--cache-dir=${join(cluster.dir, 'kubectl-cache')}`,
          ]);
          assert.equal(r.status, 0, r.stderr);
          const counts: Record<string, number> = {};
          for (const m of r.stdout.matchAll(/^apiserver_admission_webhook_fail_open_count\{([^}]*)\} (\S+)$/gm)) {
            counts[/name="([^"]*)"/.exec(m[1]!)![1]!] = Number(m[2]);
          }
          return counts;
        };
        const POD_WEBHOOKS = ['mutate.sandbox-admission.io', 'pods.validate.sandbox-admission.io'];
        await core.createNamespace({ body: { metadata: { name: 'apps' } } });
        for (const namespace of ['apps', 'kube-system'])
          await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } });

        // In force once the API server's informers have them: the validating configuration (its namespace guard
        // fails closed), the mutating one (a dry-run pod shows in the fail-open count), and the
        // ValidatingAdmissionPolicy with its binding (dry-run creates of a governed pod, until refused).
        const labelled = { metadata: { name: 'governed', labels: { 'sandbox-admission.io/runtime': 'gvisor' } } };
        await waitForRefusal(
          'the validating configuration',
          () => core.createNamespace({ dryRun: 'All', body: labelled }),
          /failed calling webhook "namespaces\.validate\.sandbox-admission\.io"/,
        );
        const deadline = Date.now() + 30_000;
        while ((failedOpen()['mutate.sandbox-admission.io'] ?? 0) === 0) {
          assert.ok(Date.now() < deadline, 'timed out waiting for the mutating configuration to fail open');
          assert.equal(await refusal(core.createNamespacedPod({ namespace: 'apps', dryRun: 'All', body: pod('probe') })), undefined);
          await new Promise((r) => setTimeout(r, 250));
        }
        const vapDenied =
          /^pods "[^"]+" is forbidden: ValidatingAdmissionPolicy 'sandbox-admission-enforce' with binding 'sandbox-admission-enforce' denied request: sandbox-admission denied this pod: /;
        await waitForRefusal(
          'the ValidatingAdmissionPolicy',
          () => core.createNamespacedPod({ namespace: 'apps', dryRun: 'All', body: pod('probe', untrusted) }),
          vapDenied,
        );

        // An ungoverned pod outside the exempt namespaces is created: both pod webhooks were called and failed open.
        const before = failedOpen();
        assert.equal(await refusal(core.createNamespacedPod({ namespace: 'apps', body: pod('app') })), undefined);
        const after = failedOpen();
        assert.deepEqual(
          POD_WEBHOOKS.map((w) => (after[w] ?? 0) - (before[w] ?? 0)),
          [1, 1],
          `fail-open counts before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`,
        );
        assert.equal((await core.readNamespacedPod({ namespace: 'apps', name: 'app' })).spec?.runtimeClassName, undefined);
        assert.equal(await refusal(core.createNamespacedPod({ namespace: 'kube-system', body: pod('system') })), undefined);

        // A governed pod that relied on the webhook for its runtimeClassName is refused by the API server itself,
        // with the webhook's own message; so is one asking for runc. None is stored.
        assert.equal(
          await refusal(core.createNamespacedPod({ namespace: 'apps', body: pod('governed', untrusted) })),
          `pods "governed" is forbidden: ValidatingAdmissionPolicy 'sandbox-admission-enforce' with binding 'sandbox-admission-enforce' denied request: sandbox-admission denied this pod: rule "untrusted-apps" requires a sandbox runtime and the pod names none; set spec.runtimeClassName to one of: gvisor, kata`,
        );
        await assert.rejects(core.readNamespacedPod({ namespace: 'apps', name: 'governed' }));
        // (RuntimeClass flagging fails open: the class is created.)
        assert.equal(await refusal(node.createRuntimeClass({ body: { metadata: { name: 'runc' }, handler: 'runc' } })), undefined);
        const runc = await refusal(
          core.createNamespacedPod({ namespace: 'apps', body: pod('governed-runc', untrusted, { runtimeClassName: 'runc' }) }),
        );
        assert.match(runc ?? 'admitted', vapDenied);
        assert.match(
          runc ?? '',
          /the pod asks for runtimeClassName "runc" but rule "untrusted-apps" requires a sandbox runtime \(allowed: gvisor, kata\)/,
        );

        // A governed pod that names an allowed sandbox is admitted as it is.
        assert.equal(
          await refusal(core.createNamespacedPod({ namespace: 'apps', body: pod('sandboxed', untrusted, { runtimeClassName: 'gvisor' }) })),
          undefined,
        );
        assert.equal((await core.readNamespacedPod({ namespace: 'apps', name: 'sandboxed' })).spec?.runtimeClassName, 'gvisor');

        // kubectl debug still fails closed: the ValidatingAdmissionPolicy does not look at ephemeral containers.
        const debugged = await core.readNamespacedPod({ namespace: 'apps', name: 'app' });
        debugged.spec!.ephemeralContainers = [{ name: 'debugger', image: 'busybox' }];
        assert.match(
          (await refusal(core.replaceNamespacedPodEphemeralcontainers({ namespace: 'apps', name: 'app', body: debugged }))) ?? 'admitted',
          /failed calling webhook "ephemeral-containers\.validate\.sandbox-admission\.io"/,
        );

        // The label guard still fails closed, for labelled namespaces only.
        assert.equal(await refusal(core.createNamespace({ body: { metadata: { name: 'plain', labels: { team: 'a' } } } })), undefined);
        assert.match(
          (await refusal(core.createNamespace({ body: labelled }))) ?? 'admitted',
          /failed calling webhook "namespaces\.validate\.sandbox-admission\.io"/,
        );

        // Early feedback fails open.
        const deployment: k8s.V1Deployment = {
          metadata: { name: 'web' },
          spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: pod('x').spec! } },
        };
        assert.equal(await refusal(apps.createNamespacedDeployment({ namespace: 'apps', body: deployment })), undefined);
      });
    }

    if (flavour === 'overlays/native') {
      it('no webhook on the pod path: the API server itself sandboxes governed pods and refuses the ones it cannot', async () => {
        const core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
        const pod = (name: string, labels: Record<string, string> = {}, spec: Partial<k8s.V1PodSpec> = {}): k8s.V1Pod => ({
          metadata: { name, labels },
          spec: { automountServiceAccountToken: false, containers: [{ name: 'app', image: 'registry.example/app:1' }], ...spec },
        });
        const untrusted = { app: 'untrusted' };
        await core.createNamespace({ body: { metadata: { name: 'apps' } } });
        await core.createNamespacedServiceAccount({ namespace: 'apps', body: { metadata: { name: 'default' } } });
        await cluster.kubeConfig.makeApiClient(k8s.NodeV1Api).createRuntimeClass({ body: { metadata: { name: 'runc' }, handler: 'runc' } });
        // In force once the API server's informers have the policies: dry-run creates until the pod is mutated.
        let mutated: k8s.V1Pod | undefined;
        const deadline = Date.now() + 30_000;
        while (mutated?.spec?.runtimeClassName !== 'gvisor') {
          assert.ok(Date.now() < deadline, `timed out waiting for the MutatingAdmissionPolicy: ${JSON.stringify(mutated?.spec)}`);
          mutated = await core.createNamespacedPod({ namespace: 'apps', dryRun: 'All', body: pod('probe', untrusted) });
          await new Promise((r) => setTimeout(r, 250));
        }
        // A real create, with nothing listening where the webhook configurations point: stored sandboxed, exactly as
        // the webhook would have done it (the built-in gvisor profile's affinity and toleration, the rule annotation).
        const created = await core.createNamespacedPod({ namespace: 'apps', body: pod('governed', untrusted) });
        assert.equal(created.spec?.runtimeClassName, 'gvisor');
        assert.equal(created.metadata?.annotations?.['sandbox-admission.io/rule'], 'untrusted-apps');
        assert.deepEqual(plain(created.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms), [
          { matchExpressions: [{ key: 'sandbox.gke.io/runtime', operator: 'In', values: ['gvisor'] }] },
        ]);
        assert.ok(
          created.spec?.tolerations?.some((t) => t.key === 'sandbox.gke.io/runtime' && t.value === 'gvisor' && t.effect === 'NoSchedule'),
          JSON.stringify(created.spec?.tolerations),
        );
        // An ordinary pod is untouched; a governed pod asking for runc is refused by the ValidatingAdmissionPolicy.
        const ordinary = await core.createNamespacedPod({ namespace: 'apps', body: pod('ordinary') });
        assert.equal(ordinary.spec?.runtimeClassName, undefined);
        assert.equal(ordinary.metadata?.annotations?.['sandbox-admission.io/rule'], undefined);
        assert.match(
          (await refusal(core.createNamespacedPod({ namespace: 'apps', body: pod('runc', untrusted, { runtimeClassName: 'runc' }) }))) ??
            'admitted',
          /ValidatingAdmissionPolicy 'sandbox-admission-enforce' with binding 'sandbox-admission-enforce' denied request: .*the pod asks for runtimeClassName "runc"/,
        );
        // kubectl debug still goes to the webhook, and fails closed.
        const debugged = await core.readNamespacedPod({ namespace: 'apps', name: 'ordinary' });
        debugged.spec!.ephemeralContainers = [{ name: 'debugger', image: 'busybox' }];
        assert.match(
          (await refusal(core.replaceNamespacedPodEphemeralcontainers({ namespace: 'apps', name: 'ordinary', body: debugged }))) ??
            'admitted',
          /failed calling webhook "ephemeral-containers\.validate\.sandbox-admission\.io"/,
        );
      });
    }
  });
}

/** Every field of `expected` is in `actual` with the same value (the API adds defaults and metadata). */
function isSubset(expected: unknown, actual: unknown): boolean {
  if (Array.isArray(expected)) {
    // An empty list is not stored (native's MutatingWebhookConfiguration has no webhooks left).
    if (expected.length === 0 && actual === undefined) return true;
    return Array.isArray(actual) && expected.length === actual.length && expected.every((e, i) => isSubset(e, actual[i]));
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object') return false;
    return Object.entries(expected).every(([k, v]) => isSubset(v, (actual as Record<string, unknown>)[k]));
  }
  return expected === actual;
}
