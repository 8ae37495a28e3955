// The one fake KubeApiClient of the unit and integration tests: it records every request as sent and answers
// through the test's handler, which returns the JSON body or throws (kubeApiError for a non-2xx answer).
import { type ApiRequest, KubeApiError, type KubeApiClient, type QueryValue, type WatchEvent } from '../../../src/kube/api-client.ts';

export type FakeHandler = (request: ApiRequest) => unknown;

export interface FakeKubeApiClient extends KubeApiClient {
  /** Every request in the order sent (the signal left out, so deepEqual compares what went on the wire). */
  requests: Array<Omit<ApiRequest, 'signal'>>;
  /** Answer the next request to `path` (any method) with this error instead of the handler. */
  failNext(path: string, error: unknown): void;
}

export function createFakeKubeApiClient(handler: FakeHandler = () => undefined): FakeKubeApiClient {
  const requests: FakeKubeApiClient['requests'] = [];
  const failures = new Map<string, unknown>();
  return {
    requests,
    failNext: (path, error) => failures.set(path, error),
    request: async <T>(request: ApiRequest): Promise<T> => {
      const { signal: _signal, ...sent } = request;
      requests.push(structuredClone(sent));
      // A round trip: concurrent callers interleave as they would against a server.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const failure = failures.get(request.path);
      if (failure !== undefined) {
        failures.delete(request.path);
        throw failure;
      }
      return structuredClone(await handler(request)) as T;
    },
    watch: <T>(_path: string, _query: Readonly<Record<string, QueryValue>>, _signal: AbortSignal): AsyncIterable<WatchEvent<T>> => {
      throw new Error('the fake KubeApiClient does not watch');
    },
  };
}

/** The error a real API server answer gives: a Status body with the code, reason and message. */
export function kubeApiError(code: number, message: string, reason = reasonOf(code), request = { method: 'GET', path: '/' }): KubeApiError {
  return new KubeApiError(
    request.method as ApiRequest['method'],
    request.path,
    code,
    JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message }),
  );
}

function reasonOf(code: number): string {
  return (
    { 403: 'Forbidden', 404: 'NotFound', 409: 'Conflict', 410: 'Expired', 422: 'Invalid' }[code as 403 | 404 | 409 | 410 | 422] ?? 'Unknown'
  );
}

/** A list page as the API server pages it: `limit` objects from the offset in `continue`, the next offset in metadata. */
export function pageOf<T>(items: readonly T[], query: ApiRequest['query']): { items: T[]; metadata: { continue?: string } } {
  const start = query?.continue ? Number(query.continue) : 0;
  const limit = query?.limit === undefined ? undefined : Number(query.limit);
  const end = limit ? start + limit : items.length;
  return { items: items.slice(start, end), metadata: end < items.length ? { continue: String(end) } : {} };
}
