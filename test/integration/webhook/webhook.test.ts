// The real pipeline over real HTTPS: startWebhook with a policy file, the real review handler and decision,
// generated certificates, and a client that verifies the CA. Nothing is faked but the cluster (static facts).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import fjp from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { createLogger } from '../../../src/observe/logger.ts';
import { createMetrics } from '../../../src/observe/metrics.ts';
import { createSwappableTlsSource } from '../../../src/tls/tls-source.ts';
import { startWebhook, type RunningWebhook } from '../../../src/main/webhook.ts';
import { untrustedPod } from '../../helpers/pods.ts';
import { decodePatch, podReview } from '../../helpers/reviews.ts';
import { sendHttps } from '../admission/https-client.ts';
import { createLoopbackServing } from '../../helpers/certificates.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';

const { ca, serving } = createLoopbackServing('it-ca', 1);
const EXAMPLE_REVIEW = JSON.parse(readFileSync(new URL('../../../examples/untrusted-pod-review.json', import.meta.url), 'utf8')) as {
  request: { uid: string; object: object };
};
const POLICY = readFileSync(new URL('../../../manifests/base/policy.yaml', import.meta.url), 'utf8');

describe('the webhook over HTTPS, real pipeline end to end', () => {
  let webhook: RunningWebhook;
  let certificateHealthy = true;
  let policyPath: string;
  const lines: Array<Record<string, unknown>> = [];

  before(async () => {
    const dir = makeTempDir('webhook-it-');
    policyPath = join(dir, 'policy.yaml');
    writeFileSync(policyPath, POLICY);
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    webhook = await startWebhook(
      { host: '127.0.0.1', port: 0, policyPath, webhookNamespace: 'sandbox-admission', drainDelayMs: 0 },
      {
        logger: createLogger({ level: 'info', destination }),
        metrics: createMetrics(),
        tls: { ...createSwappableTlsSource({ key: serving.keyPem, cert: serving.certPem }), healthy: () => certificateHealthy },
        cluster: {
          namespaceLabels: (ns): Record<string, string> => (ns === 'kata-team' ? { 'sandbox-admission.io/runtime': 'kata' } : {}),
          runtimeClasses: () => undefined,
        },
      },
    );
  });
  after(async () => webhook.shutdown());

  const post = (body: unknown, path = '/mutate') =>
    sendHttps({
      port: webhook.address.port,
      ca: ca.certPem,
      method: 'POST',
      path,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('the bundled example review comes back sandboxed, and the patch applies to the request object', async () => {
    const reply = await post(EXAMPLE_REVIEW);
    assert.equal(reply.status, 200);
    const { response } = JSON.parse(reply.text) as { response: { uid: string; allowed: boolean; patch: string } };
    assert.equal(response.uid, EXAMPLE_REVIEW.request.uid);
    const pod = (EXAMPLE_REVIEW.request as { object: object }).object;
    const result = fjp.applyPatch(structuredClone(pod), decodePatch(response) as Operation[], true, false).newDocument as {
      spec: { runtimeClassName: string };
    };
    assert.equal(result.spec.runtimeClassName, 'gvisor');
    const decision = lines.find((l) => l.msg === 'admission decision' && l.uid === response.uid);
    assert.equal(decision?.rule, 'untrusted-apps');
    assert.equal(decision?.runtime, 'gvisor');
  });

  it('namespace facts reach the decision (namespace label kata)', async () => {
    const reply = await post(podReview(untrustedPod({}, { app: 'web' }), { namespace: 'kata-team', uid: 'ns-1' }));
    const { response } = JSON.parse(reply.text) as { response: { patch: string } };
    assert.ok(
      decodePatch(response).some(
        (op) => JSON.stringify(op) === JSON.stringify({ op: 'add', path: '/spec/runtimeClassName', value: 'kata' }),
      ),
    );
  });

  it('/metrics, /readyz and /healthz reveal no pod, namespace, user, image or key, even after denials (issue 10, item 3)', async () => {
    const secretish = untrustedPod(
      { hostNetwork: true, containers: [{ name: 'c', image: 'registry.secret-xyz.example/app:1' }] },
      { app: 'untrusted' },
    );
    secretish.metadata!.name = 'pod-secret-xyz';
    assert.equal(
      (await post(podReview(secretish, { namespace: 'ns-secret-xyz', uid: 'leak-1', username: 'user-secret-xyz' }))).status,
      200,
    );
    const get = (path: string) => sendHttps({ port: webhook.address.port, ca: ca.certPem, path });
    for (const path of ['/metrics', '/readyz', '/healthz']) {
      const { status, text } = await get(path);
      assert.equal(status, 200, path);
      for (const leak of ['secret-xyz', 'PRIVATE KEY', 'BEGIN CERTIFICATE', policyPath])
        assert.ok(!text.includes(leak), `${path} shows ${leak}`);
    }
  });

  it('a malformed review gets a 400 with a code and a log line, and the server keeps serving', async () => {
    const reply = await post({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'x', operation: 7 } });
    assert.equal(reply.status, 400);
    assert.equal((JSON.parse(reply.text) as { code: string }).code, 'REVIEW_BAD_FIELD');
    assert.ok(lines.some((l) => l.msg === 'admission request rejected' && l.code === 'REVIEW_BAD_FIELD'));
    assert.equal((await post(EXAMPLE_REVIEW)).status, 200);
  });

  it('an UPDATE review of 6 MiB (object and oldObject of 3 MiB each, the most the API server sends) is accepted', async () => {
    const big = untrustedPod();
    big.metadata!.annotations = { blob: 'x'.repeat(3 * 1024 * 1024 - 4096) };
    const review = podReview(big, { operation: 'UPDATE', uid: 'big' });
    (review.request as Record<string, unknown>).oldObject = big;
    const reply = await post(review);
    assert.equal(reply.status, 200);
    assert.deepEqual((JSON.parse(reply.text) as { response: unknown }).response, { uid: 'big', allowed: true });
  });

  it('a bad policy edit is refused, logged with the field path, and the last good policy keeps deciding', async () => {
    writeFileSync(policyPath, POLICY.replace('runtime: gvisor', 'runtime: firecracker'));
    const event = webhook.policy.reload();
    assert.equal(event.result, 'failure');
    assert.ok(
      lines.some(
        (l) =>
          l.msg === 'policy refused; the last good policy stays in force' && JSON.stringify(l.errors).includes('spec.rules[0].runtime'),
      ),
    );
    const reply = await post(EXAMPLE_REVIEW);
    assert.match(reply.text, /JSONPatch/);
    writeFileSync(policyPath, POLICY);
    webhook.policy.reload();
  });

  it('/validate answers with the same codec and never patches', async () => {
    const reply = await post(podReview(untrustedPod({ runtimeClassName: 'gvisor' })), '/validate');
    assert.deepEqual((JSON.parse(reply.text) as { response: unknown }).response, {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      allowed: true,
    });
  });

  it('/readyz reports the policy in force', async () => {
    const reply = await sendHttps({ port: webhook.address.port, ca: ca.certPem, path: '/readyz' });
    assert.equal(reply.status, 200);
    assert.equal((JSON.parse(reply.text) as { detail: { policy: string } }).detail.policy, 'example');
  });

  it('/readyz is 503 while the certificate source is unhealthy', async () => {
    certificateHealthy = false;
    try {
      const reply = await sendHttps({ port: webhook.address.port, ca: ca.certPem, path: '/readyz' });
      assert.equal(reply.status, 503);
      assert.equal((JSON.parse(reply.text) as { detail: { servingCertificateHealthy: boolean } }).detail.servingCertificateHealthy, false);
    } finally {
      certificateHealthy = true;
    }
  });
});
