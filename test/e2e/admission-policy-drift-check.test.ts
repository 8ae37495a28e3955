// The ValidatingAdmissionPolicies stand in for the webhook during an outage; an in-place edit of the policy
// reaches the webhook but not them. The webhook compares their policy-digest annotation with the policy it
// serves and reports a stale one in /readyz, /metrics and its log.
import * as k8s from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { renderVapText } from '../../src/cli/render-vap-command.ts';
import { waitFor } from './harness/api-assertions.ts';
import { resolveBinaries } from './harness/binaries.ts';
import { createNamespace, startCluster, type Cluster } from './harness/cluster.ts';
import { startWebhookProcess, type WebhookProcess } from './harness/webhook.ts';

const bins = resolveBinaries();
const WEBHOOK_NAMESPACE = 'sandbox-admission';
const POLICY = `apiVersion: sandbox-admission.io/v1alpha1
kind: SandboxPolicy
metadata: {name: e2e-digest}
spec:
  rules:
    - {name: untrusted-apps, match: {podSelector: {matchLabels: {app: untrusted}}}, action: sandbox, runtime: gvisor}
`;

describe('the webhook reports ValidatingAdmissionPolicies generated from another policy', { skip: bins.skip ?? false }, () => {
  let cluster: Cluster;
  let webhook: WebhookProcess;
  const generated: string[] = [];
  const readyz = async () =>
    JSON.parse((await webhook.get('/readyz')).text) as { ready: boolean; detail: { admissionPolicyStale?: string[] } };

  before(
    async () => {
      cluster = await startCluster({ binaries: bins.binaries! });
      await createNamespace(cluster.kubeConfig, WEBHOOK_NAMESPACE);
      const objects = k8s.KubernetesObjectApi.makeApiClient(cluster.kubeConfig);
      // The native flavour's MutatingAdmissionPolicy too: it carries the same digest.
      for (const kind of ['vap', 'map'] as const) {
        const rendered = renderVapText(POLICY, { webhookNamespace: WEBHOOK_NAMESPACE, output: 'yaml' }, kind);
        assert.ok(rendered.ok);
        for (const doc of parseAllDocuments(rendered.text) as Array<{ toJS(): unknown }>) {
          const object = doc.toJS() as k8s.KubernetesObject;
          await objects.create(object);
          if (object.kind === 'ValidatingAdmissionPolicy' || object.kind === 'MutatingAdmissionPolicy')
            generated.push(object.metadata!.name!);
        }
      }
      webhook = await startWebhookProcess({
        dir: cluster.dir,
        kubeconfigPath: cluster.kubeconfigPath,
        policyYaml: POLICY,
        extraArgs: ['--webhook-namespace', WEBHOOK_NAMESPACE, '--admission-policy-check-interval', '1s'],
      });
    },
    { timeout: 300_000 },
  );

  after(async () => {
    await webhook?.stop();
    await cluster?.stop();
  });

  it('agrees with the policy it was generated from, and reports it stale after an in-place edit', async () => {
    // The first check has run: it logs that the policies match.
    const match = await webhook.waitForLogLines((l) => l.msg === 'the ValidatingAdmissionPolicies match the policy in force');
    assert.equal(match.length, 1, 'the first check did not report the generated policies as matching');
    const before = await readyz();
    assert.equal(before.detail.admissionPolicyStale, undefined);
    assert.match((await webhook.get('/metrics')).text, /^sandbox_admission_admission_policy_stale 0$/m);

    // A reformatted but identical policy is not a change.
    writeFileSync(
      join(cluster.dir, 'policy.yaml'),
      `# same policy, other formatting\n${POLICY.replace('metadata: {name: e2e-digest}', 'metadata:\n  name: e2e-digest')}`,
    );
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal((await readyz()).detail.admissionPolicyStale, undefined);

    // Edit a rule in place: the webhook follows, the ValidatingAdmissionPolicies do not.
    writeFileSync(join(cluster.dir, 'policy.yaml'), POLICY.replace('runtime: gvisor', 'runtime: kata'));
    let stale: string[] | undefined;
    await waitFor(async () => {
      stale = (await readyz()).detail.admissionPolicyStale;
      return stale !== undefined;
    }, 15_000);
    assert.ok(generated.includes('sandbox-admission-sandbox') && generated.length > 1);
    assert.deepEqual(stale, [...generated].sort());
    const ready = await readyz();
    assert.equal(ready.ready, true, 'a stale admission policy must not take the webhook out of service');
    assert.match((await webhook.get('/metrics')).text, /^sandbox_admission_admission_policy_stale 1$/m);
    const warnings = await webhook.waitForLogLines(
      (l) => typeof l.msg === 'string' && l.msg.startsWith('ValidatingAdmissionPolicies were generated from another policy'),
    );
    assert.equal(warnings.length, 1);
    assert.deepEqual(warnings[0]!.stale, [...generated].sort());
  });
});
