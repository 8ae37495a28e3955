// The ValidatingAdmissionPolicy backstop against a real kube-apiserver, with the webhook DOWN: the project's
// MutatingWebhookConfiguration is installed with failurePolicy Ignore and points at a loopback port where nothing
// listens, so every pod CREATE fails open past it. What `sandbox-admission render vap` generates must then do the
// enforcing alone, and decide exactly as decide() (without mutation) does: a table of pods goes through both.
import * as k8s from '@kubernetes/client-node';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { renderVapText } from '../../src/cli/render-vap-command.ts';
import { decide } from '../../src/decision/decide.ts';
import type { Decision } from '../../src/decision/types.ts';
import type { Pod } from '../../src/k8s/pod.ts';
import { parsePolicy } from '../../src/policy/parse.ts';
import type { Policy } from '../../src/policy/types.ts';
import { rejection, waitFor } from './harness/api-assertions.ts';
import { resolveBinaries } from './harness/binaries.ts';
import { createNamespace, startCluster, type Cluster } from './harness/cluster.ts';
import { freePort } from './harness/ports.ts';
import { kubeletConfig, mirrorPod, podOf, tryCreate } from './harness/pod-admission.ts';
import { readManifests, renderMutatingWebhook } from './harness/webhook.ts';

const bins = resolveBinaries();
const WEBHOOK_NAMESPACE = 'sandbox-admission';

// Every kind of criterion, an exempt rule in front of a sandbox rule it shields, all three modes, a profile
// replaced with its own unsupported list, and namespace-label governance.
const POLICY = `apiVersion: sandbox-admission.io/v1alpha1
kind: SandboxPolicy
metadata: {name: e2e-vap}
spec:
  exemptNamespaces: [kube-system, ops]
  namespaceLabels: {enabled: true, defaultMode: enforce}
  profiles:
    kata:
      runtimeClassName: kata
      displayName: Kata Containers
      unsupported: [hostNetwork, hostPort, privileged]
  rules:
    - name: platform-exempt
      match:
        namespaces: [team-platform]
        podSelector: {matchExpressions: [{key: tier, operator: In, values: [system, infra]}]}
      action: exempt
    - name: untrusted-apps
      match: {podSelector: {matchLabels: {app: untrusted}}}
      action: sandbox
      runtime: gvisor
    - name: team-namespaces
      match:
        namespaces: ["team-*", "ci-?"]
        excludeNamespaces: [team-trusted]
      action: sandbox
      runtime: kata
      allowedRuntimes: [kata]
    - name: outside-images
      match:
        namespaceSelector:
          matchExpressions:
            - {key: images, operator: Exists}
            - {key: legacy, operator: DoesNotExist}
            - {key: stage, operator: NotIn, values: [dev]}
        images: {notFrom: ["registry.corp.example/", "*.mirror.example/approved"]}
      action: require
    - name: builders
      match: {serviceAccounts: ["builder-*"]}
      action: require
      mode: warn
    - name: hub-images
      match: {namespaces: [audited], images: {from: [docker.io/library]}}
      action: require
      mode: audit
`;

const NAMESPACES: Record<string, Record<string, string>> = {
  apps: {},
  'team-a': {},
  'ci-7': {},
  'ci-77': {},
  'team-trusted': {},
  'team-platform': {},
  imgs: { images: 'checked' },
  'imgs-legacy': { images: 'checked', legacy: 'true' },
  'imgs-dev': { images: 'checked', stage: 'dev' },
  audited: {},
  'ns-gvisor': { 'sandbox-admission.io/runtime': 'gvisor' },
  'ns-kata-warn': { 'sandbox-admission.io/runtime': 'kata', 'sandbox-admission.io/mode': 'warn' },
  'ns-audit': { 'sandbox-admission.io/runtime': 'gvisor', 'sandbox-admission.io/mode': 'audit' },
  'ns-bad-mode': { 'sandbox-admission.io/runtime': 'gvisor', 'sandbox-admission.io/mode': 'strict' },
  'ns-unknown': { 'sandbox-admission.io/runtime': 'nosuch' },
  // Exempt namespaces win over labels and rules alike.
  ops: { 'sandbox-admission.io/runtime': 'gvisor' },
  [WEBHOOK_NAMESPACE]: { 'sandbox-admission.io/runtime': 'gvisor' },
};

type Outcome = 'deny' | 'warn' | 'audit' | 'admit';

interface Case {
  what: string;
  namespace: string;
  labels?: Record<string, string>;
  spec?: Partial<k8s.V1PodSpec>;
  /** The expectation written by hand, which both decide() and the API server must meet (none for generated cases). */
  expect?: Outcome;
  rule?: string;
}

const ADMIN = { username: 'admin', groups: ['system:masters', 'system:authenticated'] };
const UNTRUSTED = { app: 'untrusted' };
const image = (ref: string): Partial<k8s.V1PodSpec> => ({ containers: [{ name: 'app', image: ref }] });

