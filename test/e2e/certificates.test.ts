// Self-managed certificates against a real kube-apiserver: replicas share a Secret, publish its CA into real
// webhook configurations, and rotate the CA while the API server itself keeps calling both replicas through
// those configurations (failurePolicy Fail): any moment where its caBundle does not trust a served
// certificate fails a probe. The webhooks use clientConfig.url on 127.0.0.1, never a Service (see README.md).
import * as k8s from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import { after, before, describe, it } from 'node:test';
import type { KubeApiClient } from '../../src/kube/api-client.ts';
import { productApiClient } from './harness/api-client.ts';
import { createCaBundlePublisher, type WebhookConfigurationRef } from '../../src/tls/ca-bundle-publisher.ts';
import { decodeCaBundle, listBundleFingerprints } from '../../src/tls/ca-bundle.ts';
import { createCertificateSecretStore } from '../../src/tls/certificate-secret-store.ts';
import { buildServiceDnsNames } from '../../src/tls/certificate-state.ts';
import {
  startSelfManagedCertificates,
  type CertificateIntervals,
  type SelfManagedCertificates,
} from '../../src/tls/self-managed-certificates.ts';
import { bindTlsSource } from '../../src/tls/tls-source.ts';
import { sendHttps } from '../integration/admission/https-client.ts';
import { describeApiError, waitFor } from './harness/api-assertions.ts';
import { resolveBinaries } from './harness/binaries.ts';
import { createNamespace, startCluster, type Cluster } from './harness/cluster.ts';
import { freePorts } from './harness/ports.ts';

const bins = resolveBinaries();
const NS = 'webhook-certs';
const PROBE_NS = 'cert-probe';
const PROBE_LABEL = 'e2e.sandbox-admission.io/cert-probe';
const day = 24 * 60 * 60 * 1000;
// Real time, so the API server's own propagation of each caBundle change is part of what is tested.
const SETTLE_MS = 2000;

type LogLine = Record<string, unknown> & { msg: string };

