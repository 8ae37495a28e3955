// The API client over real HTTPS on loopback: CA verification, credentials and headers as sent, a Status error
// as KubeApiError, and a watch whose events arrive split across TCP chunks.
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { KubeApiError, type WatchEvent } from '../../../src/kube/api-client.ts';
import { createHttpsClient } from '../../../src/kube/https-client.ts';
import type { ClusterConnection } from '../../../src/kube/kube-config.ts';
import { createLoopbackServing } from '../../helpers/certificates.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

describe('createHttpsClient against a loopback HTTPS server', () => {
  let server: Server;
  let url: string;
  let caPem: string;
  const seen: Seen[] = [];
  let route: (req: IncomingMessage, res: ServerResponse, body: string) => void = () => undefined;

  before(async () => {
    const { ca, serving } = createLoopbackServing('kube-client-ca');
    caPem = ca.certPem;
    server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString('utf8');
      });
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        route(req, res, body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const connection = (ca: string, token = 'tok'): ClusterConnection => ({
    server: url,
    source: 'test',
    requestOptions: async () => ({ ca, headers: { Authorization: `Bearer ${token}` } }),
  });

  it('sends JSON with the credentials, content type, query and user agent, and decodes the answer', async () => {
    route = (_req, res) => res.writeHead(201, { 'content-type': 'application/json' }).end('{"kind":"Event","ok":true}');
    const client = createHttpsClient(connection(caPem), { userAgent: 'sandbox-admission/test' });
    const answer = await client.request<{ ok: boolean }>({
      method: 'PATCH',
      path: '/api/v1/namespaces/a b/events',
      query: { fieldManager: 'sandbox-admission', force: true, skipped: undefined },
      body: { spec: { x: 1 } },
      contentType: 'application/apply-patch+yaml',
    });
    assert.equal(answer.ok, true);
    const last = seen.at(-1)!;
    assert.equal(last.method, 'PATCH');
    assert.equal(last.url, '/api/v1/namespaces/a%20b/events?fieldManager=sandbox-admission&force=true');
    assert.equal(last.headers.authorization, 'Bearer tok');
    assert.equal(last.headers['content-type'], 'application/apply-patch+yaml');
    assert.equal(last.headers['user-agent'], 'sandbox-admission/test');
    assert.equal(last.headers.accept, 'application/json');
    assert.equal(last.body, '{"spec":{"x":1}}');
  });

  it('a non-2xx answer is a KubeApiError with the code, reason and message of its Status', async () => {
    route = (_req, res) =>
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ kind: 'Status', code: 404, reason: 'NotFound', message: 'namespaces "x" not found' }));
    const client = createHttpsClient(connection(caPem), { userAgent: 'test' });
    await assert.rejects(client.request({ method: 'GET', path: '/api/v1/namespaces/x' }), (error: unknown) => {
      assert.ok(error instanceof KubeApiError);
      assert.equal(error.code, 404);
      assert.equal(error.reason, 'NotFound');
      assert.equal(error.message, 'GET /api/v1/namespaces/x: 404 namespaces "x" not found');
      return true;
    });
  });

  it('refuses a server its CA did not sign', async () => {
    const other = createLoopbackServing('another-ca').ca.certPem;
    const client = createHttpsClient(connection(other), { userAgent: 'test' });
    const before = seen.length;
    await assert.rejects(client.request({ method: 'GET', path: '/version' }), /self-signed|unable to verify|certificate/i);
    assert.equal(seen.length, before, 'no request reached the server');
  });

  it('streams watch events split across chunks, reports the connection before any event, and ends with the stream', async () => {
    route = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const lines = `${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a', resourceVersion: '2' } } })}\n${JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '3' } } })}\n`;
      const cut = 17;
      res.write(lines.slice(0, cut));
      setTimeout(() => {
        res.write(lines.slice(cut, cut + 40));
        setTimeout(() => res.end(lines.slice(cut + 40)), 20);
      }, 20);
    };
    const client = createHttpsClient(connection(caPem), { userAgent: 'test' });
    let connectedBeforeEvents = false;
    const events: WatchEvent[] = [];
    for await (const event of client.watch(
      '/api/v1/namespaces',
      { resourceVersion: '1', allowWatchBookmarks: true },
      new AbortController().signal,
      () => {
        connectedBeforeEvents = events.length === 0;
      },
    ))
      events.push(event);
    assert.equal(connectedBeforeEvents, true);
    assert.deepEqual(
      events.map((e) => e.type),
      ['ADDED', 'BOOKMARK'],
    );
    assert.equal(seen.at(-1)!.url, '/api/v1/namespaces?resourceVersion=1&allowWatchBookmarks=true&watch=true');
  });

  it('a refused watch throws KubeApiError; aborting a held-open watch ends it', async () => {
    route = (_req, res) =>
      res.writeHead(403, { 'content-type': 'application/json' }).end('{"kind":"Status","code":403,"message":"forbidden"}');
    const client = createHttpsClient(connection(caPem), { userAgent: 'test' });
    await assert.rejects(
      (async () => {
        for await (const _ of client.watch('/api/v1/pods', {}, new AbortController().signal)) assert.fail('no event expected');
      })(),
      (error: unknown) => error instanceof KubeApiError && error.code === 403,
    );
    route = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).write('');
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 50);
    const started = Date.now();
    await assert.rejects(async () => {
      for await (const _ of client.watch('/api/v1/pods', {}, abort.signal)) assert.fail('no event expected');
    }, /abort/i);
    assert.ok(Date.now() - started < 2000);
  });
});
