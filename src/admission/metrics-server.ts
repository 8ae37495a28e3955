import { createServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { serverTlsSettings } from '../tls/tls-settings.ts';
import { bindTlsSource, type TlsSource, type TlsSwapLog } from '../tls/tls-source.ts';

export interface MetricsServer {
  address: AddressInfo;
  close(): Promise<void>;
}

/**
 * GET /metrics alone, on a port of its own (--metrics-port), over HTTPS with the serving certificate: a
 * NetworkPolicy can then open this port to Prometheus and the admission port to the API server only, and
 * Prometheus verifies the certificate with the webhook's CA (the ServiceMonitor's tlsConfig). Nothing here reads
 * a request body, and a scrape never waits behind admission load shedding.
 */
export async function startMetricsServer(options: {
  host: string;
  port: number;
  registry: Registry;
  tls: TlsSource;
  log: TlsSwapLog;
}): Promise<MetricsServer> {
  const { registry } = options;
  const initial = options.tls.current();
  const server: HttpsServer = createServer(
    { ...serverTlsSettings, key: initial.key, cert: initial.cert, headersTimeout: 10_000, requestTimeout: 30_000 },
    (request, response) => {
      const path = (request.url ?? '/').split('?', 1)[0];
      if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
        response.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
        response.end(JSON.stringify({ code: 'NOT_FOUND', message: `${request.method} ${path}: this port serves GET /metrics only` }));
        return;
      }
      registry.metrics().then(
        (text) => {
          response.writeHead(200, { 'content-type': registry.contentType });
          response.end(request.method === 'HEAD' ? undefined : text);
        },
        (error: unknown) => {
          options.log.error({ err: error }, 'metrics collection failed');
          response.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
          response.end(JSON.stringify({ code: 'INTERNAL_ERROR', message: 'metrics collection failed' }));
        },
      );
    },
  );
  server.keepAliveTimeout = 120_000;
  bindTlsSource(server, options.tls, options.log, serverTlsSettings);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    address: server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
