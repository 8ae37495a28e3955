/**
 * The one way the serving process talks to the Kubernetes API: JSON over HTTPS, a watch as a stream of events.
 * Why not @kubernetes/client-node here: loading it costs about 85 MiB of RSS and most of a second of CPU at start
 * (its config module alone imports every generated API and model), more than the rest of the webhook together;
 * the webhook needs a dozen plain REST calls and two list/watch caches. Objects are the API server's JSON as sent:
 * no typed models, so no field newer than a client is dropped and timestamps stay RFC 3339 strings.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export type QueryValue = string | number | boolean | undefined;

export interface ApiRequest {
  method: HttpMethod;
  /** The API path, e.g. `/api/v1/namespaces/default/events`; query parameters go in `query`, never in the path. */
  path: string;
  query?: Readonly<Record<string, QueryValue>>;
  /** Serialised as JSON. */
  body?: unknown;
  /** Default `application/json`; PATCH takes the patch type (merge, strategic merge, JSON patch, apply). */
  contentType?: string;
  signal?: AbortSignal;
}

export interface WatchEvent<T = unknown> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  /** The object; for ERROR a `Status` (code 410: the resourceVersion is too old, list again). */
  object: T;
}

export interface KubeApiClient {
  /** One request; resolves the decoded JSON body (undefined for an empty one); rejects with KubeApiError on non-2xx. */
  request<T = unknown>(request: ApiRequest): Promise<T>;
  /**
   * A watch (`watch=true` is added): events one by one as the server sends them, ending when it closes the stream.
   * Rejects (or throws from the iterator) with KubeApiError on a non-2xx answer; aborting `signal` ends it.
   * `onConnected` is called once the server has accepted the watch, before any event (a quiet resource may send
   * none for minutes).
   */
  watch<T = unknown>(
    path: string,
    query: Readonly<Record<string, QueryValue>>,
    signal: AbortSignal,
    onConnected?: () => void,
  ): AsyncIterable<WatchEvent<T>>;
}

/** A non-2xx answer: `code` is the HTTP status (the shape the callers test: `error.code === 404`). */
export class KubeApiError extends Error {
  readonly code: number;
  /** The Status `reason` (NotFound, AlreadyExists, Conflict, Expired, ...), when the body was a Status. */
  readonly reason: string | undefined;
  /** The response body as text. */
  readonly body: string;

  constructor(method: HttpMethod, path: string, code: number, body: string) {
    const status = parseStatus(body);
    super(`${method} ${path}: ${code}${status?.message ? ` ${status.message}` : ''}`);
    this.name = 'KubeApiError';
    this.code = code;
    this.reason = status?.reason;
    this.body = body;
  }
}

function parseStatus(body: string): { message?: string; reason?: string } | undefined {
  try {
    const parsed = JSON.parse(body) as { kind?: unknown; message?: unknown; reason?: unknown };
    if (parsed?.kind !== 'Status') return undefined;
    return {
      ...(typeof parsed.message === 'string' ? { message: parsed.message } : {}),
      ...(typeof parsed.reason === 'string' ? { reason: parsed.reason } : {}),
    };
  } catch {
    return undefined;
  }
}

/** The HTTP status of a failed API call, whatever threw it (KubeApiError, or a test's fake of the same shape). */
export function apiErrorCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** A minimal object: what every consumer reads of an API object's metadata. */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [key: string]: unknown;
}

export interface KubeList<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}
