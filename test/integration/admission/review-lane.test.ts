// The review lane (src/admission/review-lane.ts) on the real server: what fastify used to do for the admission
// routes and the lane now does itself, where server.test.ts does not already show it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { defaultLoadLimits } from '../../../src/admission/load-shedding.ts';
import { createReviewLane } from '../../../src/admission/review-lane.ts';
import { buildServer, listen, type AdmissionServer } from '../../../src/admission/server.ts';
import type { ReviewHandler, ReviewOutcome } from '../../../src/admission/review-outcome.ts';
import { createLogger } from '../../../src/observe/logger.ts';
import { createMetrics } from '../../../src/observe/metrics.ts';
import { createSwappableTlsSource } from '../../../src/tls/tls-source.ts';
import { createLoopbackServing } from '../../helpers/certificates.ts';
import { openRawTlsConnection } from './raw-tls-connection.ts';

const { ca, serving } = createLoopbackServing('lane-ca');

function answer(uid: string): ReviewOutcome {
  return {
    kind: 'reviewed',
    body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true } },
    log: { uid },
    metrics: { endpoint: 'mutate', resource: 'pod', rule: 'none', runtime: 'none', action: 'allowed', mode: 'none' },
  };
}

function reviewRequest(uid: string, path = '/mutate'): string {
  const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid } });
  return `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

function openConnection(port: number) {
  return openRawTlsConnection(port, ca.certPem);
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('review lane', () => {
  let server: AdmissionServer;
  let port: number;
  const logs: Array<Record<string, unknown>> = [];
  const handleReview: ReviewHandler = (_endpoint, body) => answer(String((body as { request: { uid: string } }).request.uid));
  before(async () => {
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => void logs.push(JSON.parse(line)) } });
    server = buildServer({
      logger,
      metrics: createMetrics(),
      handleReview,
      readiness: () => ({ ready: true }),
      tls: createSwappableTlsSource({ key: serving.keyPem, cert: serving.certPem }),
      loadLimits: { maxEventLoopDelayMs: 0 },
    });
    ({ port } = await listen(server, { host: '127.0.0.1', port: 0 }));
  });
  after(async () => {
    await server.close();
  });

  it('gives every request its own id, one sequence with the requests fastify serves', async () => {
    const connection = await openConnection(port);
    connection.socket.write(reviewRequest('id-a') + reviewRequest('id-b', '/nope') + reviewRequest('id-c', '/validate?timeout=10s'));
    await waitFor(() => (connection.received().match(/HTTP\/1\.1 /g) ?? []).length === 3, 'three answers');
    connection.socket.destroy();
    const ids = ['id-a', 'id-c'].map((uid) => logs.find((line) => line['uid'] === uid)?.['reqId']);
    assert.ok(
      ids.every((id) => typeof id === 'string' && /^req-[0-9a-z]+$/.test(id)),
      JSON.stringify(ids),
    );
    // The 404 in between took the id between them.
    const [first, second] = ids.map((id) => Number.parseInt(String(id).slice(4), 36));
    assert.equal(Number(second) - Number(first), 2);
  });
});

describe('review lane, once its server closes', () => {
  it('refuses every review 503 with Connection: close, and leaves other requests to the next handler', async () => {
    const lane = createReviewLane({
      handleReview: (_endpoint, body) => answer(String((body as { request: { uid: string } }).request.uid)),
      metrics: createMetrics(),
      logger: createLogger({ level: 'info', destination: { write: () => {} } }),
      bodyLimitBytes: 1024 * 1024,
      loadLimits: { ...defaultLoadLimits(), maxEventLoopDelayMs: 0 },
      nextRequestId: () => 'req-1',
      draining: () => false,
    });
    const server = createServer({ key: serving.keyPem, cert: serving.certPem }, (request, response) => {
      if (!lane.serve(request, response)) response.writeHead(204).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const open = await openConnection(port);
      open.socket.write(reviewRequest('before') + reviewRequest('other', '/healthz'));
      await waitFor(() => (open.received().match(/HTTP\/1\.1 /g) ?? []).length === 2, 'two answers');
      assert.match(open.received(), /^HTTP\/1\.1 200 [\s\S]*HTTP\/1\.1 204 /);
      open.socket.destroy();

      lane.refuseNew();
      const late = await openConnection(port);
      late.socket.write(reviewRequest('late'));
      await late.closed;
      const text = late.received();
      assert.match(text, /^HTTP\/1\.1 503 /);
      assert.match(text, /\r\nconnection: close\r\n/i);
      assert.match(text, /\r\nretry-after: 1\r\n/i);
      assert.match(text, /\{"code":"OVERLOADED","message":"the webhook is shutting down; retry"\}$/);
    } finally {
      lane.stop();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
