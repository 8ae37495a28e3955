import type { TLSSocket } from 'node:tls';
import { fastifyUnderPressure } from '@fastify/under-pressure';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DecisionLabels } from '../observe/decision-counter.ts';
import type { Logger } from 'pino';
import { writeInfoLine } from '../observe/logger.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { ReviewEndpoint, ReviewHandler, ReviewOutcome } from './review-outcome.ts';
import type { AdmissionServer } from './server.ts';
import { checkClientCertificate, type ClientAuth } from './client-auth.ts';
import { buildHttpError, buildInternalError, buildOverloadedError, buildUnsupportedMediaTypeError } from './http-errors.ts';
import type { HttpError } from './http-errors.ts';
import { createInFlightGate, parseContentLength, type InFlightGate, type LoadLimits, type ShedReason } from './load-shedding.ts';

/** `ready: false` turns /readyz into 503; `detail` is shown as-is to whoever probes. */
export type ReadinessReport = { ready: boolean; detail?: Record<string, unknown> };
export type ReadinessCheck = () => ReadinessReport;

export type AdmissionRouteOptions = {
  handleReview: ReviewHandler;
  metrics: Metrics;
  bodyLimitBytes: number;
  loadLimits: LoadLimits;
  clientAuth?: ClientAuth;
};
export type HealthRouteOptions = { readiness: ReadinessCheck; metrics: Metrics };

const endpoints: readonly ReviewEndpoint[] = ['mutate', 'validate'];

/**
 * POST /mutate and /validate: parse, hand to the review pipeline, relay, log one line, count. Both sit in their
 * own fastify scope with the load shedding (load-shedding.ts, @fastify/under-pressure), so health probes and
 * /metrics always answer, however loaded the admission routes are.
 */
export function registerAdmissionRoutes(app: AdmissionServer, options: AdmissionRouteOptions): InFlightGate {
  const { metrics, bodyLimitBytes, loadLimits } = options;
  const gate = createInFlightGate(loadLimits, bodyLimitBytes, ({ requests, largeBodyBytes }) => {
    metrics.inFlightRequests.set(requests);
    metrics.inFlightLargeBodyBytes.set(largeBodyBytes);
  });
  app.register(async (scope) => {
    await scope.register(fastifyUnderPressure, {
      maxEventLoopDelay: loadLimits.maxEventLoopDelayMs,
      maxHeapUsedBytes: loadLimits.maxHeapUsedBytes,
      sampleInterval: 250,
      pressureHandler: (request, reply, type) => {
        const reason: ShedReason = type === 'heapUsedBytes' ? 'heap-used' : 'event-loop-delay';
        // A reply sent here ends the request; fastify runs no further hook or the handler.
        reply.send(shed(request, reply, reason, metrics, loadLimits.largeBodyThresholdBytes));
      },
    });
    registerReviewRoutes(scope as unknown as AdmissionServer, options, gate);
  });
  return gate;
}

/**
 * Refuse unread: no body byte is buffered for a request past the limits. A small body (the usual review) is
 * discarded by Node and the connection kept, so the client surely reads the 429/503, which the API server retries.
 * A large or undeclared one is not worth decrypting just to drop it (a flood of them would keep the event loop
 * busy doing only that): the connection is closed after the answer, and a client still writing may see a
 * reset instead; either way that review is not served now.
 */
function shed(
  request: FastifyRequest,
  reply: FastifyReply,
  reason: ShedReason,
  metrics: Metrics,
  largeBodyThresholdBytes: number,
): { code: string; message: string } {
  const error = buildOverloadedError(reason);
  metrics.shedRequests.inc({ reason });
  // Debug only: a flood would otherwise write one line per refused request.
  request.log.debug({ url: request.url, reason }, 'admission request shed');
  reply.code(error.status).header('retry-after', '1').type('application/json; charset=utf-8');
  const declared = parseContentLength(request.headers['content-length']);
  if (declared === undefined || declared > largeBodyThresholdBytes) reply.header('connection', 'close');
  return { code: error.code, message: error.message };
}

