// Issue 10, item 3: with --client-ca-file the admission routes answer only the API server's client certificate;
// health probes and /metrics need none, and a rotated serving certificate keeps the client verification.
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { buildServer, listen, type AdmissionServer } from '../../../src/admission/server.ts';
import type { ReviewHandler } from '../../../src/admission/review-outcome.ts';
import { createLogger } from '../../../src/observe/logger.ts';
import { createMetrics } from '../../../src/observe/metrics.ts';
import { createSwappableTlsSource } from '../../../src/tls/tls-source.ts';
import { createCA, issueCert } from '../../e2e/harness/pki.ts';

const servingCa = createCA('serving-ca');
const serving = () =>
  issueCert(servingCa, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'server' });
const clientCa = createCA('apiserver-client-ca');
const apiserver = issueCert(clientCa, { commonName: 'kube-apiserver-webhook-client', usage: 'client' });
const otherClient = issueCert(clientCa, { commonName: 'some-pod', usage: 'client' });
const stranger = issueCert(createCA('stranger-ca'), { commonName: 'kube-apiserver-webhook-client', usage: 'client' });

const handler: ReviewHandler = (endpoint, body) => ({
  kind: 'reviewed',
  body: { response: { uid: (body as { request: { uid: string } }).request.uid, allowed: true } },
  log: {},
  metrics: { endpoint, resource: 'pod', rule: 'none', runtime: 'none', action: 'allowed' as const, mode: 'none' },
});

type Reply = { status: number; text: string };

function call(port: number, path: string, client?: { certPem: string; keyPem: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u1' } });
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: path === '/mutate' ? 'POST' : 'GET',
        ca: servingCa.certPem,
        servername: 'localhost',
        agent: false,
        ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
        headers: path === '/mutate' ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {},
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(path === '/mutate' ? body : undefined);
  });
}

describe('client certificate authentication of the API server', () => {
  let server: AdmissionServer;
  let port: number;
  const first = serving();
  const tls = createSwappableTlsSource({ key: first.keyPem, cert: first.certPem });
  before(async () => {
    server = buildServer({
      logger: createLogger({ level: 'silent' }),
      metrics: createMetrics(),
      readiness: () => ({ ready: true }),
      tls,
      handleReview: handler,
      clientAuth: { caPem: clientCa.certPem, allowedNames: ['kube-apiserver-webhook-client'] },
      // Not a load-shedding test: a busy machine's slow set-up must not read as a lagging event loop (503).
      loadLimits: { maxEventLoopDelayMs: 0 },
    });
    ({ port } = await listen(server, { host: '127.0.0.1', port: 0 }));
  });
  after(async () => {
    await server.close();
  });

  async function checkAll(): Promise<void> {
    const allowed = await call(port, '/mutate', apiserver);
    assert.equal(allowed.status, 200);
    assert.equal(JSON.parse(allowed.text).response.uid, 'u1');
    const anonymous = await call(port, '/mutate');
    assert.deepEqual([anonymous.status, JSON.parse(anonymous.text).code], [401, 'CLIENT_UNAUTHORIZED']);
    const untrusted = await call(port, '/mutate', stranger);
    assert.deepEqual([untrusted.status, JSON.parse(untrusted.text).code], [401, 'CLIENT_UNAUTHORIZED'], 'same name, another CA');
    const wrongName = await call(port, '/mutate', otherClient);
    assert.deepEqual([wrongName.status, JSON.parse(wrongName.text).code], [403, 'CLIENT_UNAUTHORIZED']);
    for (const path of ['/healthz', '/readyz', '/metrics'])
      assert.equal((await call(port, path)).status, 200, `${path} needs no client certificate`);
  }

  it('answers the API server, refuses anyone else, and leaves the probes open', checkAll);

  it('keeps verifying clients after the serving certificate rotates', async () => {
    const next = serving();
    tls.set({ key: next.keyPem, cert: next.certPem });
    await checkAll();
  });
});
