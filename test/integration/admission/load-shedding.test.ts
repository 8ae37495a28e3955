// Issue 10, item 2: bytes and requests in flight are capped, excess is refused unread and at once (429/503),
// health probes keep answering, small reviews keep flowing while large bodies fill their budget.
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildServer, listen, type AdmissionServer } from '../../../src/admission/server.ts';
import type { LoadLimits } from '../../../src/admission/load-shedding.ts';
import type { ReviewHandler } from '../../../src/admission/review-outcome.ts';
import { createLogger } from '../../../src/observe/logger.ts';
import { createMetrics, type Metrics } from '../../../src/observe/metrics.ts';
import { createSwappableTlsSource } from '../../../src/tls/tls-source.ts';
import { sendHttps } from './https-client.ts';
import { createLoopbackServing } from '../../helpers/certificates.ts';

const { ca, serving } = createLoopbackServing('shed-ca');
const kib = 1024;

const review = (uid: string, padding = 0) =>
  JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid, object: { note: 'x'.repeat(padding) } } });

/** Answers at once, except uids starting with "hold", which wait until `releaseHeld()`. */
function holdingHandler() {
  let open: Array<() => void> = [];
  const handler: ReviewHandler = async (endpoint, body) => {
    const uid = (body as { request: { uid: string } }).request.uid;
    if (uid.startsWith('hold')) await new Promise<void>((resolve) => open.push(resolve));
    return {
      kind: 'reviewed',
      body: { response: { uid, allowed: true } },
      log: {},
      metrics: { endpoint, resource: 'pod', rule: 'none', runtime: 'none', action: 'allowed' as const, mode: 'none' },
    };
  };
  return {
    handler,
    releaseHeld: () => {
      for (const r of open) r();
      open = [];
    },
    held: () => open.length,
  };
}

async function start(
  loadLimits: Partial<LoadLimits>,
  handler: ReviewHandler,
): Promise<{ server: AdmissionServer; port: number; metrics: Metrics }> {
  const metrics = createMetrics();
  const server = buildServer({
    logger: createLogger({ level: 'silent' }),
    metrics,
    readiness: () => ({ ready: true }),
    tls: createSwappableTlsSource({ key: serving.keyPem, cert: serving.certPem }),
    handleReview: handler,
    loadLimits: { maxEventLoopDelayMs: 0, maxHeapUsedBytes: 0, ...loadLimits },
  });
  const { port } = await listen(server, { host: '127.0.0.1', port: 0 });
  return { server, port, metrics };
}

const post = (port: number, body: string) =>
  sendHttps({
    port,
    ca: ca.certPem,
    method: 'POST',
    path: '/mutate',
    headers: { 'content-type': 'application/json' },
    body,
    servername: 'localhost',
  });

/** Headers announcing `declared` bytes and only the first KiB of the body: the answer must come without the rest. */
function postHeadersOnly(
  port: number,
  declared: number,
): Promise<{ status: number; headers: Record<string, unknown>; text: string; destroy(): void }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/mutate',
        ca: ca.certPem,
        servername: 'localhost',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': declared },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString(),
            destroy: () => req.destroy(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.write('{"apiVersion":"admission.k8s.io/v1",' + ' '.repeat(kib));
  });
}

/** Keeps a request in flight with its body half sent; the server holds its slot until the client goes away. */
function startStalledUpload(port: number, declared: number): { abort(): void } {
  const req = request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/mutate',
    ca: ca.certPem,
    servername: 'localhost',
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': declared },
  });
  req.on('error', () => {});
  req.write('{');
  return { abort: () => req.destroy() };
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function gauge(metrics: Metrics, name: string): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  return Number(metric?.values[0]?.value ?? NaN);
}

async function waitForGauge(metrics: Metrics, value: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await gauge(metrics, 'sandbox_admission_in_flight_requests')) !== value) {
    if (Date.now() > deadline) assert.fail(`in-flight requests never reached ${value}`);
    await sleep(20);
  }
}

