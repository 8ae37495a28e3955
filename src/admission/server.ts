import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer, type ServerOptions as HttpsServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fastify } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Metrics } from '../observe/metrics.ts';
import { bindTlsSource } from '../tls/tls-source.ts';
import { serverTlsSettings } from '../tls/tls-settings.ts';
import type { TlsSource } from '../tls/tls-source.ts';
import type { ClientAuth } from './client-auth.ts';
import { type ConnectionDrain, trackConnections } from './connection-drain.ts';
import { buildHttpError, buildNotFoundError } from './http-errors.ts';
import { defaultLoadLimits, type LoadLimits } from './load-shedding.ts';
import { registerHealthRoutes, sendError } from './health-routes.ts';
import type { ReadinessCheck } from './health-routes.ts';
import { createLogController } from './log-controller.ts';
import { createReviewLane } from './review-lane.ts';
import type { ReviewHandler } from './review-outcome.ts';

export type AdmissionServer = FastifyInstance<HttpsServer, IncomingMessage, ServerResponse, FastifyBaseLogger>;

export type ServerTimeouts = {
  /** Idle keep-alive connections are closed after this long. */
  keepAliveMs: number;
  /** The whole request, body included, must arrive within this. */
  requestMs: number;
  /** The request headers must arrive within this (slow-loris guard). */
  headersMs: number;
};

export type ServerOptions = {
  logger: Logger;
  metrics: Metrics;
  handleReview: ReviewHandler;
  readiness: ReadinessCheck;
  /** Read once at start and again on each new connection, so rotated certificates need no restart. */
  tls: TlsSource;
  bodyLimitBytes?: number;
  /** What the admission routes take on at once; past it they shed (load-shedding.ts). */
  loadLimits?: Partial<LoadLimits>;
  timeouts?: Partial<ServerTimeouts>;
  /** Admission routes only answer callers with a client certificate from this CA (the API server). */
  clientAuth?: ClientAuth;
};

/**
 * The largest AdmissionReview the API server can send. It refuses request bodies over 3 MiB
 * (MaxRequestBodyBytes, fixed in k8s.io/apiserver), so `object` is at most 3 MiB of JSON; `oldObject` was
 * stored, and etcd stores at most 1.5 MiB (--max-request-bytes) in the storage encoding, which the API server
 * accepts as up to 3 MiB of JSON (its own "2x" reasoning for the 3 MiB limit). Both plus the envelope (uid,
 * kind, resource, userInfo with groups and extra, options: a few KiB) and JSON escaping slack:
 * 3 MiB + 3 MiB + 512 KiB = 6.5 MiB. A larger body cannot come from the API server (413, unread).
 */
export const defaultBodyLimitBytes = 6.5 * 1024 * 1024;

export const defaultTimeouts: ServerTimeouts = {
  // Longer than the API server's idle-connection timeout (Go's 90s): the client must be the one to
  // close an idle connection, or a request sent just as we close it fails the admission call.
  keepAliveMs: 120_000,
  // The API server gives up on a webhook after at most 30s, so a request still arriving is useless.
  requestMs: 30_000,
  headersMs: 10_000,
};

/**
 * The HTTPS admission server, not listening: call `listen`. Reviews take their own lane on the node:https server
 * (review-lane.ts); fastify serves the health probes, /metrics and the 404s.
 */