type Replica = { certificates: SelfManagedCertificates; server: Server; port: number; logs: LogLine[] };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('self-managed certificates behind a real kube-apiserver', { skip: bins.skip ?? false }, () => {
  let cluster: Cluster;
  let core: k8s.CoreV1Api;
  let admission: k8s.AdmissionregistrationV1Api;
  let apiClient: KubeApiClient;
  const replicas: Replica[] = [];
  const t0 = Date.now();

  before(
    async () => {
      cluster = await startCluster({ binaries: bins.binaries! });
      core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
      admission = cluster.kubeConfig.makeApiClient(k8s.AdmissionregistrationV1Api);
      // TEMPORARY (issue 15): the merge builds this from kube-core's client.
      apiClient = await productApiClient(cluster.kubeconfigPath);
      await createNamespace(cluster.kubeConfig, NS);
      // Only the `rotation` configurations select this namespace.
      await createNamespace(cluster.kubeConfig, PROBE_NS, { [PROBE_LABEL]: 'rotation' });
    },
    { timeout: 300_000 },
  );

  after(async () => {
    for (const replica of replicas) {
      replica.certificates.close();
      replica.server.closeAllConnections();
      await new Promise<void>((resolve) => replica.server.close(() => resolve()));
    }
    await cluster?.stop();
    process.stderr.write(`[e2e] phase certificates-suite: ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
  });

  /**
   * An HTTPS server on `port` that allows every review, presenting what the replica's certificates hold now
   * (created from the source's current material, as the product's server is, so bindTlsSource swaps from there).
   */
  async function serveReplica(
    certificates: SelfManagedCertificates,
    port: number,
    log: Parameters<typeof bindTlsSource>[2],
  ): Promise<Server> {
    const initial = certificates.tls.current();
    const server = createServer({ key: initial.key, cert: initial.cert }, (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const review = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { request?: { uid?: string } };
        response.setHeader('content-type', 'application/json');
        response.end(
          JSON.stringify({
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            response: { uid: review.request?.uid ?? '', allowed: true },
          }),
        );
      });
    });
    bindTlsSource(server, certificates.tls, log);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    return server;
  }

  async function startReplica(options: {
    secretName: string;
    configurationName: string;
    now: () => Date;
    intervals: Partial<CertificateIntervals>;
    port: number;
  }): Promise<Replica> {
    const logs: LogLine[] = [];
    const record = (data: object, msg: string) => void logs.push({ ...data, msg });
    const log = { debug: record, info: record, warn: record, error: record };
    const configurations: WebhookConfigurationRef[] = [
      { kind: 'MutatingWebhookConfiguration', name: options.configurationName },
      { kind: 'ValidatingWebhookConfiguration', name: options.configurationName },
    ];
    const certificates = await startSelfManagedCertificates({
      store: createCertificateSecretStore({ client: apiClient, namespace: NS, name: options.secretName }),
      publisher: createCaBundlePublisher({ client: apiClient, configurations, log }),
      issuance: {
        caName: 'sandbox-admission-ca',
        commonName: `sandbox-admission.${NS}.svc`,
        // The Service names as in a cluster, plus the loopback address the API server dials here.
        dnsNames: buildServiceDnsNames('sandbox-admission', NS),
        ipAddresses: ['127.0.0.1'],
        caValidityDays: 30,
        servingValidityDays: 30,
      },
      log,
      now: options.now,
      rotation: { settleMs: SETTLE_MS },
      intervals: options.intervals,
    });
    const server = await serveReplica(certificates, options.port, log);
    const replica = { certificates, logs, server, port: options.port };
    replicas.push(replica);
    return replica;
  }

  /** Mutating and validating configurations with one webhook per replica port, on configmaps in the probe namespace. */
  async function createWebhookConfigurations(name: string, ports: readonly number[]): Promise<void> {
    const webhooks = (kind: string) =>
      ports.map((port, index) => ({
        name: `${kind}-${index}.${name}.e2e.sandbox-admission.io`,
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Fail',
        timeoutSeconds: 5,
        clientConfig: { url: `https://127.0.0.1:${port}/${kind}` },
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'], scope: 'Namespaced' }],
        namespaceSelector: { matchLabels: { [PROBE_LABEL]: name } },
      }));
    await admission.createMutatingWebhookConfiguration({ body: { metadata: { name }, webhooks: webhooks('mutate') } });
    await admission.createValidatingWebhookConfiguration({ body: { metadata: { name }, webhooks: webhooks('validate') } });
  }

  /** The caBundle and port of every webhook of both configurations, as the API server has them now. */
  async function readPublished(name: string): Promise<Array<{ webhook: string; port: number; ca: string }>> {
    const mutating = await admission.readMutatingWebhookConfiguration({ name });
    const validating = await admission.readValidatingWebhookConfiguration({ name });
    return [...(mutating.webhooks ?? []), ...(validating.webhooks ?? [])].map((webhook) => ({
      webhook: webhook.name,
      port: Number(new URL(webhook.clientConfig.url ?? '').port),
      ca: decodeCaBundle(webhook.clientConfig.caBundle),
    }));
  }

  /** New connections to every webhook's replica, trusting only that webhook's current caBundle. */
  async function assertTrusted(name: string, step: string): Promise<void> {
    for (const { webhook, port, ca } of await readPublished(name)) {
      assert.notEqual(ca, '', `${step}: ${webhook} has no caBundle`);
      const reply = await sendHttps({ port, ca, path: '/healthz' }).catch((error: unknown) =>
        assert.fail(`${step}: ${webhook} does not trust its replica: ${String(error)}`),
      );
      assert.equal(reply.status, 200);
    }
  }

  /** A pod-less stand-in for an admission: a dry-run ConfigMap create that must pass through every webhook. */
  function probe(name: string): Promise<unknown> {
    return core.createNamespacedConfigMap({
      namespace: PROBE_NS,
      dryRun: 'All',
      body: { metadata: { generateName: `${name}-` }, data: { probe: 'yes' } },
    });
  }

  it('two replicas share one Secret, publish its CA, and rotate the CA with no moment the API server distrusts them', {
    timeout: 60_000,
  }, async () => {
    const configName = 'rotation';
    const ports = await freePorts(2);
    await createWebhookConfigurations(configName, ports);
    // Issued 21 days ago: the 30-day CA is then past two thirds of its life "now".
    let offsetMs = -21 * day;
    const now = () => new Date(Date.now() + offsetMs);
    const intervals = { pollMs: 0, caBundleCheckMs: 60_000 };

    // 1. Concurrent start: one creates the Secret, the other loses the race and adopts it.
    const [first, second] = (await Promise.all(
      ports.map((port) => startReplica({ secretName: 'rotation-tls', configurationName: configName, now, intervals, port })),
    )) as [Replica, Replica];
    assert.equal(first.certificates.tls.current().cert, second.certificates.tls.current().cert);
    const secret = await core.readNamespacedSecret({ namespace: NS, name: 'rotation-tls' });
    assert.equal(secret.type, 'kubernetes.io/tls');
    assert.equal(Buffer.from(secret.data?.['tls.crt'] ?? '', 'base64').toString('utf8'), first.certificates.tls.current().cert);
    const messages = [...first.logs, ...second.logs].map((line) => line.msg);
    assert.equal(messages.filter((m) => m === 'certificates created').length, 1, 'exactly one replica created the Secret');
    assert.equal(messages.filter((m) => m === 'certificate Secret created by another replica; adopting it').length, 1);

    // 2. The CA is in every webhook of both configurations, and the API server can call both replicas.
    const secretCa = Buffer.from(secret.data?.['ca.crt'] ?? '', 'base64').toString('utf8');
    for (const { ca } of await readPublished(configName)) assert.deepEqual(listBundleFingerprints(ca), listBundleFingerprints(secretCa));
    await assertTrusted(configName, 'start');
    await waitFor(async () => {
      await probe('warmup');
      return true;
    });

    // The API server keeps admitting through both replicas for the whole rotation; every failure is kept.
    const failures: string[] = [];
    let probes = 0;
    let probing = true;
    const prober = (async () => {
      while (probing) {
        try {
          await probe('during');
          probes++;
        } catch (error) {
          failures.push(describeApiError(error));
        }
        await sleep(50);
      }
    })();

    const oldIssuer = new X509Certificate(first.certificates.tls.current().cert).issuer;
    const written: string[] = [];
    const reconcile = async (replica: Replica, step: string) => {
      written.push(...(await replica.certificates.reconcile()).written);
      await assertTrusted(configName, step);
    };
    try {
      // 3. Rotation step 1: both replicas see the CA due at once; one writes the two-CA bundle, the other adopts.
      offsetMs = 0;
      const reports = await Promise.all([first, second].map((r) => r.certificates.reconcile()));
      written.push(...reports.flatMap((r) => r.written));
      await assertTrusted(configName, 'rotate-ca');
      assert.deepEqual(written, ['rotate-ca']);
      for (const { ca } of await readPublished(configName)) assert.equal(listBundleFingerprints(ca).length, 2, 'old and new CA published');
      assert.equal(new X509Certificate(first.certificates.tls.current().cert).issuer, oldIssuer);

      // 4. Step 2 after the settle time: a serving certificate from the new CA, one replica at a time.
      await sleep(SETTLE_MS + 200);
      await reconcile(first, 'issue-serving (first replica)');
      await reconcile(second, 'issue-serving (second replica adopts)');
      assert.deepEqual(written, ['rotate-ca', 'issue-serving']);
      assert.notEqual(new X509Certificate(second.certificates.tls.current().cert).issuer, oldIssuer);
      assert.equal(second.certificates.tls.current().cert, first.certificates.tls.current().cert);

      // 5. Step 3 after the settle time: the old CA leaves the bundle.
      await sleep(SETTLE_MS + 200);
      await reconcile(second, 'drop-cas');
      await reconcile(first, 'drop-cas (adopted)');
      assert.deepEqual(written, ['rotate-ca', 'issue-serving', 'drop-cas']);
      for (const { ca } of await readPublished(configName)) assert.equal(listBundleFingerprints(ca).length, 1, 'only the new CA');
      // Give the API server time to switch to the one-CA bundle while still probing.
      await sleep(1000);
    } finally {
      probing = false;
      await prober;
    }
    assert.deepEqual(failures, [], 'the API server failed to call a replica during the rotation');
    assert.ok(probes >= 20, `only ${probes} probes got through`);
  });

  it('repairs a caBundle that someone else reset, by itself', { timeout: 30_000 }, async () => {
    const configName = 'repair';
    const [port] = (await freePorts(1)) as [number];
    await createWebhookConfigurations(configName, [port]);
    await startReplica({
      secretName: 'repair-tls',
      configurationName: configName,
      now: () => new Date(),
      intervals: { pollMs: 200, caBundleCheckMs: 200 },
      port,
    });
    const good = (await readPublished(configName))[0]?.ca ?? '';
    assert.notEqual(good, '');
    // Someone (a bad apply, a GitOps tool without the caBundle) empties it on one webhook and garbles the other's.
    await admission.patchMutatingWebhookConfiguration({
      name: configName,
      body: [{ op: 'remove', path: '/webhooks/0/clientConfig/caBundle' }],
    });
    await admission.patchValidatingWebhookConfiguration({
      name: configName,
      body: [{ op: 'replace', path: '/webhooks/0/clientConfig/caBundle', value: Buffer.from('not a certificate').toString('base64') }],
    });
    await waitFor(async () => (await readPublished(configName)).every(({ ca }) => ca === good), 10_000);
    await assertTrusted(configName, 'repaired');
  });
});
