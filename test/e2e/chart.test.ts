// charts/sandbox-admission, with the real helm (built from its Go module, test/e2e/harness/build-tools.sh):
// `helm lint` and `helm template` of every values example, each compared object by object with the kustomize
// flavour it stands for (so the chart and manifests/ cannot drift apart), the chart's refusals of inconsistent
// values, and `helm install`, `helm upgrade` (another policy, fewer replicas) and `helm uninstall` against a real
// kube-apiserver, after which nothing of the project is left in the cluster but the SandboxPolicy CRD (crds/: Helm
// installs it, never upgrades or deletes it) and the objects of that kind, gone with the CRD once the user deletes it.
//
// Nothing runs pods here, so the install is checked by its objects, never by a rollout (no --wait). The API
// server routes webhook calls to the Service's endpoints (--enable-aggregator-routing), of which there are none:
// a call the upgrade triggers (the Deployment update reaches the fail-open workloads webhook) fails at once
// instead of dialling a ClusterIP off loopback.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { renderVapText } from '../../src/cli/render-vap-command.ts';
import { resolveBinaries } from './harness/binaries.ts';
import { createNamespace, startCluster, type Cluster } from './harness/cluster.ts';
import { renderKustomization, type Manifest } from './harness/manifests.ts';
import { resolveTools } from './harness/tools.ts';

const bins = resolveBinaries();
const tools = resolveTools(['helm']);
const skip = bins.skip ?? tools.skip ?? false;
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CHART = join(REPO, 'charts/sandbox-admission');
const NS = 'sandbox-admission';
const LABEL = 'app.kubernetes.io/name=sandbox-admission';

/** Each values example and the kustomize flavour (directory under manifests/) it must render the same objects as. */
const EXAMPLES: Record<string, string> = {
  'default.yaml': '.',
  'fail-closed.yaml': 'base',
  'cert-manager.yaml': 'overlays/cert-manager',
  'gke-sandbox.yaml': 'overlays/gke-sandbox',
  'kata.yaml': 'overlays/kata',
  'native.yaml': 'overlays/native',
};
/** Labels only Helm puts on: its bookkeeping, not part of what the objects do. */
const HELM_LABELS = ['app.kubernetes.io/instance', 'app.kubernetes.io/managed-by', 'app.kubernetes.io/version', 'helm.sh/chart'];

function run(cmd: string, args: string[], opts: { env?: Record<string, string>; input?: string } = {}) {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    input: opts.input,
    timeout: 180_000,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, ...opts.env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, error: r.error };
}

/** helm with its state (config, cache, data) in a temp dir: nothing read from or written to the user's ~/.config/helm. */
function helmRunner(home: string) {
  const env = { HELM_CONFIG_HOME: join(home, 'config'), HELM_CACHE_HOME: join(home, 'cache'), HELM_DATA_HOME: join(home, 'data') };
  return (args: string[]) => run(tools.paths!.helm, args, { env });
}

const objectsOf = (text: string): Manifest[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);

const id = (o: Manifest) => `${o.kind}/${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name}`;
const byId = (objects: Manifest[]) => new Map(objects.map((o) => [id(o), o]));

function withoutHelmLabels(o: Manifest): Manifest {
  const copy = structuredClone(o);
  const labels = copy.metadata?.labels;
  if (labels) for (const k of HELM_LABELS) delete labels[k];
  return copy;
}