function registerReviewRoutes(app: AdmissionServer, options: AdmissionRouteOptions, gate: InFlightGate): void {
  const { handleReview, metrics, bodyLimitBytes } = options;
  for (const endpoint of endpoints) {
    const reject = (request: FastifyRequest, reply: FastifyReply, error: HttpError): void => {
      metrics.badRequests.inc({ code: error.code });
      request.log.warn({ endpoint, status: error.status, code: error.code, reason: error.message }, 'admission request rejected');
      sendError(reply, error);
    };
    const fail = (request: FastifyRequest, reply: FastifyReply, cause: unknown): void => {
      metrics.internalErrors.inc({ endpoint });
      request.log.error({ endpoint, err: cause }, 'admission request failed');
      sendError(reply, buildInternalError());
    };
    app.route({
      method: 'POST',
      url: `/${endpoint}`,
      // Runs once the headers are in, before the body is read: past the limits the request is refused unread.
      onRequest: (request, reply, done) => {
        // An unauthenticated caller takes no slot and gets no look at the body.
        const refusal = options.clientAuth ? checkClientCertificate(request.raw.socket as TLSSocket, options.clientAuth) : undefined;
        if (refusal) {
          reject(request, reply, refusal);
          return;
        }
        const admission = gate.admit(parseContentLength(request.headers['content-length']));
        if (!admission.ok) {
          reply.send(shed(request, reply, admission.reason, metrics, options.loadLimits.largeBodyThresholdBytes));
          return;
        }
        // 'close' fires once the reply is written and also when the client goes away mid-request.
        reply.raw.once('close', admission.release);
        done();
      },
      // Every reply counts, rejected and failed ones too: slow parsing of huge bodies shows up here.
      onResponse: (_request, reply, done) => {
        metrics.admissionDuration.observe({ endpoint }, reply.elapsedTime / 1000);
        done();
      },
      // Parser and limit errors (413, 415, malformed JSON) arrive here before the handler runs.
      errorHandler: (error, request, reply) => {
        const httpError = buildHttpError(error, bodyLimitBytes);
        if (httpError.status >= 500) fail(request, reply, error);
        else reject(request, reply, httpError);
      },
      handler: async (request, reply) => {
        // Only the JSON parser is registered, so a body that got here is JSON; a request with no
        // Content-Type and no body skips parsing entirely and must be refused here.
        if (!isJsonContentType(request.headers['content-type'])) {
          reject(request, reply, buildUnsupportedMediaTypeError());
          return reply;
        }
        let outcome: ReviewOutcome;
        try {
          outcome = await handleReview(endpoint, request.body);
        } catch (error) {
          // A 500 lets the webhook's failurePolicy decide between fail-open and fail-closed.
          fail(request, reply, error);
          return reply;
        }
        if (outcome.kind === 'bad-request') {
          reject(request, reply, { status: outcome.status, code: outcome.code, message: outcome.message });
          return reply;
        }
        metrics.decisions.count(outcome.metrics);
        if (outcome.violationKinds?.length) countViolations(metrics, outcome.metrics, outcome.violationKinds);
        // The one line per review (README "Logs"): info, through the cheap writer, never dropped or sampled.
        writeInfoLine(request.log as Logger, { endpoint, ...outcome.log, durationMs: roundMs(reply.elapsedTime) }, 'admission decision');
        return reply.code(200).send(outcome.body);
      },
    });
  }
}

function countViolations(metrics: Metrics, labels: DecisionLabels, kinds: readonly string[]): void {
  for (const kind of kinds) metrics.violations.inc({ endpoint: labels.endpoint, rule: labels.rule, kind, mode: labels.mode });
}

/** GET /healthz (liveness), /readyz (readiness), /metrics (Prometheus text). */
export function registerHealthRoutes(app: AdmissionServer, options: HealthRouteOptions): void {
  const { readiness, metrics } = options;
  // Liveness says only "the event loop answers": restarting for a missing policy would not help.
  app.get('/healthz', (_request, reply) => {
    reply.type('text/plain; charset=utf-8').send('ok');
  });
  app.get('/readyz', (request, reply) => {
    let report: ReadinessReport;
    try {
      report = readiness();
    } catch (error) {
      request.log.error({ err: error }, 'readiness check failed');
      report = { ready: false, detail: { error: 'readiness check failed' } };
    }
    reply.code(report.ready ? 200 : 503).send(report);
  });
  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
}

export function sendError(reply: FastifyReply, error: HttpError): void {
  reply.code(error.status).type('application/json; charset=utf-8').send({ code: error.code, message: error.message });
}

function isJsonContentType(header: string | undefined): boolean {
  return header !== undefined && header.split(';', 1)[0]?.trim().toLowerCase() === 'application/json';
}

function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