const CASES: Case[] = [
  { what: 'ordinary pod, no rule, no label', namespace: 'apps', expect: 'admit' },
  { what: 'pod label rule, no runtime', namespace: 'apps', labels: UNTRUSTED, expect: 'deny', rule: 'untrusted-apps' },
  {
    what: 'pod label rule, gvisor',
    namespace: 'apps',
    labels: UNTRUSTED,
    spec: { runtimeClassName: 'gvisor' },
    expect: 'admit',
    rule: 'untrusted-apps',
  },
  {
    what: 'pod label rule, kata (every profile allowed)',
    namespace: 'apps',
    labels: UNTRUSTED,
    spec: { runtimeClassName: 'kata' },
    expect: 'admit',
    rule: 'untrusted-apps',
  },
  {
    what: 'pod label rule, runc',
    namespace: 'apps',
    labels: UNTRUSTED,
    spec: { runtimeClassName: 'runc' },
    expect: 'deny',
    rule: 'untrusted-apps',
  },
  {
    what: 'gvisor cannot host hostNetwork',
    namespace: 'apps',
    labels: UNTRUSTED,
    spec: { runtimeClassName: 'gvisor', hostNetwork: true },
    expect: 'deny',
    rule: 'untrusted-apps',
  },
  {
    what: 'gvisor: hostPath volume and a privileged init container, every path listed',
    namespace: 'apps',
    labels: UNTRUSTED,
    spec: {
      runtimeClassName: 'gvisor',
      volumes: [
        { name: 'ok', emptyDir: {} },
        { name: 'host', hostPath: { path: '/var' } },
      ],
      initContainers: [{ name: 'init', image: 'busybox', securityContext: { privileged: true } }],
      containers: [{ name: 'app', image: 'nginx', securityContext: { procMount: 'Default' } }],
    },
    expect: 'deny',
    rule: 'untrusted-apps',
  },
  {
    what: 'the replaced kata profile: privileged and hostPort',
    namespace: 'apps',
    labels: UNTRUSTED,
    spec: {
      runtimeClassName: 'kata',
      containers: [
        { name: 'a', image: 'nginx' },
        {
          name: 'b',
          image: 'nginx',
          securityContext: { privileged: true },
          ports: [{ containerPort: 80 }, { containerPort: 81, hostPort: 8081 }],
        },
      ],
    },
    expect: 'deny',
    rule: 'untrusted-apps',
  },
  {
    what: 'gvisor: an unmasked /proc (hostUsers false); user namespaces are not in its list',
    namespace: 'apps',
    labels: UNTRUSTED,
    spec: {
      runtimeClassName: 'gvisor',
      hostUsers: false,
      containers: [{ name: 'app', image: 'nginx', securityContext: { procMount: 'Unmasked' } }],
    },
    expect: 'deny',
    rule: 'untrusted-apps',
  },
  {
    what: 'kata does not mind hostPID (not in its list)',
    namespace: 'apps',
    labels: UNTRUSTED,
    spec: { runtimeClassName: 'kata', hostPID: true },
    expect: 'admit',
    rule: 'untrusted-apps',
  },
  { what: 'namespace glob team-*, no runtime', namespace: 'team-a', expect: 'deny', rule: 'team-namespaces' },
  {
    what: 'namespace glob, gvisor is not in allowedRuntimes',
    namespace: 'team-a',
    spec: { runtimeClassName: 'gvisor' },
    expect: 'deny',
    rule: 'team-namespaces',
  },
  { what: 'namespace glob, kata', namespace: 'team-a', spec: { runtimeClassName: 'kata' }, expect: 'admit', rule: 'team-namespaces' },
  { what: 'glob ci-? matches one character', namespace: 'ci-7', expect: 'deny', rule: 'team-namespaces' },
  { what: 'glob ci-? does not match two', namespace: 'ci-77', expect: 'admit' },
  { what: 'excludeNamespaces', namespace: 'team-trusted', expect: 'admit' },
  {
    what: 'an exempt rule shields the later rules (even app=untrusted)',
    namespace: 'team-platform',
    labels: { tier: 'system', ...UNTRUSTED },
    expect: 'admit',
    rule: 'platform-exempt',
  },
  {
    what: 'the exempt rule does not match: the glob rule governs',
    namespace: 'team-platform',
    labels: { tier: 'web' },
    expect: 'deny',
    rule: 'team-namespaces',
  },
  { what: 'image from the corp registry', namespace: 'imgs', spec: image('registry.corp.example/team/app:1'), expect: 'admit' },
  { what: 'registry host compared in lower case', namespace: 'imgs', spec: image('Registry.Corp.Example/team/app:1'), expect: 'admit' },
  {
    what: 'digest and tag stripped',
    namespace: 'imgs',
    spec: image('registry.corp.example/app:1@sha256:0123456789abcdef'),
    expect: 'admit',
  },
  { what: 'Docker Hub image is not from corp', namespace: 'imgs', spec: image('nginx:1.27'), expect: 'deny', rule: 'outside-images' },
  {
    what: 'host prefix is not a segment match',
    namespace: 'imgs',
    spec: image('registry.corp.example.evil.io/app:1'),
    expect: 'deny',
    rule: 'outside-images',
  },
  { what: 'wildcard host and path prefix', namespace: 'imgs', spec: image('eu.mirror.example/approved/tool:2'), expect: 'admit' },
  {
    what: 'path prefix at a segment boundary only',
    namespace: 'imgs',
    spec: image('eu.mirror.example/approvedx/tool:2'),
    expect: 'deny',
    rule: 'outside-images',
  },
  {
    what: 'localhost with a port is a registry host',
    namespace: 'imgs',
    spec: image('localhost:5000/app'),
    expect: 'deny',
    rule: 'outside-images',
  },
  {
    what: 'any one image from elsewhere (init container)',
    namespace: 'imgs',
    spec: { initContainers: [{ name: 'i', image: 'busybox' }], containers: [{ name: 'a', image: 'registry.corp.example/a' }] },
    expect: 'deny',
    rule: 'outside-images',
  },
  {
    what: 'image rule, allowed runtime',
    namespace: 'imgs',
    spec: { runtimeClassName: 'kata', containers: [{ name: 'a', image: 'nginx' }] },
    expect: 'admit',
    rule: 'outside-images',
  },
  { what: 'namespaceSelector DoesNotExist', namespace: 'imgs-legacy', spec: image('nginx'), expect: 'admit' },
  { what: 'namespaceSelector NotIn', namespace: 'imgs-dev', spec: image('nginx'), expect: 'admit' },
  {
    what: 'service account glob, warn mode',
    namespace: 'apps',
    spec: { serviceAccountName: 'builder-1' },
    expect: 'warn',
    rule: 'builders',
  },
  {
    what: 'warn mode with a wrong runtime',
    namespace: 'apps',
    spec: { serviceAccountName: 'builder-1', runtimeClassName: 'runc' },
    expect: 'warn',
    rule: 'builders',
  },
  {
    what: 'audit mode: Docker Hub official image',
    namespace: 'audited',
    spec: image('index.docker.io/library/busybox:1'),
    expect: 'audit',
    rule: 'hub-images',
  },
  {
    what: 'audit mode rule does not match another Hub path',
    namespace: 'audited',
    spec: image('docker.io/libraryx/busybox'),
    expect: 'admit',
  },
  {
    what: 'audit mode: Docker Hub by its registry-1 name',
    namespace: 'audited',
    spec: image('registry-1.docker.io/busybox:1'),
    expect: 'audit',
    rule: 'hub-images',
  },
  { what: 'namespace label, no runtime', namespace: 'ns-gvisor', expect: 'deny', rule: 'namespace-label' },
  {
    what: 'namespace label accepts every profile',
    namespace: 'ns-gvisor',
    spec: { runtimeClassName: 'kata' },
    expect: 'admit',
    rule: 'namespace-label',
  },
  { what: 'a rule wins over the namespace label', namespace: 'ns-gvisor', labels: UNTRUSTED, expect: 'deny', rule: 'untrusted-apps' },
  {
    what: 'a softer (warn) rule does not soften an enforcing namespace label',
    namespace: 'ns-gvisor',
    spec: { serviceAccountName: 'builder-1', runtimeClassName: 'runc' },
    expect: 'deny',
    rule: 'namespace-label',
  },
  {
    what: 'a rule as strict as a warn label decides',
    namespace: 'ns-kata-warn',
    spec: { serviceAccountName: 'builder-1' },
    expect: 'warn',
    rule: 'builders',
  },
  { what: 'an enforcing rule beats a warn label', namespace: 'ns-kata-warn', labels: UNTRUSTED, expect: 'deny', rule: 'untrusted-apps' },
  { what: 'namespace label in warn mode', namespace: 'ns-kata-warn', expect: 'warn', rule: 'namespace-label' },
  {
    what: 'namespace label in audit mode',
    namespace: 'ns-audit',
    spec: { runtimeClassName: 'runc' },
    expect: 'audit',
    rule: 'namespace-label',
  },
  { what: 'an unreadable mode label enforces', namespace: 'ns-bad-mode', expect: 'deny', rule: 'namespace-label' },
  { what: 'unknown profile in the label: both problems', namespace: 'ns-unknown', expect: 'deny', rule: 'namespace-label' },
  {
    what: 'unknown profile in the label, even with a sandbox',
    namespace: 'ns-unknown',
    spec: { runtimeClassName: 'gvisor' },
    expect: 'deny',
    rule: 'namespace-label',
  },
  { what: 'exempt namespace (policy list) beats label and rule', namespace: 'ops', labels: UNTRUSTED, expect: 'admit' },
  { what: 'the webhook namespace is always exempt', namespace: WEBHOOK_NAMESPACE, labels: UNTRUSTED, expect: 'admit' },
  {
    what: 'a large pod (300 containers, long images) stays within the CEL cost limits',
    namespace: 'imgs',
    spec: {
      containers: Array.from({ length: 300 }, (_, i) => ({
        name: `c${i}`,
        image: `registry.corp.example/${'x'.repeat(150)}/app-${i}:1`,
        ports: [{ containerPort: 1000 + i }],
      })).concat([{ name: 'odd', image: 'quay.io/other/app', ports: [] }]),
    },
    expect: 'deny',
    rule: 'outside-images',
  },
];