describe('charts/sandbox-admission: helm lint and template, object for object the kustomize flavours', { skip }, () => {
  let home: string;
  let helm: ReturnType<typeof helmRunner>;
  before(() => {
    home = mkdtempSync(join(tmpdir(), 'sandbox-admission-helm-'));
    helm = helmRunner(home);
  });
  after(() => rmSync(home, { recursive: true, force: true }));

  // --include-crds: the SandboxPolicy CRD from crds/ too, which kustomize renders with base.
  const template = (...args: string[]) => helm(['template', 'sandbox-admission', CHART, '--namespace', NS, '--include-crds', ...args]);

  it('every values example is listed here with its flavour', () => {
    assert.deepEqual(readdirSync(join(CHART, 'examples')).sort(), Object.keys(EXAMPLES).sort());
  });

  it('helm lint --strict passes with every values example', () => {
    for (const example of Object.keys(EXAMPLES)) {
      const r = helm(['lint', '--strict', CHART, '--namespace', NS, '-f', join(CHART, 'examples', example)]);
      assert.equal(r.status, 0, `helm lint -f examples/${example}:\n${r.stdout}${r.stderr}`);
    }
  });

  for (const [example, flavour] of Object.entries(EXAMPLES)) {
    const flavourName = flavour === '.' ? 'manifests/' : `manifests/${flavour}`;
    it(`helm template -f examples/${example} renders the objects of kubectl kustomize ${flavourName}`, () => {
      const r = template('-f', join(CHART, 'examples', example));
      assert.equal(r.status, 0, `helm template -f examples/${example}:\n${r.stderr}`);
      const chart = objectsOf(r.stdout);
      const ids = chart.map(id);
      assert.equal(new Set(ids).size, ids.length, 'no object twice');
      assert.ok(
        chart.every((o) => o.metadata?.labels?.['app.kubernetes.io/name'] === 'sandbox-admission'),
        'every object carries the name label (uninstall checks and `kubectl get -l` find them all)',
      );
      // The one intended difference: Helm keeps the release in the namespace, so the user creates it (values.yaml).
      const kustomize = renderKustomization(bins.binaries!.kubectl, flavour);
      assert.deepEqual(
        kustomize.filter((o) => o.kind === 'Namespace').map(id),
        [`Namespace/${NS}`],
        'kustomize creates the namespace, the chart does not',
      );
      assert.deepEqual(byId(chart.map(withoutHelmLabels)), byId(kustomize.filter((o) => o.kind !== 'Namespace')));
    });
  }

  /** A value and the kustomize component it stands for, each added to the default (manifests/). */
  const COMPONENTS: Array<{ set: string; component: string }> = [
    { set: 'monitoring.enabled=true', component: 'monitoring' },
    { set: 'policySource=crd', component: 'policy-crd' },
  ];
  for (const { set, component } of COMPONENTS) {
    it(`--set ${set} adds manifests/components/${component}, as kustomize does with that component`, () => {
      // manifests/ plus the component, through a kustomization of its own outside the tree (relative paths, as kustomize wants).
      const dir = mkdtempSync(join(tmpdir(), 'sandbox-admission-kustomize-'));
      try {
        writeFileSync(
          join(dir, 'kustomization.yaml'),
          `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [${relative(dir, join(REPO, 'manifests'))}]\ncomponents: [${relative(dir, join(REPO, 'manifests/components', component))}]\n`,
        );
        const kustomize = renderKustomization(bins.binaries!.kubectl, relative(join(REPO, 'manifests'), dir));
        const r = template('--set', set);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(byId(objectsOf(r.stdout).map(withoutHelmLabels)), byId(kustomize.filter((o) => o.kind !== 'Namespace')));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('the leader manages only the kinds asked for: no flag and no write grant for the others', () => {
    const r = template('-f', join(CHART, 'examples', 'native.yaml'), '--set', 'mutatingAdmissionPolicy.managed=false');
    assert.equal(r.status, 0, r.stderr);
    const objects = objectsOf(r.stdout);
    const deployment = objects.find((o) => o.kind === 'Deployment') as unknown as {
      spec: { template: { spec: { containers: Array<{ args: string[] }> } } };
    };
    assert.deepEqual(
      deployment.spec.template.spec.containers[0]!.args.filter((a) => a.startsWith('--manage-admission-policies')),
      ['--manage-admission-policies=validating'],
    );
    const roles = objects.filter((o) => o.kind === 'ClusterRole').map((o) => o.metadata?.name);
    assert.ok(roles.includes('sandbox-admission-validating-admission-policies'));
    assert.ok(!roles.includes('sandbox-admission-mutating-admission-policies'));
  });

  it('monitoring with cert-manager: the ServiceMonitor verifies with the CA cert-manager writes', () => {
    const r = template('-f', join(CHART, 'examples', 'cert-manager.yaml'), '--set', 'monitoring.enabled=true');
    assert.equal(r.status, 0, r.stderr);
    const monitor = objectsOf(r.stdout).find((o) => o.kind === 'ServiceMonitor') as unknown as {
      spec: { endpoints: Array<{ tlsConfig: { ca: { secret: { name: string; key: string } } } }> };
    };
    assert.deepEqual(monitor.spec.endpoints[0]!.tlsConfig.ca.secret, { name: 'sandbox-admission-serving', key: 'ca.crt' });
  });

  it('refuses values that would install inconsistent objects, saying what to do', () => {
    const dir = mkdtempSync(join(home, 'values-'));
    const kataPolicy = join(REPO, 'manifests/overlays/kata/policy.yaml');
    const cases: Array<{ args: string[]; message: RegExp }> = [
      // Another policy with the example's generated admission policies: they would refuse what it sandboxes.
      {
        args: ['--set-file', `policy=${kataPolicy}`],
        message:
          /validatingAdmissionPolicy\.manifests: the policy is not the chart's example.*render vap --policy my-policy\.yaml --webhook-namespace sandbox-admission/,
      },
      // Generated from another policy than the one in force.
      {
        args: [
          '--set-file',
          `validatingAdmissionPolicy.manifests=${join(REPO, 'manifests/overlays/kata/validating-admission-policy.yaml')}`,
        ],
        message:
          /ValidatingAdmissionPolicy\/sandbox-admission-enforce was generated from policy "kata", not from the policy in force "example"/,
      },
      // Failing open with nothing standing in for the webhook.
      {
        args: ['--set', 'validatingAdmissionPolicy.enabled=false', '--set', 'podWebhooks.failurePolicy=Ignore'],
        message: /podWebhooks\.failurePolicy: Ignore needs validatingAdmissionPolicy\.enabled=true/,
      },
      { args: ['--set', 'podWebhooks.failurePolicy=Maybe'], message: /"Maybe" is neither Ignore nor Fail/ },
      { args: ['--set', 'certificates.mode=vault'], message: /certificates\.mode: "vault" is neither self-managed nor cert-manager/ },
      {
        args: [
          '--set',
          'validatingAdmissionPolicy.enabled=false',
          '--set',
          'mutatingAdmissionPolicy.enabled=true',
          '--set',
          'podWebhooks.failurePolicy=Fail',
        ],
        message: /mutatingAdmissionPolicy\.enabled needs validatingAdmissionPolicy\.enabled/,
      },
      { args: ['--set', 'policy=just text'], message: /policy: not a SandboxPolicy/ },
      { args: ['--set', 'policySource=configmap'], message: /policySource: "configmap" is neither file nor crd/ },
    ];
    for (const { args, message } of cases) {
      const r = template(...args);
      assert.notEqual(r.status, 0, `helm template ${args.join(' ')} should fail`);
      assert.match(r.stderr, message, `helm template ${args.join(' ')}`);
    }
    // The bundled files were generated for the namespace sandbox-admission; another namespace needs its own.
    const r = helm(['template', 'x', CHART, '--namespace', 'elsewhere']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /generated for the namespace sandbox-admission; for elsewhere run npx sandbox-admission render vap/);
    rmSync(dir, { recursive: true, force: true });
  });

  it('the exempt namespaces come from the policy: the webhooks skip what the policy and its admission policies exempt', () => {
    const policy = readFileSync(join(CHART, 'files/policy.yaml'), 'utf8').replace(
      '# exemptNamespaces: [kube-system, kube-public, kube-node-lease]',
      'exemptNamespaces: [kube-system, monitoring]',
    );
    const dir = mkdtempSync(join(home, 'exempt-'));
    writeFileSync(join(dir, 'policy.yaml'), policy);
    const vap = renderVapText(policy, { webhookNamespace: NS, output: 'yaml' });
    assert.ok(vap.ok);
    writeFileSync(join(dir, 'vap.yaml'), vap.text);
    const r = template(
      '--set-file',
      `policy=${join(dir, 'policy.yaml')}`,
      '--set-file',
      `validatingAdmissionPolicy.manifests=${join(dir, 'vap.yaml')}`,
    );
    assert.equal(r.status, 0, r.stderr);
    const objects = objectsOf(r.stdout);
    const selectors = objects
      .filter(
        (o) =>
          o.kind === 'MutatingWebhookConfiguration' ||
          o.kind === 'ValidatingWebhookConfiguration' ||
          o.kind === 'ValidatingAdmissionPolicy',
      )
      .flatMap((o) => {
        const spec = o as {
          webhooks?: Array<{ namespaceSelector?: unknown }>;
          spec?: { matchConstraints?: { namespaceSelector?: unknown } };
        };
        return [...(spec.webhooks ?? []).map((w) => w.namespaceSelector), spec.spec?.matchConstraints?.namespaceSelector];
      })
      .filter((s) => s !== undefined);
    assert.ok(selectors.length >= 5);
    for (const s of selectors) {
      assert.deepEqual(s, {
        matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'monitoring', NS] }],
      });
    }
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('charts/sandbox-admission: helm install, upgrade and uninstall against kube-apiserver', { skip }, () => {
  let cluster: Cluster;
  let home: string;
  let helm: ReturnType<typeof helmRunner>;
  const kubectl = (...args: string[]) => {
    const r = run(bins.binaries!.kubectl, ['--kubeconfig', cluster.kubeconfigPath, ...args]);
    assert.equal(r.status, 0, `kubectl ${args.join(' ')}:\n${r.stderr}`);
    return r.stdout;
  };
  const getJson = <T>(...args: string[]) => JSON.parse(kubectl('get', '-o', 'json', ...args)) as T;
  const helmIn = (...args: string[]) => helm([...args, '--kubeconfig', cluster.kubeconfigPath, '--namespace', NS]);

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'sandbox-admission-helm-'));
    helm = helmRunner(home);
    cluster = await startCluster({ binaries: bins.binaries!, extraApiserverArgs: ['--enable-aggregator-routing=true'] });
    // What values.yaml tells the user to do first.
    await createNamespace(cluster.kubeConfig, NS, { 'pod-security.kubernetes.io/enforce': 'restricted' });
  });
  after(async () => {
    await cluster?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  /** Every kind the chart creates, with any values example, plus every kind a helm release or the webhook leaves. */
  const KINDS = [
    'configmaps',
    'serviceaccounts',
    'services',
    'secrets',
    'resourcequotas',
    'deployments.apps',
    'poddisruptionbudgets.policy',
    'roles.rbac.authorization.k8s.io',
    'rolebindings.rbac.authorization.k8s.io',
    'clusterroles.rbac.authorization.k8s.io',
    'clusterrolebindings.rbac.authorization.k8s.io',
    'runtimeclasses.node.k8s.io',
    'mutatingwebhookconfigurations.admissionregistration.k8s.io',
    'validatingwebhookconfigurations.admissionregistration.k8s.io',
    'validatingadmissionpolicies.admissionregistration.k8s.io',
    'validatingadmissionpolicybindings.admissionregistration.k8s.io',
    'mutatingadmissionpolicies.admissionregistration.k8s.io',
    'mutatingadmissionpolicybindings.admissionregistration.k8s.io',
    'leases.coordination.k8s.io',
    'customresourcedefinitions.apiextensions.k8s.io',
  ];
  const CRD = 'customresourcedefinition.apiextensions.k8s.io/sandboxpolicies.sandbox-admission.io';
  /** Every object of those kinds that is the project's: by label, by name, or a Helm release record. */
  function projectObjects(): string[] {
    const names = kubectl('get', KINDS.join(','), '--all-namespaces', '-o', 'name').split('\n');
    const labelled = kubectl('get', KINDS.join(','), '--all-namespaces', '-l', LABEL, '-o', 'name').split('\n');
    const ours = (n: string) => /\/(sandbox-admission|gvisor$|kata$|sh\.helm\.release)/.test(n);
    return [...new Set([...names.filter(ours), ...labelled.filter((n) => n !== '')])].sort();
  }

  it('the chart covers every kind it renders, with every values example', () => {
    const kinds = new Set<string>();
    for (const example of Object.keys(EXAMPLES)) {
      const r = helm(['template', 'sandbox-admission', CHART, '--namespace', NS, '--include-crds', '-f', join(CHART, 'examples', example)]);
      assert.equal(r.status, 0, r.stderr);
      for (const o of objectsOf(r.stdout)) kinds.add(`${o.kind}:${o.apiVersion}`);
    }
    const plural = (k: string) => {
      const [kind, apiVersion] = k.split(':') as [string, string];
      const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
      const lower = kind.toLowerCase();
      const name = lower.endsWith('y') ? `${lower.slice(0, -1)}ies` : lower.endsWith('s') ? `${lower}es` : `${lower}s`;
      return group ? `${name}.${group}` : name;
    };
    // cert-manager.io kinds have no CRDs in this cluster; every other kind is listed for the uninstall check.
    const missing = [...kinds]
      .filter((k) => !k.includes('cert-manager.io/'))
      .map(plural)
      .filter((p) => !KINDS.includes(p));
    assert.deepEqual(missing, []);
  });

  it('install, upgrade with another policy and fewer replicas, uninstall: nothing of the project is left', () => {
    assert.deepEqual(projectObjects(), [], 'a clean cluster to begin with');

    // The chart as the release workflow pushes it: packaged (.helmignore applied, files/ inside).
    let r = helm(['package', CHART, '--destination', home]);
    assert.equal(r.status, 0, `helm package:\n${r.stderr}`);
    const packaged = join(home, 'sandbox-admission-0.1.0.tgz');

    // install: the defaults, i.e. manifests/.
    r = helmIn('install', 'sandbox-admission', packaged);
    assert.equal(r.status, 0, `helm install:\n${r.stdout}${r.stderr}`);
    let deployment = getJson<{ spec: { replicas: number } }>('-n', NS, 'deployment', 'sandbox-admission');
    assert.equal(deployment.spec.replicas, 3);
    let configMap = getJson<{ data: Record<string, string> }>('-n', NS, 'configmap', 'sandbox-admission-policy');
    assert.equal(configMap.data['policy.yaml'], readFileSync(join(CHART, 'files/policy.yaml'), 'utf8'));
    let vap = getJson<{ metadata: { annotations: Record<string, string> } }>('validatingadmissionpolicy', 'sandbox-admission-enforce');
    assert.equal(vap.metadata.annotations['sandbox-admission.io/policy'], 'example');
    const webhooks = getJson<{ webhooks: Array<{ name: string; failurePolicy: string }> }>(
      'mutatingwebhookconfiguration',
      'sandbox-admission',
    );
    assert.deepEqual(
      webhooks.webhooks.map((w) => [w.name, w.failurePolicy]),
      [['mutate.sandbox-admission.io', 'Ignore']],
    );
    kubectl('get', 'runtimeclass', 'gvisor', 'kata');
    const installed = projectObjects();
    assert.ok(installed.includes(`secret/sh.helm.release.v1.sandbox-admission.v1`), installed.join('\n'));
    // The CRD from crds/, served: the API server takes the example policy as a SandboxPolicy object (policySource=crd).
    assert.ok(installed.includes(CRD), installed.join('\n'));
    kubectl('wait', '--for=condition=Established', '--timeout=60s', CRD);
    kubectl('apply', '--server-side', '-f', join(CHART, 'files/policy.yaml'));

    // upgrade: the kata flavour's policy with its generated ValidatingAdmissionPolicies, kata-deploy's classes, 2 replicas.
    r = helmIn(
      'upgrade',
      'sandbox-admission',
      packaged,
      '--set',
      'replicas=2',
      '--set',
      'runtimeClasses.kata.create=false',
      '--set-file',
      `policy=${join(REPO, 'manifests/overlays/kata/policy.yaml')}`,
      '--set-file',
      `validatingAdmissionPolicy.manifests=${join(REPO, 'manifests/overlays/kata/validating-admission-policy.yaml')}`,
    );
    assert.equal(r.status, 0, `helm upgrade:\n${r.stdout}${r.stderr}`);
    deployment = getJson('-n', NS, 'deployment', 'sandbox-admission');
    assert.equal(deployment.spec.replicas, 2);
    configMap = getJson('-n', NS, 'configmap', 'sandbox-admission-policy');
    assert.equal(configMap.data['policy.yaml'], readFileSync(join(REPO, 'manifests/overlays/kata/policy.yaml'), 'utf8'));
    vap = getJson('validatingadmissionpolicy', 'sandbox-admission-enforce');
    assert.equal(vap.metadata.annotations['sandbox-admission.io/policy'], 'kata');
    const expectedDigest = parse(
      readFileSync(join(REPO, 'manifests/overlays/kata/validating-admission-policy.yaml'), 'utf8').split('\n---\n')[0]!,
    ).metadata.annotations['sandbox-admission.io/policy-digest'];
    assert.equal(vap.metadata.annotations['sandbox-admission.io/policy-digest'], expectedDigest);
    const classes = kubectl('get', 'runtimeclasses', '-o', 'name');
    assert.match(classes, /runtimeclass\.node\.k8s\.io\/gvisor/);
    assert.doesNotMatch(classes, /\/kata$/m, 'the upgrade removed the kata RuntimeClass it no longer renders');

    // A bad upgrade is refused before anything changes, and the release stays as it was.
    r = helmIn('upgrade', 'sandbox-admission', packaged, '--set', 'certificates.mode=vault');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /certificates\.mode: "vault"/);
    assert.match(helmIn('history', 'sandbox-admission', '-o', 'json').stdout, /"revision":2,[^}]*"status":"deployed"/);

    // uninstall: every object of the release, and the release records; Helm leaves the CRD from crds/ (and with it
    // the SandboxPolicies, which deleting it would delete), as values.yaml tells the user.
    r = helmIn('uninstall', 'sandbox-admission');
    assert.equal(r.status, 0, `helm uninstall:\n${r.stdout}${r.stderr}`);
    assert.deepEqual(projectObjects(), [CRD], 'left behind after helm uninstall');
    assert.equal(kubectl('get', 'sandboxpolicies', '-o', 'name').trim(), 'sandboxpolicy.sandbox-admission.io/example');
    // What values.yaml says to run to remove it: then nothing of the project is left.
    kubectl('delete', '--wait=true', '--timeout=60s', 'customresourcedefinition', 'sandboxpolicies.sandbox-admission.io');
    assert.deepEqual(projectObjects(), [], 'left behind after deleting the CRD');
    // The namespace was the user's (created before the install), as values.yaml says.
    kubectl('get', 'namespace', NS);
  });
});
