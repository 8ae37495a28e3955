import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { DecisionLabels } from '../observe/decision-counter.ts';
import { writeInfoLine } from '../observe/logger.ts';
import type { Metrics } from '../observe/metrics.ts';
import { checkClientCertificate, type ClientAuth } from './client-auth.ts';
import { buildInternalError, buildOverloadedError, buildUnsupportedMediaTypeError, type HttpError } from './http-errors.ts';
import { createInFlightGate, parseContentLength, type InFlightGate, type LoadLimits, type ShedReason } from './load-shedding.ts';
import { startPressureMonitor, type PressureMonitor } from './pressure-monitor.ts';
import { readJsonBody } from './review-body.ts';
import type { ReviewEndpoint, ReviewHandler, ReviewOutcome } from './review-outcome.ts';

export type ReviewLaneOptions = {
  handleReview: ReviewHandler;
  metrics: Metrics;
  logger: Logger;
  bodyLimitBytes: number;
  loadLimits: LoadLimits;
  clientAuth?: ClientAuth;
  /** The request ids fastify gives its own requests come from the same sequence, so none repeats in the log. */
  nextRequestId(): string;
  /** True once the server drains (connection-drain.ts): every answer then says `Connection: close`. */
  draining(): boolean;
};

export interface ReviewLane {
  /** Serves `request` and returns true when it is a review (POST /mutate or /validate); false leaves it to fastify. */
  serve(request: IncomingMessage, response: ServerResponse): boolean;
  /** The server is closing: from now on every review is refused 503 and its connection closed. */
  refuseNew(): void;
  stop(): void;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * POST /mutate and /validate, straight on node:https instead of through fastify's request pipeline: the same
 * checks in the same order (process pressure, client certificate, in-flight limits, Content-Type, body limits,
 * JSON), the same answers, metrics and log lines, at a fraction of the per-request work (routing, hook runners,
 * request and reply objects, a child logger per request: bench/PROFILE.md). Health, /metrics and every other URL
 * stay fastify's.
 */
export function createReviewLane(options: ReviewLaneOptions): ReviewLane {
  const { metrics, bodyLimitBytes, loadLimits } = options;
  const gate: InFlightGate = createInFlightGate(loadLimits, bodyLimitBytes, ({ requests, largeBodyBytes }) => {
    metrics.inFlightRequests.set(requests);
    metrics.inFlightLargeBodyBytes.set(largeBodyBytes);
  });
  const pressure: PressureMonitor = startPressureMonitor(loadLimits);
  let refusing = false;

  const serve = (request: IncomingMessage, response: ServerResponse): boolean => {
    const endpoint = reviewEndpoint(request);
    if (endpoint === undefined) return false;
    const exchange = new ReviewExchange(options, endpoint, request, response);
    try {
      exchange.run(refusing, pressure, gate);
    } catch (error) {
      exchange.fail(error);
    }
    return true;
  };
  return {
    serve,
    refuseNew: () => {
      refusing = true;
    },
    stop: () => pressure.stop(),
  };
}

/** The review endpoint a request is for; the API server appends `?timeout=10s` to the webhook's path. */
export function reviewEndpoint(request: Pick<IncomingMessage, 'method' | 'url'>): ReviewEndpoint | undefined {
  if (request.method !== 'POST') return undefined;
  const url = request.url ?? '';
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  return path === '/mutate' ? 'mutate' : path === '/validate' ? 'validate' : undefined;
}

/** One review request, from its headers to the answer. */
class ReviewExchange {
  private readonly started = performance.now();
  private readonly options: ReviewLaneOptions;
  private readonly endpoint: ReviewEndpoint;
  private readonly request: IncomingMessage;
  private readonly response: ServerResponse;
  private readonly requestId: string;
  /** Content-Length, undefined when chunked: read once for the in-flight gate and a shed's Connection header. */
  private readonly declaredLength: number | undefined;
  private log: Logger | undefined;

  constructor(options: ReviewLaneOptions, endpoint: ReviewEndpoint, request: IncomingMessage, response: ServerResponse) {
    this.options = options;
    this.endpoint = endpoint;
    this.request = request;
    this.response = response;
    this.requestId = options.nextRequestId();
    this.declaredLength = parseContentLength(request.headers['content-length']);
  }

  /** Everything up to the body runs at once, so a refused request is answered before a byte of its body is read. */
  run(refusing: boolean, pressure: PressureMonitor, gate: InFlightGate): void {
    if (refusing) {
      this.shed('shutting-down');
      return;
    }
    // A pressed process refuses before it looks at anything, the caller's certificate included.
    const pressed = pressure.reason();
    if (pressed) {
      this.shed(pressed);
      return;
    }
    // An unauthenticated caller takes no slot and gets no look at the body.
    const refusal = this.options.clientAuth ? checkClientCertificate(this.request.socket as TLSSocket, this.options.clientAuth) : undefined;
    if (refusal) {
      this.reject(refusal);
      return;
    }
    const admission = gate.admit(this.declaredLength);
    if (!admission.ok) {
      this.shed(admission.reason);
      return;
    }
    // 'close' fires once the answer is written and also when the client goes away mid-request.
    this.response.once('close', admission.release);
    if (!isJsonContentType(this.request.headers['content-type'])) {
      this.reject(buildUnsupportedMediaTypeError());
      return;
    }
    this.review().catch((error: unknown) => this.fail(error));
  }

