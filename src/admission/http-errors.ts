import type { ErrorCode } from '../errors.ts';
import type { ShedReason } from './load-shedding.ts';

/** The JSON body of every non-200 reply from this server: a stable code for machines, a message for people. */
export type HttpError = { status: number; code: ErrorCode; message: string };

const shedMessages: Readonly<Record<ShedReason, string>> = {
  'requests-in-flight': 'too many admission requests in flight; retry',
  'large-bodies-in-flight': 'too many large admission requests in flight; retry',
  'event-loop-delay': 'the webhook is overloaded (event loop delay); retry',
  'heap-used': 'the webhook is short of memory; retry',
  'shutting-down': 'the webhook is shutting down; retry',
};

/** 429 when the client sent more than the server takes at once, 503 when the process itself is under pressure. */
export function buildOverloadedError(reason: ShedReason): HttpError {
  const status = reason === 'requests-in-flight' || reason === 'large-bodies-in-flight' ? 429 : 503;
  return { status, code: 'OVERLOADED', message: shedMessages[reason] };
}

const jsonOnly = 'Content-Type must be application/json';

export function buildUnsupportedMediaTypeError(): HttpError {
  return { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: jsonOnly };
}

export function buildNotFoundError(method: string, url: string): HttpError {
  return { status: 404, code: 'NOT_FOUND', message: `no route for ${method} ${url}` };
}

export function buildInternalError(): HttpError {
  // Never echo the thrown message: it may carry object contents or internals; the log has it.
  return { status: 500, code: 'INTERNAL_ERROR', message: 'internal error while handling the request' };
}

export function buildBodyTooLargeError(bodyLimitBytes: number): HttpError {
  return { status: 413, code: 'BODY_TOO_LARGE', message: `request body is larger than ${bodyLimitBytes} bytes` };
}

export function buildEmptyBodyError(): HttpError {
  return { status: 400, code: 'EMPTY_BODY', message: 'request body is empty' };
}

export function buildMalformedJsonError(): HttpError {
  return { status: 400, code: 'MALFORMED_JSON', message: 'request body is not valid JSON' };
}

export function buildContentLengthMismatchError(): HttpError {
  return { status: 400, code: 'INVALID_CONTENT_LENGTH', message: 'request body size does not match Content-Length' };
}

/** The body stream failed (the client went away mid-body): Node's message ("aborted") is fixed and safe. */
export function buildBodyStreamError(error: unknown): HttpError {
  const { message } = (error ?? {}) as { message?: unknown };
  return { status: 400, code: 'BAD_REQUEST', message: typeof message === 'string' ? message : 'bad request' };
}

/**
 * Translate an error fastify raised before or around a handler (body parsing, limits) into our reply.
 * Anything that is not a client error becomes a 500.
 */
export function buildHttpError(error: unknown, bodyLimitBytes: number): HttpError {
  const { code, statusCode, message } = (error ?? {}) as { code?: unknown; statusCode?: unknown; message?: unknown };
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return buildBodyTooLargeError(bodyLimitBytes);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return buildUnsupportedMediaTypeError();
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return buildEmptyBodyError();
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return buildMalformedJsonError();
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return buildContentLengthMismatchError();
  }
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    // Fastify's own client errors (bad URL, aborted body...) have safe, fixed messages.
    return { status: statusCode, code: 'BAD_REQUEST', message: typeof message === 'string' ? message : 'bad request' };
  }
  return buildInternalError();
}
