import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { closeGracefully, buildServer, listen } from '../../../src/admission/server.ts';
import type { AdmissionServer } from '../../../src/admission/server.ts';
import type { ReadinessReport } from '../../../src/admission/health-routes.ts';
import type { ReviewHandler } from '../../../src/admission/review-outcome.ts';
import { createLogger } from '../../../src/observe/logger.ts';
import { createMetrics } from '../../../src/observe/metrics.ts';
import type { Metrics } from '../../../src/observe/metrics.ts';
import { createCertificateAuthority, createServingCertificate } from '../../../src/tls/certificates.ts';
import { createSwappableTlsSource } from '../../../src/tls/tls-source.ts';
import type { SwappableTlsSource } from '../../../src/tls/tls-source.ts';
import { sendHttps } from './https-client.ts';
import { openRawTlsConnection } from './raw-tls-connection.ts';
import type { HttpsRequest } from './https-client.ts';
import { createLoopbackServing } from '../../helpers/certificates.ts';

const mebibyte = 1024 * 1024;
const now = new Date();
const { ca, serving } = createLoopbackServing('test-ca');

/**
 * Stands in for the real review pipeline: the uid picks the behaviour, and the AdmissionReview it
 * answers echoes the uid so the test sees its own reply.
 */
const fakeHandleReview: ReviewHandler = (endpoint, body) => {
  const request = (body as { request?: { uid?: string; object?: { note?: string } } }).request;
  const uid = request?.uid;
  if (uid === 'throw') throw new Error('pipeline exploded');
  if (uid === 'reject') throw Object.assign(new Error('looks like a client error'), { statusCode: 400 });
  if (uid === undefined) return { kind: 'bad-request', status: 400, code: 'REVIEW_NO_UID', message: 'request.uid is missing' };
  const reviewed = {
    kind: 'reviewed' as const,
    body: {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid, allowed: true, noteLength: request?.object?.note?.length ?? 0 },
    },
    log: { uid, namespace: 'team-a', pod: 'web-0', rule: 'untrusted', action: 'sandbox', runtime: 'gvisor' },
    metrics: { endpoint, resource: 'pod', rule: 'untrusted', runtime: 'gvisor', action: 'patched' as const, mode: 'enforce' },
    violationKinds: [],
  };
  // Exercise the async form of the contract too.
  return uid.startsWith('async') ? Promise.resolve(reviewed) : reviewed;
};

type Harness = {
  server: AdmissionServer;
  port: number;
  logs: Array<Record<string, unknown>>;
  metrics: Metrics;
  tls: SwappableTlsSource;
  readiness: { current: ReadinessReport };
  call(request: Omit<HttpsRequest, 'port' | 'ca'>): ReturnType<typeof sendHttps>;
};

async function startServer(): Promise<Harness> {
  const logs: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => void logs.push(JSON.parse(line)) } });
  const metrics = createMetrics();
  const tls = createSwappableTlsSource({ key: serving.keyPem, cert: serving.certPem });
  const readiness = { current: { ready: false, detail: { policy: 'loading' } } as ReadinessReport };
  // Not a load-shedding test (load-shedding.test.ts is): on a busy machine a slow set-up step must not read as a
  // lagging event loop and turn these answers into 503s.
  const server = buildServer({
    logger,
    metrics,
    handleReview: fakeHandleReview,
    readiness: () => readiness.current,
    tls,
    loadLimits: { maxEventLoopDelayMs: 0 },
  });
  const { port } = await listen(server, { host: '127.0.0.1', port: 0 });
  return {
    server,
    port,
    logs,
    metrics,
    tls,
    readiness,
    call: (request) => sendHttps({ ...request, port, ca: ca.certPem }),
  };
}

function buildReview(uid: string, object: Record<string, unknown> = {}): string {
  return JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid, object } });
}

const json = { 'content-type': 'application/json' };

