// Self-managed certificates end to end, minus the API server: replicas share an in-memory Secret and webhook
// configurations (fake-kubernetes.ts), each serves HTTPS through the swappable TLS source, and a client that
// trusts only the caBundle currently in the webhook configuration connects after every step.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import type { V1MutatingWebhookConfiguration, V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import { createMetrics, type Metrics } from '../../../src/observe/metrics.ts';
import { decodeCaBundle, listBundleFingerprints } from '../../../src/tls/ca-bundle.ts';
import { createCaBundlePublisher, type WebhookConfigurationRef } from '../../../src/tls/ca-bundle-publisher.ts';
import { createCertificateSecretStore } from '../../../src/tls/certificate-secret-store.ts';
import { buildServiceDnsNames } from '../../../src/tls/certificate-state.ts';
import type { IssuancePolicy } from '../../../src/tls/rotation-steps.ts';
import { startSelfManagedCertificates, type SelfManagedCertificates } from '../../../src/tls/self-managed-certificates.ts';
import { bindTlsSource } from '../../../src/tls/tls-source.ts';
import { sendHttps } from '../admission/https-client.ts';
import { createFakeKubernetes, type FakeKubernetes } from './fake-kubernetes.ts';

const day = 24 * 60 * 60 * 1000;
const namespace = 'webhooks';
const secretName = 'sandbox-admission-tls';
const settleMs = 60_000;
const checkMs = 30_000;
const configurations: WebhookConfigurationRef[] = [
  { kind: 'MutatingWebhookConfiguration', name: 'sandbox-admission' },
  { kind: 'ValidatingWebhookConfiguration', name: 'sandbox-admission' },
];

type LogLine = Record<string, unknown> & { level: string; msg: string };

type Replica = {
  certificates: SelfManagedCertificates;
  port: number;
  logs: LogLine[];
  server: Server;
};

/** A clock the test moves; it starts in the past so certificates issued "then" are valid for real clients now. */
function createClock(startOffsetMs: number): { now: () => Date; set(offsetMs: number): void; advance(ms: number): void } {
  let offset = startOffsetMs;
  return {
    now: () => new Date(Date.now() + offset),
    set: (ms) => {
      offset = ms;
    },
    advance: (ms) => {
      offset += ms;
    },
  };
}

function putWebhookConfigurations(fake: FakeKubernetes, options: { validating?: boolean } = {}): void {
  const webhook = (name: string) => ({
    name,
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    clientConfig: { url: `https://127.0.0.1:1/${name}` },
  });
  fake.putConfiguration('mutating', {
    metadata: { name: 'sandbox-admission' },
    webhooks: [webhook('mutate.sandbox-admission.io'), webhook('second.sandbox-admission.io')],
  } as V1MutatingWebhookConfiguration);
  if (options.validating !== false)
    fake.putConfiguration('validating', {
      metadata: { name: 'sandbox-admission' },
      webhooks: [webhook('validate.sandbox-admission.io')],
    } as V1ValidatingWebhookConfiguration);
}

const running: Replica[] = [];
afterEach(async () => {
  for (const replica of running.splice(0)) {
    replica.certificates.close();
    await new Promise<void>((resolve) => replica.server.close(() => resolve()));
  }
});

async function startReplica(
  fake: FakeKubernetes,
  now: () => Date,
  issuance: Partial<IssuancePolicy> = {},
  metrics?: Metrics,
): Promise<Replica> {
  const logs: LogLine[] = [];
  const record = (level: string) => (data: object, msg: string) => void logs.push({ ...data, level, msg });
  const log = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
  const certificates = await startSelfManagedCertificates({
    store: createCertificateSecretStore({ client: fake.client, namespace, name: secretName }),
    publisher: createCaBundlePublisher({ client: fake.client, configurations, log }),
    issuance: {
      caName: 'sandbox-admission-ca',
      commonName: 'sandbox-admission.webhooks.svc',
      dnsNames: buildServiceDnsNames('sandbox-admission', namespace),
      ipAddresses: ['127.0.0.1'],
      caValidityDays: 30,
      servingValidityDays: 30,
      ...issuance,
    },
    log,
    ...(metrics ? { metrics } : {}),
    now,
    rotation: { settleMs },
    // The test drives every pass itself.
    intervals: { pollMs: 0, caBundleCheckMs: checkMs },
  });
  const initial = certificates.tls.current();
  const server = createServer({ key: initial.key, cert: initial.cert }, (_request, response) => response.end('ok'));
  bindTlsSource(server, certificates.tls, log);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const replica = { certificates, port: (server.address() as AddressInfo).port, logs, server };
  running.push(replica);
  return replica;
}