// Generated pods: every namespace, label and service account the rules look at, tricky image references, every
// runtime class, and the features the profiles refuse. Ports carry hostPort == containerPort, which is what the
// API server's defaulting gives hostNetwork pods, so decide() sees the same pod the API server evaluates.
const IMAGES = [
  'nginx',
  'nginx:1.27',
  'library/busybox',
  'docker.io/library/nginx',
  'registry-1.docker.io/nginx',
  'Registry-1.Docker.io/library/busybox:1',
  'index.docker.io/library/nginx@sha256:abc',
  'docker.io/libraryx/a',
  'registry.corp.example/a:1',
  'REGISTRY.corp.example/team/b',
  'registry.corp.example.evil.io/a',
  'registry.corp.example:5000/a',
  'eu.mirror.example/approved/t:2',
  'mirror.example/approved/t',
  'eu.mirror.example/approvedx',
  'eu.mirror.example/other/approved',
  'localhost/a',
  'localhost:5000/a',
  'quay.io/x/y:z',
  'a:b/c:d',
];
// (procMount Unmasked needs hostUsers: false, which excludes hostNetwork and hostPID: the table covers it.)
const container = (name: string, port: number): fc.Arbitrary<k8s.V1Container> =>
  fc.record(
    {
      name: fc.constant(name),
      image: fc.constantFrom(...IMAGES),
      securityContext: fc.option(fc.record({ privileged: fc.boolean() }), { nil: undefined }),
      ports: fc.option(fc.constant([{ containerPort: port, hostPort: port }]), { nil: undefined }),
    },
    { requiredKeys: ['name', 'image'] },
  );
