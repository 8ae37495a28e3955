// Issue 10, item 3, against the real kube-apiserver: the API server presents the client certificate its
// AdmissionConfiguration kubeconfig names for the webhook's URL, and the webhook (--client-ca-file,
// --client-allowed-names) answers it while refusing a pod's direct call and a cluster admin's certificate.
import * as k8s from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveBinaries } from './harness/binaries.ts';
import { createNamespace, startCluster, type Cluster } from './harness/cluster.ts';
import { createCA, issueCert } from './harness/pki.ts';
import { freePort } from './harness/ports.ts';
import { readManifests, renderMutatingWebhook, startWebhookProcess, type WebhookProcess } from './harness/webhook.ts';
import { waitFor } from './harness/api-assertions.ts';

const bins = resolveBinaries();
const CLIENT_NAME = 'kube-apiserver-webhook-client';
const POLICY = `apiVersion: sandbox-admission.io/v1alpha1
kind: SandboxPolicy
metadata: {name: e2e-client-auth}
spec:
  rules:
    - {name: untrusted-apps, match: {podSelector: {matchLabels: {app: untrusted}}}, action: sandbox, runtime: gvisor}
`;

function post(url: string, caPem: string, client?: { certPem: string; keyPem: string }): Promise<{ status: number; code?: string }> {
  const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'direct' } });
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/mutate`,
      {
        method: 'POST',
        ca: caPem,
        agent: false,
        ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, code: (JSON.parse(text) as { code?: string }).code }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('the webhook authenticates the API server by client certificate', { skip: bins.skip ?? false }, () => {
  let cluster: Cluster;
  let webhook: WebhookProcess;
  let dir: string;
  const clientCa = createCA('sandbox-admission-e2e-apiserver-client-ca');
  const apiserverClient = issueCert(clientCa, { commonName: CLIENT_NAME, usage: 'client' });

  before(
    async () => {
      dir = mkdtempSync(join(tmpdir(), 'sandbox-admission-client-auth-'));
      const port = await freePort();
      // The API server picks the user whose name is the webhook URL's host:port.
      const webhookKubeconfig = join(dir, 'webhook-kubeconfig.yaml');
      writeFileSync(
        webhookKubeconfig,
        [
          'apiVersion: v1',
          'kind: Config',
          'users:',
          `- name: '127.0.0.1:${port}'`,
          '  user:',
          `    client-certificate-data: ${Buffer.from(apiserverClient.certPem).toString('base64')}`,
          `    client-key-data: ${Buffer.from(apiserverClient.keyPem).toString('base64')}`,
          '',
        ].join('\n'),
        { mode: 0o600 },
      );
      const admissionConfig = join(dir, 'admission-configuration.yaml');
      const plugin = (name: string) => [
        `- name: ${name}`,
        '  configuration:',
        '    apiVersion: apiserver.config.k8s.io/v1',
        '    kind: WebhookAdmissionConfiguration',
        `    kubeConfigFile: ${webhookKubeconfig}`,
      ];
      writeFileSync(
        admissionConfig,
        [
          'apiVersion: apiserver.config.k8s.io/v1',
          'kind: AdmissionConfiguration',
          'plugins:',
          ...plugin('ValidatingAdmissionWebhook'),
          ...plugin('MutatingAdmissionWebhook'),
          '',
        ].join('\n'),
      );
      writeFileSync(join(dir, 'client-ca.crt'), clientCa.certPem);

      cluster = await startCluster({
        binaries: bins.binaries!,
        extraApiserverArgs: [`--admission-control-config-file=${admissionConfig}`],
      });
      const objects = k8s.KubernetesObjectApi.makeApiClient(cluster.kubeConfig);
      for (const rc of readManifests('manifests/base/runtime-classes.yaml')) await objects.create(rc as k8s.KubernetesObject);
      webhook = await startWebhookProcess({
        dir: cluster.dir,
        kubeconfigPath: cluster.kubeconfigPath,
        policyYaml: POLICY,
        port,
        extraArgs: ['--client-ca-file', join(dir, 'client-ca.crt'), '--client-allowed-names', CLIENT_NAME],
      });
      await objects.create(renderMutatingWebhook(webhook.url, webhook.caPem) as k8s.KubernetesObject);
      await createNamespace(cluster.kubeConfig, 'apps', {});
    },
    { timeout: 300_000 },
  );

  after(async () => {
    await webhook?.stop();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sandboxes a pod: the API server presented its certificate and was answered', async () => {
    const core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
    await waitFor(
      async () =>
        (
          await core.createNamespacedPod({
            namespace: 'apps',
            dryRun: 'All',
            body: {
              metadata: { name: `probe-${Date.now()}`, labels: { app: 'untrusted' } },
              spec: { containers: [{ name: 'c', image: 'x' }] },
            },
          })
        ).spec?.runtimeClassName === 'gvisor',
    );
    const created = await core.createNamespacedPod({
      namespace: 'apps',
      body: { metadata: { name: 'web', labels: { app: 'untrusted' } }, spec: { containers: [{ name: 'c', image: 'x' }] } },
    });
    assert.equal(created.spec?.runtimeClassName, 'gvisor');
    const decisions = await webhook.waitForLogLines((l) => l['msg'] === 'admission decision' && l['pod'] === 'web');
    assert.equal(decisions.length, 1);
  });

  it('refuses a direct caller without a certificate, and one with the cluster admin certificate', async () => {
    assert.deepEqual(await post(webhook.url, webhook.caPem), { status: 401, code: 'CLIENT_UNAUTHORIZED' });
    const admin = issueCert(cluster.ca, { commonName: 'admin', organizations: ['system:masters'], usage: 'client' });
    assert.deepEqual(await post(webhook.url, webhook.caPem, admin), { status: 401, code: 'CLIENT_UNAUTHORIZED' }, 'signed by another CA');
    const sameCaOtherName = issueCert(clientCa, { commonName: 'not-the-apiserver', usage: 'client' });
    assert.deepEqual(await post(webhook.url, webhook.caPem, sameCaOtherName), { status: 403, code: 'CLIENT_UNAUTHORIZED' });
    assert.equal((await webhook.get('/readyz')).status, 200, 'probes need no certificate');
  });
});