/** The bundle the API server would use: the mutating configuration's first webhook. */
function publishedBundle(fake: FakeKubernetes): string {
  return decodeCaBundle(fake.configuration('mutating', 'sandbox-admission')?.webhooks?.[0]?.clientConfig.caBundle);
}

/** A new connection to each replica, trusting only what the webhook configurations publish now. */
async function assertTrusted(fake: FakeKubernetes, replicas: readonly Replica[], step: string): Promise<void> {
  const bundles = [
    ...(fake.configuration('mutating', 'sandbox-admission')?.webhooks ?? []),
    ...(fake.configuration('validating', 'sandbox-admission')?.webhooks ?? []),
  ].map((webhook) => decodeCaBundle(webhook.clientConfig.caBundle));
  assert.ok(bundles.length > 0);
  for (const ca of bundles) {
    assert.notEqual(ca, '', `${step}: a webhook without caBundle`);
    for (const replica of replicas) {
      const reply = await sendHttps({ port: replica.port, ca, path: '/' }).catch((error: unknown) =>
        assert.fail(`${step}: replica on ${replica.port} not trusted: ${String(error)}`),
      );
      assert.equal(reply.status, 200);
    }
  }
}

function servedIssuer(replica: Replica): string {
  return new X509Certificate(replica.certificates.tls.current().cert).issuer;
}