const arbitraryCase: fc.Arbitrary<Case> = fc
  .record({
    // Warn and audit need a namespace without an enforcing rule in front: give those namespaces extra weight.
    namespace: fc.oneof(
      { arbitrary: fc.constantFrom(...Object.keys(NAMESPACES)), weight: 4 },
      { arbitrary: fc.constantFrom('audited', 'ns-audit', 'ns-kata-warn'), weight: 1 },
    ),
    labels: fc.record({ app: fc.constantFrom('untrusted', 'web'), tier: fc.constantFrom('system', 'infra', 'web') }, { requiredKeys: [] }),
    spec: fc.record(
      {
        runtimeClassName: fc.constantFrom('gvisor', 'kata', 'runc'),
        serviceAccountName: fc.constantFrom('default', 'builder-1'),
        hostNetwork: fc.boolean(),
        hostPID: fc.boolean(),
        volumes: fc.constant(null).map((): k8s.V1Volume[] => [{ name: 'host', hostPath: { path: '/var' } }]),
        initContainers: container('init', 8082).map((c) => [c]),
        containers: fc.tuple(container('a', 8080), fc.option(container('b', 8081), { nil: undefined })).map(([a, b]) => (b ? [a, b] : [a])),
      },
      { requiredKeys: ['containers'] },
    ),
  })
  .map((c) => ({ ...c, what: 'generated' }));

function decideFor(policy: Policy, c: { namespace: string; labels?: Record<string, string> }, pod: k8s.V1Pod, requester = ADMIN): Decision {
  return decide({
    operation: 'CREATE',
    namespace: c.namespace,
    pod: JSON.parse(JSON.stringify(pod)) as Pod,
    requester,
    namespaceFacts: { name: c.namespace, labels: NAMESPACES[c.namespace] ?? {} },
    policy,
    // The webhook is down: nothing mutates the pod, so the validating view of the decision applies.
    mutate: false,
  });
}

function outcomeOf(d: Decision): Outcome {
  if (!d.allowed) return 'deny';
  if (d.violations.length === 0) return 'admit';
  return d.mode === 'warn' ? 'warn' : 'audit';
}

interface AuditEvent {
  stage: string;
  verb: string;
  objectRef?: { name?: string; namespace?: string; resource?: string };
  annotations?: Record<string, string>;
}