describe('admission HTTPS server', () => {
  let h: Harness;
  before(async () => {
    h = await startServer();
  });
  after(async () => {
    await h.server.close();
  });

  function postReview(path: string, body: string | Buffer, headers: Record<string, string> = json) {
    return h.call({ method: 'POST', path, headers, body, servername: 'localhost' });
  }

  function linesWith(message: string) {
    return h.logs.filter((line) => line['msg'] === message);
  }

  it('relays the reviewed AdmissionReview with 200 and logs exactly one decision line', async () => {
    const reply = await postReview('/mutate', buildReview('uid-relay'));
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers['content-type']), /^application\/json/);
    assert.deepEqual(JSON.parse(reply.text), {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'uid-relay', allowed: true, noteLength: 0 },
    });
    const decisions = linesWith('admission decision').filter((line) => line['uid'] === 'uid-relay');
    assert.equal(decisions.length, 1);
    const [line] = decisions;
    assert.equal(line?.['level'], 'info');
    assert.equal(line?.['endpoint'], 'mutate');
    assert.equal(line?.['rule'], 'untrusted');
    assert.equal(line?.['runtime'], 'gvisor');
    assert.equal(typeof line?.['durationMs'], 'number');
    // Fastify's own per-request lines are off: nothing else was logged for this request.
    const reqId = line?.['reqId'];
    assert.deepEqual(
      h.logs.filter((l) => l['reqId'] === reqId).map((l) => l['msg']),
      ['admission decision'],
    );
  });

  it('serves /validate through the same pipeline, and async handlers too', async () => {
    const reply = await postReview('/validate', buildReview('async-validate'));
    assert.equal(reply.status, 200);
    assert.equal(JSON.parse(reply.text).response.uid, 'async-validate');
    const [line] = linesWith('admission decision').filter((l) => l['uid'] === 'async-validate');
    assert.equal(line?.['endpoint'], 'validate');
  });

  it('verifies against the CA by IP address without SNI as well', async () => {
    const reply = await h.call({ path: '/healthz' });
    assert.equal(reply.status, 200);
    assert.equal(reply.peerFingerprint, new X509Certificate(serving.certPem).fingerprint256);
  });

  it('is refused by a client that trusts another CA', async () => {
    const stranger = createCertificateAuthority({ commonName: 'stranger', validityDays: 1, now });
    await assert.rejects(
      sendHttps({ port: h.port, ca: stranger.certPem, path: '/healthz', servername: 'localhost' }),
      (error: NodeJS.ErrnoException) => {
        assert.match(String(error.code), /UNABLE_TO_VERIFY|SELF_SIGNED|CERT/);
        return true;
      },
    );
  });

  it('answers a bad-request outcome with its status and a JSON error, and one warn line', async () => {
    const reply = await postReview('/mutate', JSON.stringify({ kind: 'AdmissionReview' }));
    assert.equal(reply.status, 400);
    assert.deepEqual(JSON.parse(reply.text), { code: 'REVIEW_NO_UID', message: 'request.uid is missing' });
    const warnings = linesWith('admission request rejected').filter((l) => l['code'] === 'REVIEW_NO_UID');
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.['level'], 'warn');
  });

  it('answers malformed JSON with 400 and keeps serving', async () => {
    for (const body of ['{"request": ', 'not json at all', '{"__proto__": {"polluted": true}}']) {
      const reply = await postReview('/mutate', body);
      assert.equal(reply.status, 400, body);
      assert.equal(JSON.parse(reply.text).code, 'MALFORMED_JSON', body);
      // A refused body may still be arriving: the connection is closed, not read out (as fastify's parser did).
      assert.equal(reply.headers['connection'], 'close', body);
    }
    const empty = await postReview('/mutate', '');
    assert.equal(empty.status, 400);
    assert.equal(JSON.parse(empty.text).code, 'EMPTY_BODY');
    assert.equal((await postReview('/mutate', buildReview('after-malformed'))).status, 200);
  });

  it('answers a wrong or missing Content-Type with 415 and a JSON error', async () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/yaml']) {
      const reply = await postReview('/mutate', buildReview('wrong-type'), { 'content-type': contentType });
      assert.equal(reply.status, 415, contentType);
      assert.deepEqual(JSON.parse(reply.text), { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Content-Type must be application/json' });
    }
    const missing = await h.call({ method: 'POST', path: '/mutate', servername: 'localhost' });
    assert.equal(missing.status, 415);
    assert.equal(JSON.parse(missing.text).code, 'UNSUPPORTED_MEDIA_TYPE');
    const withCharset = await postReview('/mutate', buildReview('charset'), { 'content-type': 'application/json; charset=utf-8' });
    assert.equal(withCharset.status, 200);
  });

  it('accepts a 6 MiB review (an UPDATE of a large object: object and oldObject of 3 MiB each)', async () => {
    const note = 'x'.repeat(6 * mebibyte);
    const reply = await postReview('/mutate', buildReview('big', { note }));
    assert.equal(reply.status, 200);
    assert.equal(JSON.parse(reply.text).response.noteLength, note.length);
  });

  it('refuses a body over the limit with 413, with or without Content-Length', async () => {
    const body = Buffer.from(buildReview('too-big', { note: 'x'.repeat(7 * mebibyte) }));
    const declared = await postReview('/mutate', body);
    assert.equal(declared.status, 413);
    assert.deepEqual(JSON.parse(declared.text), { code: 'BODY_TOO_LARGE', message: `request body is larger than ${6.5 * mebibyte} bytes` });
    const streamed = await h.call({ method: 'POST', path: '/validate', headers: json, body, chunked: true, servername: 'localhost' });
    assert.equal(streamed.status, 413);
    assert.equal(JSON.parse(streamed.text).code, 'BODY_TOO_LARGE');
    assert.equal((await postReview('/mutate', buildReview('after-413'))).status, 200);
  });

  it('turns a throw in the review pipeline into 500 with an error line, and stays up', async () => {
    for (const uid of ['throw', 'reject']) {
      const reply = await postReview('/mutate', buildReview(uid));
      assert.equal(reply.status, 500, uid);
      assert.deepEqual(JSON.parse(reply.text), { code: 'INTERNAL_ERROR', message: 'internal error while handling the request' });
    }
    const errors = linesWith('admission request failed');
    assert.equal(errors.length, 2);
    assert.equal(errors[0]?.['level'], 'error');
    assert.equal((errors[0]?.['err'] as { message: string } | undefined)?.message, 'pipeline exploded');
    assert.equal((await postReview('/mutate', buildReview('after-500'))).status, 200);
  });

  it('sets keep-alive longer than the API server idle timeout and bounds slow requests', async () => {
    assert.equal(h.server.server.keepAliveTimeout, 120_000);
    assert.equal(h.server.server.requestTimeout, 30_000);
    assert.equal(h.server.server.headersTimeout, 10_000);
    // A request timeout under the headers timeout is the caller's choice, not a constructor error.
    const short = buildServer({
      logger: createLogger({ level: 'silent' }),
      metrics: createMetrics(),
      handleReview: fakeHandleReview,
      readiness: () => ({ ready: true }),
      tls: h.tls,
      timeouts: { requestMs: 3000 },
    });
    assert.equal(short.server.requestTimeout, 3000);
    await short.close();
  });

  it('answers unknown paths with a JSON 404', async () => {
    const reply = await h.call({ path: '/nope', servername: 'localhost' });
    assert.equal(reply.status, 404);
    assert.equal(JSON.parse(reply.text).code, 'NOT_FOUND');
    assert.equal((await h.call({ path: '/mutate', servername: 'localhost' })).status, 404);
    for (const path of ['/mutate/', '/mutatex', '/Mutate', '/validate/x']) {
      const near = await postReview(path, buildReview('near-miss'));
      assert.equal(near.status, 404, path);
      assert.equal(JSON.parse(near.text).code, 'NOT_FOUND', path);
    }
  });

  it('serves the webhook path with the query the API server adds (?timeout=10s)', async () => {
    for (const path of ['/mutate?timeout=10s', '/validate?timeout=30s']) {
      const reply = await postReview(path, buildReview(`query-${path.slice(1, 4)}`));
      assert.equal(reply.status, 200, path);
    }
  });

  it('reports liveness always and readiness from the readiness check', async () => {
    const live = await h.call({ path: '/healthz' });
    assert.equal(live.status, 200);
    assert.equal(live.text, 'ok');

    h.readiness.current = { ready: false, detail: { policy: 'loading' } };
    const notReady = await h.call({ path: '/readyz' });
    assert.equal(notReady.status, 503);
    assert.deepEqual(JSON.parse(notReady.text), { ready: false, detail: { policy: 'loading' } });

    h.readiness.current = { ready: true, detail: { policy: 'v3' } };
    const ready = await h.call({ path: '/readyz' });
    assert.equal(ready.status, 200);
    assert.deepEqual(JSON.parse(ready.text), { ready: true, detail: { policy: 'v3' } });
  });

  it('exposes Prometheus metrics that count what happened', async () => {
    const reply = await h.call({ path: '/metrics' });
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers['content-type']), /^text\/plain/);
    const text = reply.text;
    assert.match(
      text,
      /sandbox_admission_decisions_total\{endpoint="mutate",resource="pod",rule="untrusted",runtime="gvisor",action="patched",mode="enforce"\} \d+/,
    );
    assert.match(text, /sandbox_admission_decisions_total\{endpoint="validate",[^}]*\} \d+\n/);
    for (const code of ['MALFORMED_JSON', 'EMPTY_BODY', 'UNSUPPORTED_MEDIA_TYPE', 'BODY_TOO_LARGE', 'REVIEW_NO_UID']) {
      assert.match(text, new RegExp(`sandbox_admission_bad_requests_total\\{code="${code}"\\} \\d+`), code);
    }
    assert.match(text, /sandbox_admission_internal_errors_total\{endpoint="mutate"\} 2\n/);
    assert.match(text, /sandbox_admission_request_duration_seconds_count\{endpoint="mutate"\} \d+/);
    assert.match(text, /process_resident_memory_bytes/);
  });
});

