import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { createInterface } from 'node:readline';
import { type ApiRequest, type HttpMethod, KubeApiError, type KubeApiClient, type QueryValue, type WatchEvent } from './api-client.ts';
import type { ClusterConnection } from './kube-config.ts';

export interface HttpsClientOptions {
  userAgent: string;
  /** A request (not a watch) that has not answered in this long fails: the API server's own default is 60 s. */
  requestTimeoutMs?: number;
  /**
   * A watch that has sent nothing, not even the bookmarks asked for, for this long is taken for a dead connection
   * and ends; the caller watches again from where it was.
   */
  watchIdleMs?: number;
}

/** KubeApiClient over node:https: keep-alive connections, the connection's TLS settings and credentials per request. */
export function createHttpsClient(connection: ClusterConnection, options: HttpsClientOptions): KubeApiClient {
  const agent = new Agent({ keepAlive: true });
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const watchIdleMs = options.watchIdleMs ?? 15 * 60_000;

  const open = async (
    method: HttpMethod,
    path: string,
    query: Readonly<Record<string, QueryValue>> | undefined,
    body: string | undefined,
    contentType: string | undefined,
    signal: AbortSignal | undefined,
    idleMs: number,
  ): Promise<IncomingMessage> => {
    const url = new URL(`${connection.server}${path}`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const { headers, ...tls } = await connection.requestOptions();
    const requestOptions: RequestOptions = {
      ...tls,
      method,
      agent,
      headers: {
        ...headers,
        Accept: 'application/json',
        'User-Agent': options.userAgent,
        ...(body !== undefined ? { 'Content-Type': contentType ?? 'application/json', 'Content-Length': Buffer.byteLength(body) } : {}),
      },
      ...(signal ? { signal } : {}),
    };
    return new Promise((resolve, reject) => {
      const req = httpsRequest(url, requestOptions, resolve);
      req.setTimeout(idleMs, () => req.destroy(new Error(`${method} ${path}: no answer from ${connection.server} within ${idleMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  };

  return {
    request: async <T>(request: ApiRequest): Promise<T> => {
      const body = request.body === undefined ? undefined : JSON.stringify(request.body);
      const response = await open(request.method, request.path, request.query, body, request.contentType, request.signal, requestTimeoutMs);
      const text = await readText(response);
      const code = response.statusCode ?? 0;
      if (code < 200 || code > 299) throw new KubeApiError(request.method, request.path, code, text);
      return (text === '' ? undefined : JSON.parse(text)) as T;
    },
    watch: <T>(
      path: string,
      query: Readonly<Record<string, QueryValue>>,
      signal: AbortSignal,
      onConnected?: () => void,
    ): AsyncIterable<WatchEvent<T>> => ({
      async *[Symbol.asyncIterator]() {
        const response = await open('GET', path, { ...query, watch: true }, undefined, undefined, signal, watchIdleMs);
        const code = response.statusCode ?? 0;
        if (code < 200 || code > 299) throw new KubeApiError('GET', path, code, await readText(response));
        onConnected?.();
        // One JSON object per line; readline joins lines split across chunks.
        const lines = createInterface({ input: response, crlfDelay: Number.POSITIVE_INFINITY });
        try {
          for await (const line of lines) if (line.trim() !== '') yield JSON.parse(line) as WatchEvent<T>;
        } finally {
          lines.close();
          response.destroy();
        }
      },
    }),
  };
}

async function readText(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
