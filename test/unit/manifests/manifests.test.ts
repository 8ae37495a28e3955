// Issue 10, item 3 and issue 14: the shipped NetworkPolicy selects the webhook's pods and opens only their admission
// port (to the API server) and metrics port (to Prometheus).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';

const read = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');

test('the network-policy component admits the API server to the admission port and Prometheus to the metrics port, nothing else', () => {
  const policy = parse(read('manifests/components/network-policy/network-policy.yaml')) as {
    metadata: { namespace: string };
    spec: {
      podSelector: { matchLabels: Record<string, string> };
      policyTypes: string[];
      ingress: Array<{ ports: Array<{ port: number; protocol: string }>; from: unknown[] }>;
    };
  };
  const deployment = parseAllDocuments(read('manifests/base/deployment.yaml'))
    .map((d) => d.toJS())
    .find((d) => d?.kind === 'Deployment') as {
    metadata: { namespace: string };
    spec: {
      template: { metadata: { labels: Record<string, string> }; spec: { containers: Array<{ ports: Array<{ containerPort: number }> }> } };
    };
  };
  // The metrics port is the monitoring component's (a JSON patch of the Deployment).
  const monitoring = parse(read('manifests/components/monitoring/kustomization.yaml')) as { patches: Array<{ patch: string }> };
  const metricsPort = monitoring.patches
    .flatMap((p) => parse(p.patch) as Array<{ path: string; value: unknown }>)
    .find((op) => op.path.endsWith('/ports/-') && (op.value as { name?: string }).name === 'metrics')!.value as {
    containerPort: number;
  };
  assert.equal(policy.metadata.namespace, deployment.metadata.namespace);
  for (const [key, value] of Object.entries(policy.spec.podSelector.matchLabels))
    assert.equal(deployment.spec.template.metadata.labels[key], value);
  assert.deepEqual(policy.spec.policyTypes, ['Ingress']);
  assert.equal(policy.spec.ingress.length, 2, 'two rules: no other port or source is opened');
  const [admission, metrics] = policy.spec.ingress;
  assert.deepEqual(admission!.ports, [{ protocol: 'TCP', port: deployment.spec.template.spec.containers[0]!.ports[0]!.containerPort }]);
  // As shipped it matches nobody, so it cannot be applied by mistake as an allow-all.
  assert.deepEqual(admission!.from, [{ ipBlock: { cidr: '192.0.2.1/32' } }]);
  assert.deepEqual(metrics!.ports, [{ protocol: 'TCP', port: metricsPort.containerPort }]);
  // Prometheus's pods in its namespace: both selectors in one entry (an AND), never the whole namespace or cluster.
  assert.deepEqual(metrics!.from, [
    {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
    },
  ]);
  assert.match(read('manifests/components/network-policy/kustomization.yaml'), /kind: Component/);
});

test('the pods.validate webhook is called for an UPDATE by the same test the decision makes (issue 10, item 1)', async () => {
  const { POD_UPDATE_CHANGES_GOVERNANCE_CEL } = await import('../../../src/decision/pod-update.ts');
  const config = parse(read('manifests/base/validating-webhook.yaml')) as {
    webhooks: Array<{
      name: string;
      rules: Array<{ operations: string[] }>;
      matchConditions?: Array<{ name: string; expression: string }>;
    }>;
  };
  const pods = config.webhooks.find((w) => w.name === 'pods.validate.sandbox-admission.io')!;
  assert.deepEqual(pods.rules[0]!.operations, ['CREATE', 'UPDATE']);
  assert.deepEqual(pods.matchConditions, [
    { name: 'create-or-image-or-label-change', expression: `${POD_UPDATE_CHANGES_GOVERNANCE_CEL}\n` },
  ]);
});
