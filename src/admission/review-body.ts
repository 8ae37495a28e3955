import type { IncomingMessage } from 'node:http';
import { parse as parseSecureJson } from 'secure-json-parse';
import {
  buildBodyStreamError,
  buildBodyTooLargeError,
  buildContentLengthMismatchError,
  buildEmptyBodyError,
  buildMalformedJsonError,
  type HttpError,
} from './http-errors.ts';
import { parseContentLength } from './load-shedding.ts';

export type BodyResult = { ok: true; value: unknown } | { ok: false; error: HttpError };

// A key named __proto__ (or constructor.prototype) would poison whatever the review is later merged into.
const jsonOptions = { protoAction: 'error', constructorAction: 'error' } as const;

/**
 * The request body as parsed JSON, within `limitBytes`: a declared length past the limit is refused before a byte
 * is read, a streamed one as soon as it passes it; a body whose length differs from its Content-Length is refused
 * too. The bytes are decoded as UTF-8 once, at the end, so a character split across chunks stays whole. Never
 * rejects: every failure is a client error to answer with.
 */
export function readJsonBody(request: IncomingMessage, limitBytes: number): Promise<BodyResult> {
  const declared = parseContentLength(request.headers['content-length']);
  if (declared !== undefined && declared > limitBytes) return Promise.resolve(refused(buildBodyTooLargeError(limitBytes)));
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const finish = (result: BodyResult): void => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > limitBytes) {
        // The rest of the stream flows on and is dropped (Node reads it out before the connection is reused).
        finish(refused(buildBodyTooLargeError(limitBytes)));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      if (declared !== undefined && received !== declared) {
        finish(refused(buildContentLengthMismatchError()));
        return;
      }
      finish(parseBody(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received)));
    };
    const onError = (error: unknown): void => finish(refused(buildBodyStreamError(error)));
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
  });
}

/** Exported for the unit tests: the bytes of a whole body to the parsed value or the client error. */
export function parseBody(bytes: Buffer): BodyResult {
  if (bytes.length === 0) return refused(buildEmptyBodyError());
  try {
    return { ok: true, value: parseSecureJson(bytes.toString('utf8'), undefined, jsonOptions) };
  } catch {
    return refused(buildMalformedJsonError());
  }
}

function refused(error: HttpError): BodyResult {
  return { ok: false, error };
}
