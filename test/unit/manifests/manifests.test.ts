// Issue 10, item 3: the shipped NetworkPolicy selects the webhook's pods and opens only their admission port.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';

const read = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');

test('the network-policy component admits only its source list to the admission port of the webhook pods', () => {
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
  assert.equal(policy.metadata.namespace, deployment.metadata.namespace);
  for (const [key, value] of Object.entries(policy.spec.podSelector.matchLabels))
    assert.equal(deployment.spec.template.metadata.labels[key], value);
  assert.deepEqual(policy.spec.policyTypes, ['Ingress']);
  assert.equal(policy.spec.ingress.length, 1, 'one rule: no other port or source is opened');
  const [rule] = policy.spec.ingress;
  assert.deepEqual(rule!.ports, [{ protocol: 'TCP', port: deployment.spec.template.spec.containers[0]!.ports[0]!.containerPort }]);
  // As shipped it matches nobody, so it cannot be applied by mistake as an allow-all.
  assert.deepEqual(rule!.from, [{ ipBlock: { cidr: '192.0.2.1/32' } }]);
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