describe('certificate rotation', () => {
  let h: Harness;
  before(async () => {
    h = await startServer();
  });
  after(async () => {
    await h.server.close();
  });

  it('serves a swapped certificate to new connections without a restart', async () => {
    const before = await h.call({ path: '/healthz', servername: 'localhost' });
    assert.equal(before.peerFingerprint, new X509Certificate(serving.certPem).fingerprint256);

    const next = createServingCertificate(ca, {
      commonName: 'localhost',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      validityDays: 1,
      now,
    });
    h.tls.set({ key: next.keyPem, cert: next.certPem });
    const nextFingerprint = new X509Certificate(next.certPem).fingerprint256;

    const withSni = await h.call({ path: '/healthz', servername: 'localhost' });
    assert.equal(withSni.peerFingerprint, nextFingerprint);
    const withoutSni = await h.call({ path: '/healthz' });
    assert.equal(withoutSni.peerFingerprint, nextFingerprint);
    assert.equal(h.logs.filter((l) => l['msg'] === 'serving certificate changed').length, 1);
  });

  it('keeps the previous certificate when the new key does not match, and says so once', async () => {
    const served = (await h.call({ path: '/healthz' })).peerFingerprint;
    const other = createServingCertificate(ca, {
      commonName: 'localhost',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      validityDays: 1,
      now,
    });
    h.tls.set({ key: ca.keyPem, cert: other.certPem });
    assert.equal((await h.call({ path: '/healthz' })).peerFingerprint, served);
    assert.equal((await h.call({ path: '/healthz' })).peerFingerprint, served);
    const rejected = h.logs.filter((l) => l['msg'] === 'new serving certificate rejected; keeping the previous one');
    assert.equal(rejected.length, 1);
    assert.equal(rejected[0]?.['level'], 'error');
  });
});

describe('graceful close', () => {
  it('closes a kept-alive connection its client leaves open once it has been idle, and finishes', async () => {
    const h = await startServer();
    const { socket, received, closed } = await openRawTlsConnection(h.port, ca.certPem);
    socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    while (!received().includes('\r\n\r\nok')) await new Promise((resolve) => setTimeout(resolve, 10));
    const started = Date.now();
    // The client never closes: the server must, after idleCloseMs, and not wait for the deadline.
    await closeGracefully(h.server, 0, { idleCloseMs: 200, deadlineMs: 20_000 });
    await closed;
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  });

  it('keeps serving during the drain delay, then stops accepting connections', async () => {
    const h = await startServer();
    const closing = closeGracefully(h.server, 300);
    assert.equal((await h.call({ path: '/healthz' })).status, 200);
    await closing;
    await assert.rejects(h.call({ path: '/healthz' }), (error: NodeJS.ErrnoException) => error.code === 'ECONNREFUSED');
  });
});
