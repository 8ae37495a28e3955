// Issue 10, item 6: SIGTERM under keep-alive load with zero failed requests. Two replicas, A and B, behind a
// "Service" the test plays: clients keep their established connections (as conntrack does), and new connections
// go to B once A's endpoint is removed, shortly after A is told to stop. Each client is one keep-alive connection
// that sends reviews back to back and reconnects when the server says Connection: close, as the API server's Go
// client does. No request may fail.
import assert from 'node:assert/strict';
import { Agent, request } from 'node:https';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildServer, closeGracefully, listen, type AdmissionServer } from '../../../src/admission/server.ts';
import type { ReviewHandler } from '../../../src/admission/review-outcome.ts';
import { createLogger } from '../../../src/observe/logger.ts';
import { createMetrics } from '../../../src/observe/metrics.ts';
import { createSwappableTlsSource } from '../../../src/tls/tls-source.ts';
import { createLoopbackServing } from '../../helpers/certificates.ts';

const { ca, serving } = createLoopbackServing('drain-ca');
const CLIENTS = 8;

// A review takes a few milliseconds, so that some are always in flight when A starts closing.
const handler: ReviewHandler = async (endpoint, body) => {
  await sleep(3);
  return {
    kind: 'reviewed',
    body: { response: { uid: (body as { request: { uid: string } }).request.uid, allowed: true } },
    log: {},
    metrics: { endpoint, resource: 'pod', rule: 'none', runtime: 'none', action: 'allowed' as const, mode: 'none' },
  };
};

async function startReplica(): Promise<{ server: AdmissionServer; port: number }> {
  const server = buildServer({
    logger: createLogger({ level: 'silent' }),
    metrics: createMetrics(),
    readiness: () => ({ ready: true }),
    tls: createSwappableTlsSource({ key: serving.keyPem, cert: serving.certPem }),
    handleReview: handler,
    loadLimits: { maxEventLoopDelayMs: 0, maxHeapUsedBytes: 0 },
  });
  const { port } = await listen(server, { host: '127.0.0.1', port: 0 });
  return { server, port };
}

type Result = { ok: boolean; port: number; closed: boolean; error?: string };

function post(port: number, agent: Agent, uid: string): Promise<Result> {
  const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid } });
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/validate',
        method: 'POST',
        ca: ca.certPem,
        servername: 'localhost',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () =>
          resolve({
            ok: res.statusCode === 200 && text.includes(uid),
            port,
            closed: res.headers.connection === 'close',
            ...(res.statusCode === 200 ? {} : { error: `HTTP ${res.statusCode}` }),
          }),
        );
      },
    );
    req.on('error', (error) => resolve({ ok: false, port, closed: true, error: (error as NodeJS.ErrnoException).code ?? error.message }));
    req.end(body);
  });
}

describe('graceful shutdown under keep-alive load', () => {
  it(`SIGTERM on one replica with ${CLIENTS} busy keep-alive clients and one idle one: zero failed requests`, {
    timeout: 60_000,
  }, async () => {
    const a = await startReplica();
    const b = await startReplica();
    let endpointRemoved = false;
    let stop = false;
    const results: Result[] = [];
    const client = async (id: number, pauseMs: number) => {
      let agent = new Agent({ keepAlive: true, maxSockets: 1 });
      let port = a.port;
      // Bounded: at most 20 s and 20,000 requests per client.
      const until = Date.now() + 20_000;
      for (let i = 0; !stop && i < 20_000 && Date.now() < until; i++) {
        // A request that needs a new connection is routed by the Service: to B once A's endpoint is gone.
        const reusable = Object.values(agent.freeSockets).some((sockets) => (sockets?.length ?? 0) > 0);
        if (!reusable && endpointRemoved) port = b.port;
        const result = await post(port, agent, `c${id}-${i}`);
        results.push(result);
        if (result.closed) {
          // The server closed this connection: open the next one where the Service sends new connections.
          agent.destroy();
          agent = new Agent({ keepAlive: true, maxSockets: 1 });
          port = endpointRemoved ? b.port : a.port;
        }
        if (pauseMs > 0) await sleep(pauseMs);
      }
      agent.destroy();
    };
    const clients = [...Array.from({ length: CLIENTS }, (_, id) => client(id, 0)), client(CLIENTS, 1_500)];
    await sleep(300);
    // SIGTERM: 400 ms of drain delay (the endpoint removal reaches the Service after 100 ms), then close.
    const closing = closeGracefully(a.server, 400);
    await sleep(100);
    endpointRemoved = true;
    await closing;
    await sleep(2_000);
    stop = true;
    await Promise.all(clients);
    await b.server.close();

    const failed = results.filter((r) => !r.ok);
    const byA = results.filter((r) => r.port === a.port && r.ok).length;
    const byB = results.filter((r) => r.port === b.port && r.ok).length;
    process.stderr.write(
      `[graceful-shutdown] requests ${results.length}, by A ${byA}, by B ${byB}, told to reconnect ${results.filter((r) => r.closed).length}, failed ${failed.length}\n`,
    );
    assert.deepEqual(
      failed.map((r) => `${r.port === a.port ? 'A' : 'B'}: ${r.error}`),
      [],
    );
    assert.ok(byA > CLIENTS && byB > CLIENTS, 'both replicas served');
    assert.equal(a.server.server.listening, false);
  });
});
