import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';

/**
 * A loopback stand-in for the list/watch part of the Kubernetes API that the webhook's cluster mode reads at start:
 * namespaces (N of them, 10 labels each, as a namespace of a large multi-tenant cluster carries), RuntimeClasses,
 * and the generated admission policies of the drift check (none). Lists are paged when the client asks (limit);
 * watches are held open without events; the watch and list requests are timed, so that the benchmark can report
 * cache sync apart from start-up. HTTPS on 127.0.0.1 with the benchmark's serving certificate (client-node refuses
 * plain HTTP unless TLS verification is off, which the webhook never does). Anything else answers 404 with a Status.
 */

export interface FakeApiServer {
  url: string;
  /** performance.now() (of this process) of the first list request, and of the watch started after each resource's list. */
  timings(): { firstListAt?: number; watchesAt: Map<string, number> };
  requests(): string[];
  close(): Promise<void>;
}

export function namespaceObject(i: number, labels = 10): Record<string, unknown> {
  const name = `tenant-${String(i).padStart(5, '0')}`;
  const l: Record<string, string> = { 'kubernetes.io/metadata.name': name };
  for (let k = 1; k < labels; k++) l[`example.com/label-${k}`] = `value-${k}-${i % 97}`;
  return {
    metadata: {
      name,
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resourceVersion: String(1000 + i),
      creationTimestamp: '2026-11-01T00:00:00Z',
      labels: l,
      managedFields: [],
    },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

const runtimeClasses = [
  { metadata: { name: 'gvisor', resourceVersion: '10' }, handler: 'runsc' },
  { metadata: { name: 'kata', resourceVersion: '11' }, handler: 'kata' },
];

export async function startFakeApiServer(options: { namespaces: number; certFile: string; keyFile: string }): Promise<FakeApiServer> {
  // Items as JSON text, pages built per request: `limit` and `continue` (an offset here) are honoured as the API
  // server honours them, so a client that pages gets pages and one that does not gets everything at once.
  const lists: Record<string, { kind: string; apiVersion: string; items: string[] }> = {
    '/api/v1/namespaces': {
      kind: 'NamespaceList',
      apiVersion: 'v1',
      items: Array.from({ length: options.namespaces }, (_, i) => JSON.stringify(namespaceObject(i))),
    },
    '/apis/node.k8s.io/v1/runtimeclasses': {
      kind: 'RuntimeClassList',
      apiVersion: 'node.k8s.io/v1',
      items: runtimeClasses.map((rc) => JSON.stringify(rc)),
    },
    '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies': {
      kind: 'ValidatingAdmissionPolicyList',
      apiVersion: 'admissionregistration.k8s.io/v1',
      items: [],
    },
    '/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicies': {
      kind: 'MutatingAdmissionPolicyList',
      apiVersion: 'admissionregistration.k8s.io/v1',
      items: [],
    },
  };
  const page = (list: (typeof lists)[string], query: URLSearchParams): string => {
    const start = Number(query.get('continue') ?? 0);
    const limit = Number(query.get('limit') ?? 0);
    const end = limit > 0 ? Math.min(start + limit, list.items.length) : list.items.length;
    const metadata = { resourceVersion: '50000', ...(end < list.items.length ? { continue: String(end) } : {}) };
    return `{"kind":"${list.kind}","apiVersion":"${list.apiVersion}","metadata":${JSON.stringify(metadata)},"items":[${list.items.slice(start, end).join(',')}]}`;
  };
  let firstListAt: number | undefined;
  const watchesAt = new Map<string, number>();
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  const tls = { cert: readFileSync(options.certFile, 'utf8'), key: readFileSync(options.keyFile, 'utf8') };
  const server: Server = createServer(tls, (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://fake');
    seen.push(`${request.method} ${url.pathname}${url.search}`);
    const list = request.method === 'GET' ? lists[url.pathname] : undefined;
    if (list !== undefined && url.searchParams.get('watch') === 'true') {
      watchesAt.set(url.pathname, performance.now());
      // A watch with nothing to report: headers now, events never; the benchmark closes it.
      response.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      response.flushHeaders();
      return;
    }
    if (list !== undefined) {
      firstListAt ??= performance.now();
      response.writeHead(200, { 'content-type': 'application/json' }).end(page(list, url.searchParams));
      return;
    }
    response.writeHead(404, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        reason: 'NotFound',
        code: 404,
        message: `${url.pathname} not found`,
      }),
    );
  });
  server.on('secureConnection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    timings: () => ({ ...(firstListAt !== undefined ? { firstListAt } : {}), watchesAt }),
    requests: () => [...seen],
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A kubeconfig for the fake: one cluster verified against the benchmark's CA, one (unchecked) token. */
export function writeKubeconfig(file: string, url: string, caPem: string): void {
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: url, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
      users: [{ name: 'bench', user: { token: 'bench' } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'bench', namespace: 'sandbox-admission' } }],
      'current-context': 'fake',
    }),
    { mode: 0o600 },
  );
}
