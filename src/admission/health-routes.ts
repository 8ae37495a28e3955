import type { FastifyReply } from 'fastify';
import type { Metrics } from '../observe/metrics.ts';
import type { HttpError } from './http-errors.ts';
import type { AdmissionServer } from './server.ts';

/** `ready: false` turns /readyz into 503; `detail` is shown as-is to whoever probes. */
export type ReadinessReport = { ready: boolean; detail?: Record<string, unknown> };
export type ReadinessCheck = () => ReadinessReport;

export type HealthRouteOptions = { readiness: ReadinessCheck; metrics: Metrics };

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