describe('the generated ValidatingAdmissionPolicy with the webhook down', { skip: bins.skip ?? false }, () => {
  let cluster: Cluster;
  let core: k8s.CoreV1Api;
  let policy: Policy;
  let auditDir: string;
  let auditLog: string;
  const t0 = Date.now();
  const phase = (name: string, since = t0) => process.stderr.write(`[e2e] phase ${name}: ${((Date.now() - since) / 1000).toFixed(1)}s\n`);

  const auditEvents = (): AuditEvent[] =>
    readFileSync(auditLog, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as AuditEvent);
  /** The audit annotations of the completed create of pod `name` in `namespace`, once written. */
  async function auditAnnotationsOf(namespace: string, name: string): Promise<Record<string, string>> {
    let found: AuditEvent | undefined;
    await waitFor(async () => {
      found = auditEvents().find(
        (e) =>
          e.stage === 'ResponseComplete' &&
          e.verb === 'create' &&
          e.objectRef?.resource === 'pods' &&
          e.objectRef.namespace === namespace &&
          e.objectRef.name === name,
      );
      return found !== undefined;
    }, 10_000);
    return found!.annotations ?? {};
  }

  before(
    async () => {
      const parsed = parsePolicy(POLICY, { webhookNamespace: WEBHOOK_NAMESPACE });
      assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.error));
      policy = parsed.value;

      // Audit logging, to see the audit-mode failures and the webhook failing open.
      auditDir = mkdtempSync(join(tmpdir(), 'sandbox-admission-vap-audit-'));
      auditLog = join(auditDir, 'audit.log');
      const auditPolicy = join(auditDir, 'audit-policy.yaml');
      writeFileSync(
        auditPolicy,
        'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived, ResponseStarted]\nrules:\n  - level: Metadata\n    resources: [{group: "", resources: [pods]}]\n  - level: None\n',
      );
      cluster = await startCluster({
        binaries: bins.binaries!,
        extraApiserverArgs: [`--audit-policy-file=${auditPolicy}`, `--audit-log-path=${auditLog}`, '--audit-log-mode=blocking'],
      });
      core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
      const objects = k8s.KubernetesObjectApi.makeApiClient(cluster.kubeConfig);
      const tSetup = Date.now();

      for (const rc of readManifests('manifests/base/runtime-classes.yaml')) await objects.create(rc as k8s.KubernetesObject);
      // Clusters often define a class for the default runtime; without it the RuntimeClass plugin refuses first.
      await cluster.kubeConfig.makeApiClient(k8s.NodeV1Api).createRuntimeClass({ body: { metadata: { name: 'runc' }, handler: 'runc' } });
      for (const [name, labels] of Object.entries(NAMESPACES)) await createNamespace(cluster.kubeConfig, name, labels);
      for (const namespace of Object.keys(NAMESPACES))
        await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'builder-1' } } });

      // The webhook is down and fails open: the project's own configuration, Ignore, a port where nothing listens.
      const dead = renderMutatingWebhook(`https://127.0.0.1:${await freePort()}`, cluster.caPem) as {
        webhooks: Array<Record<string, unknown>>;
      };
      for (const webhook of dead.webhooks) webhook.failurePolicy = 'Ignore';
      await objects.create(dead as unknown as k8s.KubernetesObject);

      // Exactly what `sandbox-admission render vap --policy <file>` prints, applied as kubectl would.
      const rendered = renderVapText(POLICY, { webhookNamespace: WEBHOOK_NAMESPACE, output: 'yaml' });
      assert.ok(rendered.ok);
      for (const doc of parseAllDocuments(rendered.text) as Array<{ toJS(): unknown }>)
        await objects.create(doc.toJS() as k8s.KubernetesObject);

      // Policies and bindings act once the API server's informers have them: poll each mode with dry-run creates.
      let probe = 0;
      await waitFor(async () => !(await tryCreate(core, 'apps', podOf(`probe-${probe++}`, UNTRUSTED))).allowed);
      await waitFor(async () => (await tryCreate(core, 'ns-kata-warn', podOf(`probe-${probe++}`))).warnings.length > 0);
      await waitFor(async () => {
        const name = `probe-${probe++}`;
        await tryCreate(core, 'ns-audit', podOf(name));
        return Object.keys(await auditAnnotationsOf('ns-audit', name)).some((k) => k.startsWith('validation.policy.admission.k8s.io/'));
      });
      phase('vap-setup', tSetup);
    },
    { timeout: 300_000 },
  );

  after(async () => {
    await cluster?.stop();
    if (auditDir) rmSync(auditDir, { recursive: true, force: true });
    phase('vap-suite');
  });

  it('1. the API server accepted one policy and one binding per mode, and the checked-in manifests too', async () => {
    const admission = cluster.kubeConfig.makeApiClient(k8s.AdmissionregistrationV1Api);
    const policies = await admission.listValidatingAdmissionPolicy();
    assert.deepEqual(policies.items.map((p) => p.metadata?.name).sort(), [
      'sandbox-admission-audit',
      'sandbox-admission-enforce',
      'sandbox-admission-runtime-class-audit',
      'sandbox-admission-runtime-class-enforce',
      'sandbox-admission-runtime-class-warn',
      'sandbox-admission-runtime-classes',
      'sandbox-admission-warn',
    ]);
    for (const p of policies.items)
      assert.equal(p.status?.typeChecking?.expressionWarnings?.length ?? 0, 0, `type-check warnings on ${p.metadata?.name}`);
    const bindings = await admission.listValidatingAdmissionPolicyBinding();
    assert.deepEqual(Object.fromEntries(bindings.items.map((b) => [b.metadata?.name, b.spec?.validationActions])), {
      'sandbox-admission-enforce': ['Deny'],
      'sandbox-admission-warn': ['Warn', 'Audit'],
      'sandbox-admission-audit': ['Audit'],
      'sandbox-admission-runtime-class-enforce': ['Deny'],
      'sandbox-admission-runtime-class-warn': ['Warn', 'Audit'],
      'sandbox-admission-runtime-class-audit': ['Audit'],
      'sandbox-admission-runtime-classes': ['Deny'],
    });
    // The shipped manifests compile in this API server (dry-run, renamed so they do not collide).
    const objects = k8s.KubernetesObjectApi.makeApiClient(cluster.kubeConfig);
    for (const [prefix, file] of [
      ['shipped-', 'manifests/admission-policy/validating-admission-policy.yaml'],
      ['shipped-kata-', 'manifests/overlays/kata/validating-admission-policy.yaml'],
    ] as const) {
      for (const doc of readManifests(file)) {
        const meta = doc.metadata as { name: string };
        meta.name = `${prefix}${meta.name}`;
        if (doc.kind === 'ValidatingAdmissionPolicyBinding')
          (doc.spec as { policyName: string }).policyName = `${prefix}${(doc.spec as { policyName: string }).policyName}`;
        await objects.create(doc as k8s.KubernetesObject, undefined, 'All');
      }
    }
  });

  /**
   * Each case through decide() and, as a dry-run create, through the API server; the API server must give the
   * same outcome with the same message (deny), warning (warn) or audit entry (audit), and, for cases with a
   * hand-written expectation, both must meet it. Returns every disagreement.
   */
  async function compareWithDecide(cases: readonly Case[], prefix: string): Promise<string[]> {
    const mismatches: string[] = [];
    const logged: Array<{ c: Case; name: string; label: string; decision: Decision }> = [];
    for (const [i, c] of cases.entries()) {
      const name = `${prefix}-${i}`;
      const pod = podOf(name, c.labels, c.spec);
      const decision = decideFor(policy, c, pod);
      const outcome = outcomeOf(decision);
      const answer = await tryCreate(core, c.namespace, pod);
      const label = `${name} ${c.what} (${c.namespace})`;
      if (c.expect !== undefined && outcome !== c.expect) mismatches.push(`${label}: decide() says ${outcome}, the table ${c.expect}`);
      if (c.expect !== undefined && decision.rule !== c.rule)
        mismatches.push(`${label}: decide() picked ${decision.rule ?? 'no rule'}, the table ${c.rule ?? 'no rule'}`);
      const summary = decision.violations.map((v) => v.message).join('; ');
      const ours = answer.warnings.filter((w) => w.includes("ValidatingAdmissionPolicy 'sandbox-admission-"));
      if (outcome === 'deny') {
        if (answer.allowed) mismatches.push(`${label}: the API server admitted it; decide(): ${decision.message}`);
        else if (
          !answer.message.endsWith(
            `ValidatingAdmissionPolicy 'sandbox-admission-enforce' with binding 'sandbox-admission-enforce' denied request: ${decision.message ?? '?'}`,
          )
        ) {
          mismatches.push(`${label}: messages differ\n  api:    ${answer.message}\n  decide: ${decision.message}`);
        }
      } else if (!answer.allowed) {
        mismatches.push(`${label}: refused: ${answer.message}; decide() says ${outcome}`);
      } else if (outcome === 'warn') {
        if (ours.length !== 1 || !ours[0]!.endsWith(`: sandbox-admission (warn mode, admitted unchanged): ${summary}`)) {
          mismatches.push(
            `${label}: warnings differ\n  api:    ${JSON.stringify(answer.warnings)}\n  decide: ${JSON.stringify(decision.warnings)}`,
          );
        }
      } else if (ours.length > 0) {
        mismatches.push(`${label}: unexpected warnings ${JSON.stringify(ours)}; decide() says ${outcome}`);
      }
      if (outcome === 'admit' || outcome === 'audit') logged.push({ c, name, label, decision });
    }
    // Audit mode leaves its trace in the audit log only; an admitted pod leaves none.
    for (const { c, name, label, decision } of logged) {
      const annotations = await auditAnnotationsOf(c.namespace, name);
      const failures = JSON.parse(annotations['validation.policy.admission.k8s.io/validation_failure'] ?? '[]') as Array<{
        message: string;
        policy: string;
      }>;
      const expected =
        outcomeOf(decision) === 'audit'
          ? [`sandbox-admission-audit: sandbox-admission (audit mode, admitted unchanged): ${decision.auditAnnotations.violations}`]
          : [];
      const actual = failures.map((f) => `${f.policy}: ${f.message}`);
      if (JSON.stringify(actual) !== JSON.stringify(expected))
        mismatches.push(`${label}: audit log differs\n  api:    ${JSON.stringify(actual)}\n  decide: ${JSON.stringify(expected)}`);
    }
    return mismatches;
  }

  it('2. every case of the table: the API server decides as decide() does, and as the table says', async () => {
    assert.deepEqual(await compareWithDecide(CASES, 'case'), []);
  });

  it('2b. 150 generated pods (fixed seed): the API server decides as decide() does', async () => {
    const cases = fc.sample(arbitraryCase, { seed: 20260505, numRuns: 150 });
    const outcomes: Record<string, number> = {};
    for (const c of cases) {
      const outcome = outcomeOf(decideFor(policy, c, podOf('x', c.labels, c.spec)));
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    // The sample must exercise every outcome, or it proves little.
    for (const outcome of ['deny', 'warn', 'audit', 'admit'])
      assert.ok((outcomes[outcome] ?? 0) >= 5, `only ${outcomes[outcome] ?? 0} generated ${outcome} cases: ${JSON.stringify(outcomes)}`);
    assert.deepEqual(await compareWithDecide(cases, 'random'), []);
  });

  it('3. a fail-open outage never blocks ungoverned pods, and no governed pod gets in without a sandbox', async () => {
    // Real creates, stored in etcd.
    for (const [namespace, labels] of [
      ['apps', {}],
      ['team-trusted', {}],
      ['ops', UNTRUSTED],
      ['imgs', {}],
    ] as const) {
      const answer = await tryCreate(
        core,
        namespace,
        podOf('ungoverned', labels, namespace === 'imgs' ? image('registry.corp.example/app:2') : {}),
        false,
      );
      assert.ok(answer.allowed, `${namespace}: ${answer.message}`);
      const stored = await core.readNamespacedPod({ namespace, name: 'ungoverned' });
      assert.equal(stored.spec?.runtimeClassName, undefined);
    }
    // The webhook really was called and failed open (not skipped by a selector).
    const annotations = await auditAnnotationsOf('apps', 'ungoverned');
    assert.ok(
      Object.keys(annotations).some((k) => k.startsWith('failed-open.mutation.webhook.admission.k8s.io/')),
      JSON.stringify(annotations),
    );

    const refused = await tryCreate(core, 'apps', podOf('governed', UNTRUSTED), false);
    assert.equal(refused.allowed, false);
    assert.match(
      refused.message,
      /pods "governed" is forbidden: ValidatingAdmissionPolicy 'sandbox-admission-enforce' with binding 'sandbox-admission-enforce' denied request: sandbox-admission denied this pod: rule "untrusted-apps" requires a sandbox runtime and the pod names none; set spec\.runtimeClassName to one of: gvisor, kata$/,
    );
    await assert.rejects(core.readNamespacedPod({ namespace: 'apps', name: 'governed' }));

    for (const [namespace, runtimeClassName] of [
      ['apps', 'gvisor'],
      ['ns-gvisor', 'kata'],
      ['team-a', 'kata'],
    ] as const) {
      const answer = await tryCreate(core, namespace, podOf('sandboxed', UNTRUSTED, { runtimeClassName }), false);
      assert.ok(answer.allowed, `${namespace}: ${answer.message}`);
      assert.equal((await core.readNamespacedPod({ namespace, name: 'sandboxed' })).spec?.runtimeClassName, runtimeClassName);
    }
  });

  it('4. mirror pods are excluded only when a node creates them', async () => {
    const nodeConfig = kubeletConfig(cluster, 'node-1');
    const mirror = (name: string) => mirrorPod(name, 'node-1');
    const nodeUser = { username: 'system:node:node-1', groups: ['system:nodes', 'system:authenticated'] };
    const c = { namespace: 'ns-gvisor' };

    const byNode = await tryCreate(nodeConfig.makeApiClient(k8s.CoreV1Api), c.namespace, mirror('static-web-node-1'));
    assert.equal(decideFor(policy, c, mirror('static-web-node-1'), nodeUser).source, 'mirror-pod');
    assert.ok(byNode.allowed, byNode.message);

    // The same annotation from anyone else proves nothing.
    const byAdmin = await tryCreate(core, c.namespace, mirror('static-web-forged'));
    const decision = decideFor(policy, c, mirror('static-web-forged'));
    assert.equal(decision.allowed, false);
    assert.equal(byAdmin.allowed, false);
    assert.ok(byAdmin.message.endsWith(decision.message!), byAdmin.message);
  });

  it('5. a sandbox class turned into runc during an outage: refused, and pods on such a class refused too (issue 10, item 4)', async () => {
    const node = cluster.kubeConfig.makeApiClient(k8s.NodeV1Api);
    const admission = cluster.kubeConfig.makeApiClient(k8s.AdmissionregistrationV1Api);
    const recreate = async (handler: string) => {
      await node.deleteRuntimeClass({ name: 'gvisor' });
      await waitFor(async () => !(await node.listRuntimeClass()).items.some((rc) => rc.metadata?.name === 'gvisor'));
      return node.createRuntimeClass({ body: { metadata: { name: 'gvisor' }, handler } });
    };
    // The attack: with the webhook down, an admin re-creates gvisor with handler runc.
    assert.match(
      await rejection(recreate('runc')),
      /sandbox-admission denied this RuntimeClass: "gvisor" is the runtimeClassName of runtime profile "gvisor", and handler "runc" runs containers on the host kernel/,
    );
    // A class that was already so (made before the policies were installed): the pod check refuses governed pods.
    const binding = await admission.readValidatingAdmissionPolicyBinding({ name: 'sandbox-admission-runtime-classes' });
    await admission.deleteValidatingAdmissionPolicyBinding({ name: 'sandbox-admission-runtime-classes' });
    await waitFor(async () => {
      await node.createRuntimeClass({ body: { metadata: { name: 'gvisor' }, handler: 'runc' } });
      return true;
    });
    await admission.createValidatingAdmissionPolicyBinding({
      body: {
        metadata: { name: binding.metadata!.name!, labels: binding.metadata!.labels!, annotations: binding.metadata!.annotations! },
        spec: binding.spec!,
      },
    });
    await waitFor(
      async () => !(await tryCreate(core, 'apps', podOf(`rc-probe-${Date.now()}`, UNTRUSTED, { runtimeClassName: 'gvisor' }))).allowed,
    );
    const refused = await tryCreate(core, 'apps', podOf('on-runc-gvisor', UNTRUSTED, { runtimeClassName: 'gvisor' }));
    assert.equal(refused.allowed, false);
    assert.match(
      refused.message,
      /sandbox-admission denied this pod: RuntimeClass "gvisor" uses handler "runc", which runs containers on the host kernel and is not a sandbox/,
    );
    // The same pod on a real sandbox class, and an ungoverned pod on the runc-handled class, are admitted.
    assert.ok((await tryCreate(core, 'apps', podOf('on-kata', UNTRUSTED, { runtimeClassName: 'kata' }))).allowed);
    assert.ok((await tryCreate(core, 'apps', podOf('ungoverned-on-gvisor', {}, { runtimeClassName: 'gvisor' }))).allowed);
    // Put gvisor back as it was (handler runsc): its pods are admitted again.
    await waitFor(async () => {
      await recreate('runsc');
      return true;
    });
    await waitFor(
      async () => (await tryCreate(core, 'apps', podOf(`rc-back-${Date.now()}`, UNTRUSTED, { runtimeClassName: 'gvisor' }))).allowed,
    );
  });

  it('6. with the webhook down, kubectl set image cannot make a runc pod governed; a sandboxed pod may change (issue 10, item 1)', async () => {
    const kubectl = (...args: string[]) =>
      spawnSync(bins.binaries!.kubectl, ['--kubeconfig', cluster.kubeconfigPath, ...args], { encoding: 'utf8', timeout: 60_000 });
    const corp = (name: string, spec: Partial<k8s.V1PodSpec> = {}) =>
      podOf(name, {}, { containers: [{ name: 'app', image: 'registry.corp.example/app:1' }], ...spec });
    await core.createNamespacedPod({ namespace: 'imgs', body: corp('corp-runc') });
    const attack = kubectl('-n', 'imgs', 'set', 'image', 'pod/corp-runc', 'app=docker.io/evil/app:1');
    assert.notEqual(attack.status, 0, attack.stdout);
    // The refusal is the enforce policy's, in the decision's words.
    const decision = decideFor(
      policy,
      { namespace: 'imgs' },
      podOf('corp-runc', {}, { containers: [{ name: 'app', image: 'docker.io/evil/app:1' }] }),
    );
    assert.equal(decision.allowed, false);
    assert.match(attack.stderr, /ValidatingAdmissionPolicy 'sandbox-admission-enforce'/);
    assert.ok(attack.stderr.includes(decision.message!), attack.stderr);
    // An unrelated image, and the same attack on a sandboxed pod, are allowed.
    assert.equal(kubectl('-n', 'imgs', 'set', 'image', 'pod/corp-runc', 'app=registry.corp.example/app:2').status, 0);
    await core.createNamespacedPod({ namespace: 'imgs', body: corp('corp-gvisor', { runtimeClassName: 'gvisor' }) });
    const sandboxed = kubectl('-n', 'imgs', 'set', 'image', 'pod/corp-gvisor', 'app=docker.io/evil/app:1');
    assert.equal(sandboxed.status, 0, sandboxed.stderr);
  });
});