describe('load shedding: requests in flight', () => {
  const h = holdingHandler();
  let s: Awaited<ReturnType<typeof start>>;
  before(async () => {
    s = await start({ maxRequests: 3 }, h.handler);
  });
  after(async () => {
    h.releaseHeld();
    await s.server.close();
  });

  it('refuses the request past maxRequests with 429 OVERLOADED and Retry-After, unread, and recovers', async () => {
    const held = [post(s.port, review('hold-1')), post(s.port, review('hold-2')), post(s.port, review('hold-3'))];
    await waitFor(() => h.held() === 3, 'three held reviews');
    const started = Date.now();
    // A 6 MiB body announced, 1 KiB sent: the refusal does not wait for the body.
    const refused = await postHeadersOnly(s.port, 6 * 1024 * kib);
    refused.destroy();
    assert.equal(refused.status, 429);
    assert.equal(refused.headers['retry-after'], '1');
    assert.deepEqual(JSON.parse(refused.text), { code: 'OVERLOADED', message: 'too many admission requests in flight; retry' });
    assert.ok(Date.now() - started < 1000, `refused in ${Date.now() - started} ms`);
    // Health and metrics are outside the limits.
    assert.equal((await sendHttps({ port: s.port, ca: ca.certPem, path: '/healthz', servername: 'localhost' })).status, 200);
    assert.equal((await sendHttps({ port: s.port, ca: ca.certPem, path: '/readyz', servername: 'localhost' })).status, 200);
    assert.equal(await gauge(s.metrics, 'sandbox_admission_in_flight_requests'), 3);
    h.releaseHeld();
    for (const reply of await Promise.all(held)) assert.equal(reply.status, 200);
    assert.equal((await post(s.port, review('after'))).status, 200);
    assert.equal(await gauge(s.metrics, 'sandbox_admission_in_flight_requests'), 0);
    const shed = (await s.metrics.registry.getSingleMetric('sandbox_admission_shed_requests_total')!.get()).values;
    assert.deepEqual(
      shed.map((v) => [v.labels['reason'], v.value]),
      [['requests-in-flight', 1]],
    );
  });

  it('gives the slot back when a client goes away mid-body', async () => {
    const stalled = [startStalledUpload(s.port, 100 * kib), startStalledUpload(s.port, 100 * kib), startStalledUpload(s.port, 100 * kib)];
    await waitForGauge(s.metrics, 3);
    for (const upload of stalled) upload.abort();
    await waitForGauge(s.metrics, 0);
    assert.equal((await post(s.port, review('after-abort'))).status, 200);
  });
});

describe('load shedding: large bodies in flight', () => {
  const h = holdingHandler();
  let s: Awaited<ReturnType<typeof start>>;
  before(async () => {
    s = await start({ maxRequests: 100, largeBodyThresholdBytes: 64 * kib, maxLargeBodyBytes: 600 * kib }, h.handler);
  });
  after(async () => {
    h.releaseHeld();
    await s.server.close();
  });

  it('caps large bodies by declared bytes while small reviews keep being answered', async () => {
    const held = [post(s.port, review('hold-a', 250 * kib)), post(s.port, review('hold-b', 250 * kib))];
    await waitFor(() => h.held() === 2, 'two large reviews held');
    const refused = await postHeadersOnly(s.port, 200 * kib);
    refused.destroy();
    assert.equal(refused.status, 429);
    assert.equal(JSON.parse(refused.text).message, 'too many large admission requests in flight; retry');
    // Chunked (no Content-Length) counts as the whole body limit.
    const chunked = await sendHttps({
      port: s.port,
      ca: ca.certPem,
      method: 'POST',
      path: '/mutate',
      headers: { 'content-type': 'application/json' },
      body: review('chunked', 10),
      chunked: true,
      servername: 'localhost',
    });
    assert.equal(chunked.status, 429);
    for (let i = 0; i < 20; i++) assert.equal((await post(s.port, review(`small-${i}`, 2 * kib))).status, 200);
    h.releaseHeld();
    for (const reply of await Promise.all(held)) assert.equal(reply.status, 200);
    assert.equal((await post(s.port, review('large-after', 250 * kib))).status, 200);
  });
});

describe('load shedding: process under pressure (pressure-monitor.ts)', () => {
  const h = holdingHandler();
  let s: Awaited<ReturnType<typeof start>>;
  // A heap limit of one byte: under pressure from the first sample on.
  before(async () => {
    s = await start({ maxHeapUsedBytes: 1 }, h.handler);
  });
  after(async () => {
    await s.server.close();
  });

  it('answers admission requests 503 OVERLOADED while under pressure, and health probes still 200', async () => {
    await sleep(400);
    const reply = await post(s.port, review('pressed'));
    assert.equal(reply.status, 503);
    assert.equal(reply.headers['retry-after'], '1');
    assert.deepEqual(JSON.parse(reply.text), { code: 'OVERLOADED', message: 'the webhook is short of memory; retry' });
    assert.equal((await sendHttps({ port: s.port, ca: ca.certPem, path: '/healthz', servername: 'localhost' })).status, 200);
    assert.equal((await sendHttps({ port: s.port, ca: ca.certPem, path: '/metrics', servername: 'localhost' })).status, 200);
  });
});