describe('self-managed certificates (in-memory API)', () => {
  it('two replicas starting at once end up serving from one Secret', async () => {
    const fake = createFakeKubernetes();
    putWebhookConfigurations(fake);
    const clock = createClock(0);
    const [first, second] = await Promise.all([startReplica(fake, clock.now), startReplica(fake, clock.now)]);
    assert.equal(first.certificates.tls.current().cert, second.certificates.tls.current().cert);
    const secret = fake.secret(namespace, secretName);
    assert.equal(secret?.type, 'kubernetes.io/tls');
    assert.deepEqual(Object.keys(secret?.data ?? {}).sort(), ['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    const messages = [...first.logs, ...second.logs].map((line) => line.msg);
    assert.equal(messages.filter((msg) => msg === 'certificates created').length, 1);
    assert.equal(messages.filter((msg) => msg === 'certificate Secret created by another replica; adopting it').length, 1);
    await assertTrusted(fake, [first, second], 'start');
  });

  it('publishes the CA into every webhook of both configurations; a missing ValidatingWebhookConfiguration is only logged', async () => {
    const fake = createFakeKubernetes();
    putWebhookConfigurations(fake, { validating: false });
    const clock = createClock(0);
    const replica = await startReplica(fake, clock.now);
    const ca = Buffer.from(fake.secret(namespace, secretName)?.data?.['ca.crt'] ?? '', 'base64').toString('utf8');
    const webhooks = fake.configuration('mutating', 'sandbox-admission')?.webhooks ?? [];
    assert.equal(webhooks.length, 2);
    for (const webhook of webhooks) {
      assert.deepEqual(listBundleFingerprints(decodeCaBundle(webhook.clientConfig.caBundle)), listBundleFingerprints(ca));
    }
    assert.ok(
      replica.logs.some(
        (line) =>
          line.msg === 'webhook configuration not found; caBundle not published to it' && line.kind === 'ValidatingWebhookConfiguration',
      ),
    );
    // Created later: published at the next check, not before.
    putWebhookConfigurations(fake);
    await replica.certificates.reconcile();
    assert.equal(fake.configuration('validating', 'sandbox-admission')?.webhooks?.[0]?.clientConfig.caBundle, undefined);
    clock.advance(checkMs);
    await replica.certificates.reconcile();
    await assertTrusted(fake, [replica], 'both configurations');
  });

  it('renews the serving certificate under the same CA at two thirds of its life, without touching caBundle', async () => {
    const fake = createFakeKubernetes();
    putWebhookConfigurations(fake);
    const clock = createClock(-2.5 * day);
    const metrics = createMetrics();
    const replica = await startReplica(fake, clock.now, { caValidityDays: 300, servingValidityDays: 3 }, metrics);
    const before = replica.certificates.tls.current().cert;
    const expiry = async () => (await metrics.servingCertificateExpiry.get()).values[0]?.value;
    assert.equal(await expiry(), new X509Certificate(before).validToDate.getTime() / 1000);
    const patches = fake.counts.patches;
    clock.set(0);
    const report = await replica.certificates.reconcile();
    assert.deepEqual(report.written, ['issue-serving']);
    assert.notEqual(replica.certificates.tls.current().cert, before);
    assert.equal(fake.counts.patches, patches, 'no caBundle change for a serving renewal');
    assert.equal(await expiry(), new X509Certificate(replica.certificates.tls.current().cert).validToDate.getTime() / 1000);
    assert.match(await metrics.registry.metrics(), /sandbox_admission_certificate_rotations_total\{step="issue-serving"\} 1/);
    await assertTrusted(fake, [replica], 'serving renewed');
    const reply = await sendHttps({ port: replica.port, ca: publishedBundle(fake), path: '/' });
    assert.equal(
      reply.peerFingerprint,
      new X509Certificate(replica.certificates.tls.current().cert).fingerprint256,
      'new connections get the new certificate',
    );
  });

  it('rotates the CA across two replicas with one writer per step and a trusted certificate at every step', async () => {
    const fake = createFakeKubernetes();
    putWebhookConfigurations(fake);
    // Issued 21 days ago: the 30-day CA is past two thirds of its life now.
    const clock = createClock(-21 * day);
    const replicas = await Promise.all([startReplica(fake, clock.now), startReplica(fake, clock.now)]);
    const [first, second] = replicas as [Replica, Replica];
    const oldIssuer = servedIssuer(first);
    await assertTrusted(fake, replicas, 'before');
    const written: string[] = [];
    // Both replicas plan the same step from the same Secret at the same moment: one write wins, the other adopts.
    const reconcileBoth = async (step: string) => {
      const reports = await Promise.all(replicas.map((replica) => replica.certificates.reconcile()));
      written.push(...reports.flatMap((report) => report.written));
      await assertTrusted(fake, replicas, step);
    };

    clock.set(0);
    await reconcileBoth('rotate-ca');
    assert.deepEqual(written, ['rotate-ca']);
    assert.equal(listBundleFingerprints(publishedBundle(fake)).length, 2, 'both CAs are published');
    assert.equal(servedIssuer(first), oldIssuer, 'still the old serving certificate');

    await reconcileBoth('settling');
    assert.deepEqual(written, ['rotate-ca'], 'nothing more before the bundle has settled');

    clock.advance(settleMs);
    // One at a time here, so the client also sees the moment one replica serves the new CA and the other the old.
    written.push(...(await first.certificates.reconcile()).written);
    await assertTrusted(fake, replicas, 'issue-serving, first replica');
    assert.notEqual(servedIssuer(first), oldIssuer);
    assert.equal(servedIssuer(second), oldIssuer);
    written.push(...(await second.certificates.reconcile()).written);
    await assertTrusted(fake, replicas, 'issue-serving, second replica');
    assert.equal(servedIssuer(second), servedIssuer(first));
    assert.deepEqual(written, ['rotate-ca', 'issue-serving']);
    assert.equal(listBundleFingerprints(publishedBundle(fake)).length, 2, 'the old CA stays while replicas may serve its certificate');

    clock.advance(settleMs);
    await reconcileBoth('drop-cas');
    assert.deepEqual(written, ['rotate-ca', 'issue-serving', 'drop-cas']);
    assert.equal(listBundleFingerprints(publishedBundle(fake)).length, 1);
    const secretBundle = Buffer.from(fake.secret(namespace, secretName)?.data?.['ca.crt'] ?? '', 'base64').toString('utf8');
    assert.deepEqual(listBundleFingerprints(secretBundle), listBundleFingerprints(publishedBundle(fake)));
    const lostRace = [...first.logs, ...second.logs].filter(
      (line) => line.msg === 'certificate Secret changed by another replica; adopting it',
    );
    assert.ok(lostRace.length >= 1, 'a replica lost a write race and adopted the winner');
  });

  it('repairs a caBundle someone reset, at the next check', async () => {
    const fake = createFakeKubernetes();
    putWebhookConfigurations(fake);
    const clock = createClock(0);
    const replica = await startReplica(fake, clock.now);
    const good = publishedBundle(fake);
    const config = fake.configuration('mutating', 'sandbox-admission') as V1MutatingWebhookConfiguration;
    for (const webhook of config.webhooks ?? []) webhook.clientConfig.caBundle = Buffer.from('garbage').toString('base64');
    fake.putConfiguration('mutating', config);
    clock.advance(checkMs);
    await replica.certificates.reconcile();
    assert.equal(publishedBundle(fake), good);
    assert.ok(replica.logs.some((line) => line.msg === 'caBundle patched' && line.kind === 'MutatingWebhookConfiguration'));
    await assertTrusted(fake, [replica], 'repaired');
  });

  it('holds the CA rotation while the new bundle cannot be published', async () => {
    const fake = createFakeKubernetes();
    putWebhookConfigurations(fake);
    const clock = createClock(-21 * day);
    const replica = await startReplica(fake, clock.now);
    fake.failPatches(403);
    clock.set(0);
    assert.deepEqual((await replica.certificates.reconcile()).written, ['rotate-ca']);
    clock.advance(settleMs);
    const held = await replica.certificates.reconcile();
    assert.deepEqual(held.plan, { kind: 'wait', reason: 'bundle-not-published', until: undefined });
    assert.ok(replica.logs.some((line) => line.msg === 'caBundle patch failed' && /403/.test(String(line.error))));
    await assertTrusted(fake, [replica], 'held: old CA still published, old certificate still served');
    fake.failPatches(undefined);
    assert.deepEqual((await replica.certificates.reconcile()).written, ['issue-serving']);
    await assertTrusted(fake, [replica], 'released');
  });

  it('recreates a deleted Secret around the served certificate, then finishes that as a CA rotation', async () => {
    const fake = createFakeKubernetes();
    putWebhookConfigurations(fake);
    const clock = createClock(0);
    const replicas = await Promise.all([startReplica(fake, clock.now), startReplica(fake, clock.now)]);
    const [first, second] = replicas as [Replica, Replica];
    const servedBefore = first.certificates.tls.current().cert;
    fake.deleteSecret(namespace, secretName);

    assert.deepEqual((await first.certificates.reconcile()).written, ['create']);
    assert.ok(first.logs.some((line) => line.msg === 'certificate Secret lost; recreating it around the certificate being served'));
    assert.equal(first.certificates.tls.current().cert, servedBefore, 'still serving the same certificate');
    assert.equal(listBundleFingerprints(publishedBundle(fake)).length, 2, 'the old CA stays published beside the new one');
    await assertTrusted(fake, replicas, 'recreated');
    await second.certificates.reconcile();
    await assertTrusted(fake, replicas, 'recreated, second replica');

    const steps: string[] = [];
    for (let i = 0; i < 2; i++) {
      clock.advance(settleMs);
      for (const replica of replicas) {
        steps.push(...(await replica.certificates.reconcile()).written);
        await assertTrusted(fake, replicas, `after recreation ${i}`);
      }
    }
    assert.deepEqual(steps, ['issue-serving', 'drop-cas']);
    assert.equal(listBundleFingerprints(publishedBundle(fake)).length, 1);
  });

  it('replaces a Secret it cannot use', async () => {
    const fake = createFakeKubernetes();
    putWebhookConfigurations(fake);
    fake.putSecret({
      metadata: { name: secretName, namespace },
      type: 'Opaque',
      data: { 'ca.crt': Buffer.from('junk').toString('base64') },
    });
    const replica = await startReplica(fake, createClock(0).now);
    assert.ok(
      replica.logs.some(
        (line) => line.msg === 'certificate Secret unusable; replacing CA and serving certificate' && line.reason === 'missing',
      ),
    );
    assert.equal(fake.secret(namespace, secretName)?.type, 'Opaque', 'the type of an existing Secret is kept');
    await assertTrusted(fake, [replica], 'replaced');
  });
});
