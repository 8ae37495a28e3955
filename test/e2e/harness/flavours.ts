// The two ways a cluster runs the product, installed into a test's API server from the same policy text:
// the native flavour (the MutatingAdmissionPolicy and ValidatingAdmissionPolicies `render map` / `render vap`
// print, no webhook on the path) and the webhook flavour (`sandbox-admission serve` as its own process behind
// the mutating and validating webhook configurations of manifests/base, no generated policy).
import * as k8s from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { renderVapText } from '../../../src/cli/render-vap-command.ts';
import { waitFor } from './api-assertions.ts';
import type { Cluster } from './cluster.ts';
import { podOf, tryCreate } from './pod-admission.ts';
import { renderWebhookConfiguration, startWebhookProcess, type WebhookProcess } from './webhook.ts';

export type Flavour = 'native' | 'webhook';

/** The generated admission policies, exactly as `render map` and `render vap --after-map` print them, applied as kubectl would. */
export async function installNative(cluster: Cluster, policyYaml: string, webhookNamespace: string): Promise<void> {
  const objects = k8s.KubernetesObjectApi.makeApiClient(cluster.kubeConfig);
  for (const kind of ['map', 'vap'] as const) {
    const rendered = renderVapText(policyYaml, { webhookNamespace, output: 'yaml', afterMap: kind === 'vap' }, kind);
    assert.ok(rendered.ok, `render ${kind} failed`);
    for (const doc of parseAllDocuments(rendered.text) as Array<{ toJS(): unknown }>)
      await objects.create(doc.toJS() as k8s.KubernetesObject);
  }
}

/** The webhook process and both webhook configurations of manifests/base, pointed at it by URL. */
export async function installWebhook(cluster: Cluster, policyYaml: string, extraArgs: readonly string[] = []): Promise<WebhookProcess> {
  const webhook = await startWebhookProcess({
    dir: cluster.dir,
    kubeconfigPath: cluster.kubeconfigPath,
    policyYaml,
    extraArgs: ['--log-level', 'warn', ...extraArgs],
  });
  const objects = k8s.KubernetesObjectApi.makeApiClient(cluster.kubeConfig);
  for (const file of ['manifests/base/mutating-webhook.yaml', 'manifests/base/validating-webhook.yaml'])
    await objects.create(renderWebhookConfiguration(file, webhook.url, webhook.caPem) as k8s.KubernetesObject);
  return webhook;
}

/**
 * Admission configuration takes effect once the API server's informers have it: poll with dry-run creates until
 * a governed pod in `namespace` is sandboxed and one asking for runc is refused.
 */
export async function waitUntilSandboxing(cluster: Cluster, namespace: string, labels: Record<string, string>): Promise<void> {
  const core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
  let probe = 0;
  await waitFor(
    async () => (await tryCreate(core, namespace, podOf(`probe-${probe++}`, labels))).stored?.spec?.runtimeClassName !== undefined,
  );
  await waitFor(async () => !(await tryCreate(core, namespace, podOf(`probe-${probe++}`, labels, { runtimeClassName: 'runc' }))).allowed);
}
