import { LogController } from 'fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Fastify's request logging without the two info lines per request: the routes write the one line per
 * decision that matters. Errors fastify sees on its own (failed writes, serializer and stream errors)
 * still get logged, which fastify's plain `disableRequestLogging` would also silence.
 */
class DecisionsOnlyLogController extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) super.requestCompleted(error, request, reply);
  }

  // Our not-found handler answers with a JSON error; a line per scanner probe is noise.
  override routeNotFound(): void {}
}

export function createLogController(): LogController {
  return new DecisionsOnlyLogController();
}