  /** A 500 for a throw anywhere in the exchange; the webhook's failurePolicy decides the pod. Never throws. */
  fail(cause: unknown): void {
    try {
      this.options.metrics.internalErrors.inc({ endpoint: this.endpoint });
      this.requestLog().error({ endpoint: this.endpoint, err: cause }, 'admission request failed');
    } catch {
      // A cause the logger cannot serialise still gets its 500.
    }
    if (this.response.headersSent) this.response.destroy();
    else this.sendError(buildInternalError(), {});
  }

  private async review(): Promise<void> {
    const body = await readJsonBody(this.request, this.options.bodyLimitBytes);
    if (!body.ok) {
      // The client may still be sending the rest of a refused body: close rather than read it out (as fastify did).
      this.reject(body.error, { connection: 'close' });
      return;
    }
    let outcome: ReviewOutcome;
    try {
      outcome = await this.options.handleReview(this.endpoint, body.value);
    } catch (error) {
      // A 500 lets the webhook's failurePolicy decide between fail-open and fail-closed.
      this.fail(error);
      return;
    }
    if (outcome.kind === 'bad-request') {
      this.reject({ status: outcome.status, code: outcome.code, message: outcome.message });
      return;
    }
    const { metrics } = this.options;
    metrics.decisions.count(outcome.metrics);
    if (outcome.violationKinds?.length) countViolations(metrics, outcome.metrics, outcome.violationKinds);
    // The one line per review (README "Logging"): info, through the cheap writer, never dropped or sampled.
    writeInfoLine(
      this.options.logger,
      { endpoint: this.endpoint, ...outcome.log, durationMs: roundMs(performance.now() - this.started) },
      'admission decision',
      { reqId: this.requestId },
    );
    this.send(200, JSON.stringify(outcome.body));
  }

  /**
   * Refuse unread: no body byte is buffered for a request past the limits. A small body (the usual review) is
   * discarded by Node and the connection kept, so the client surely reads the 429/503, which the API server
   * retries. A large or undeclared one is not worth decrypting just to drop it (a flood of them would keep the
   * event loop busy doing only that): the connection is closed after the answer, and a client still writing may
   * see a reset instead; either way that review is not served now.
   */
  private shed(reason: ShedReason): void {
    const error = buildOverloadedError(reason);
    this.options.metrics.shedRequests.inc({ reason });
    // Debug only: a flood would otherwise write one line per refused request.
    if (this.options.logger.isLevelEnabled('debug')) this.requestLog().debug({ url: this.request.url, reason }, 'admission request shed');
    const declared = this.declaredLength;
    const closeAfter = reason === 'shutting-down' || declared === undefined || declared > this.options.loadLimits.largeBodyThresholdBytes;
    this.sendError(error, closeAfter ? { 'retry-after': '1', connection: 'close' } : { 'retry-after': '1' });
  }

  private reject(error: HttpError, headers: OutgoingHttpHeaders = {}): void {
    this.options.metrics.badRequests.inc({ code: error.code });
    this.requestLog().warn(
      { endpoint: this.endpoint, status: error.status, code: error.code, reason: error.message },
      'admission request rejected',
    );
    this.sendError(error, headers);
  }

  private sendError(error: HttpError, headers: OutgoingHttpHeaders): void {
    this.send(error.status, JSON.stringify({ code: error.code, message: error.message }), headers);
  }

  private send(status: number, text: string, headers: OutgoingHttpHeaders = {}): void {
    const response = this.response;
    if (response.headersSent || response.destroyed) return;
    if (this.options.draining()) headers.connection = 'close';
    response.writeHead(status, { ...headers, 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(text) });
    // Every answer written counts, refused and failed ones too: slow parsing of huge bodies shows up here.
    response.end(text, this.observeDuration);
  }

  private readonly observeDuration = (): void => {
    this.options.metrics.admissionDuration.observe({ endpoint: this.endpoint }, (performance.now() - this.started) / 1000);
  };

  /** A child logger only for the rare lines that need one; the decision line passes its binding itself. */
  private requestLog(): Logger {
    this.log ??= this.options.logger.child({ reqId: this.requestId });
    return this.log;
  }
}

function countViolations(metrics: Metrics, labels: DecisionLabels, kinds: readonly string[]): void {
  for (const kind of kinds) metrics.violations.inc({ endpoint: labels.endpoint, rule: labels.rule, kind, mode: labels.mode });
}

/** application/json with any parameters (a charset); a request without a Content-Type is refused too. */
export function isJsonContentType(header: string | undefined): boolean {
  return header !== undefined && header.split(';', 1)[0]?.trim().toLowerCase() === 'application/json';
}

function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