export function buildServer(options: ServerOptions): AdmissionServer {
  const bodyLimitBytes = options.bodyLimitBytes ?? defaultBodyLimitBytes;
  const timeouts = { ...defaultTimeouts, ...options.timeouts };
  const initial = options.tls.current();
  // Ask for a client certificate and verify it, without failing the handshake: probes present none (client-auth.ts).
  const clientTls = options.clientAuth ? { ca: options.clientAuth.caPem } : {};
  const https: HttpsServerOptions = {
    ...serverTlsSettings,
    ...clientTls,
    ...(options.clientAuth ? { requestCert: true, rejectUnauthorized: false } : {}),
    key: initial.key,
    cert: initial.cert,
    headersTimeout: timeouts.headersMs,
  };
  const nextRequestId = requestIds();
  let drain: ConnectionDrain | undefined;
  const lane = createReviewLane({
    handleReview: options.handleReview,
    metrics: options.metrics,
    logger: options.logger,
    bodyLimitBytes,
    loadLimits: { ...defaultLoadLimits(), ...options.loadLimits },
    ...(options.clientAuth ? { clientAuth: options.clientAuth } : {}),
    nextRequestId,
    draining: () => drain?.closing === true,
  });
  const app = fastify({
    // For fastify's own use (the listening address it logs); the server itself is built below.
    https,
    serverFactory: (fastifyHandler) => {
      const server = createHttpsServer(https, (request, response) => {
        if (!lane.serve(request, response)) fastifyHandler(request, response);
      });
      // Set after construction, as fastify does: the constructor refuses a requestTimeout under headersTimeout.
      server.keepAliveTimeout = timeouts.keepAliveMs;
      server.requestTimeout = timeouts.requestMs;
      return server;
    },
    genReqId: nextRequestId,
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: createLogController(),
    bodyLimit: bodyLimitBytes,
    // closeGracefully has drained every connection before fastify's own close; one that is left gets a 503.
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  drain = trackConnections(app.server);
  drains.set(app, drain);
  app.addHook('preClose', (done) => {
    lane.refuseNew();
    done();
  });
  app.addHook('onClose', (_instance, done) => {
    lane.stop();
    done();
  });
  // While closing, every answer tells the client not to reuse the connection (connection-drain.ts).
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (drain?.closing) reply.header('connection', 'close');
    done(null, payload);
  });
  bindTlsSource(app.server, options.tls, options.logger, { ...serverTlsSettings, ...clientTls });
  registerHealthRoutes(app, { readiness: options.readiness, metrics: options.metrics });

  app.setNotFoundHandler((request, reply) => {
    sendError(reply, buildNotFoundError(request.method, request.url));
  });
  app.setErrorHandler((error, request, reply) => {
    const httpError = buildHttpError(error, bodyLimitBytes);
    if (httpError.status >= 500) request.log.error({ err: error, url: request.url }, 'request failed');
    sendError(reply, httpError);
  });
  return app;
}

/** fastify's own request id format (req-1, req-2, ...), one sequence for both lanes. */
function requestIds(): () => string {
  let next = 0;
  return () => {
    // Wraps at the largest small integer, as fastify's does, so the counter never leaves V8's fast path.
    next = (next + 1) & 0x7fffffff;
    return `req-${next.toString(36)}`;
  };
}

export async function listen(server: AdmissionServer, options: { host: string; port: number }): Promise<AddressInfo> {
  await server.listen({ host: options.host, port: options.port });
  return server.server.address() as AddressInfo;
}

const drains = new WeakMap<AdmissionServer, ConnectionDrain>();

export type DrainOptions = {
  /** A keep-alive connection idle this long after closing began is closed by the server. */
  idleCloseMs: number;
  /** Give up waiting for connections to finish after this long (the API server's webhook timeout is at most 30 s). */
  deadlineMs: number;
};

// preStop sleep (5 s) + --drain-delay (5 s) + this stays inside the Deployment's terminationGracePeriodSeconds (30).
const defaultDrain: DrainOptions = { idleCloseMs: 1000, deadlineMs: 15_000 };

/**
 * SIGTERM handling, without a failed request: keep serving for `delayMs` while the endpoint removal reaches every
 * API server (they keep sending reviews to this pod until then); then answer everything with `Connection: close`
 * (in-flight reviews too), stop accepting connections, close each kept-alive connection once it has been idle for
 * `idleCloseMs`, and close the server when none is left (connection-drain.ts says why not all at once).
 */
export async function closeGracefully(server: AdmissionServer, delayMs: number, options: Partial<DrainOptions> = {}): Promise<void> {
  const { idleCloseMs, deadlineMs } = { ...defaultDrain, ...options };
  if (delayMs > 0) await sleep(delayMs);
  const drain = drains.get(server);
  if (drain) {
    drain.beginClosing();
    await drain.stopListening();
    const deadline = Date.now() + deadlineMs;
    while (drain.closeIdle(idleCloseMs) > 0 && Date.now() < deadline) await sleep(50);
  }
  await server.close();
}
