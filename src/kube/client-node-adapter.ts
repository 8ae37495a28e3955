/**
 * TEMPORARY (issue 15, branch kube-writers): a KubeApiClient over @kubernetes/client-node's KubeConfig, so the
 * writers can move onto KubeApiClient before the light client (branch kube-core) lands. It still loads
 * client-node, so it saves no memory; the lead replaces every use of it with kube-core's client at the merge and
 * deletes this file.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { createInterface } from 'node:readline';
import type { KubeConfig } from '@kubernetes/client-node';
import { type ApiRequest, type HttpMethod, KubeApiError, type KubeApiClient, type QueryValue, type WatchEvent } from './api-client.ts';

export function createClientNodeAdapter(kubeConfig: KubeConfig): KubeApiClient {
  const open = async (
    method: HttpMethod,
    path: string,
    query: Readonly<Record<string, QueryValue>> | undefined,
    headers: Record<string, string>,
    body: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<http.IncomingMessage> => {
    const server = kubeConfig.getCurrentCluster()?.server;
    if (!server) throw new Error('the kubeconfig names no cluster server');
    const url = new URL(`${server.replace(/\/$/, '')}${path}`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const options: https.RequestOptions = { method, headers: { Accept: 'application/json', ...headers } };
    await kubeConfig.applyToHTTPSOptions(options);
    const transport = url.protocol === 'http:' ? http : https;
    return new Promise((resolve, reject) => {
      const req = transport.request(url, { ...options, ...(signal ? { signal } : {}) }, resolve);
      req.on('error', reject);
      req.end(body);
    });
  };
  const readText = async (response: http.IncomingMessage): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };
  return {
    request: async <T>(request: ApiRequest): Promise<T> => {
      const body = request.body === undefined ? undefined : JSON.stringify(request.body);
      const headers: Record<string, string> = body === undefined ? {} : { 'Content-Type': request.contentType ?? 'application/json' };
      const response = await open(request.method, request.path, request.query, headers, body, request.signal);
      const text = await readText(response);
      const code = response.statusCode ?? 0;
      if (code < 200 || code > 299) throw new KubeApiError(request.method, request.path, code, text);
      return (text === '' ? undefined : JSON.parse(text)) as T;
    },
    watch: <T>(path: string, query: Readonly<Record<string, QueryValue>>, signal: AbortSignal): AsyncIterable<WatchEvent<T>> => ({
      async *[Symbol.asyncIterator]() {
        const response = await open('GET', path, { ...query, watch: true }, {}, undefined, signal);
        const code = response.statusCode ?? 0;
        if (code < 200 || code > 299) throw new KubeApiError('GET', path, code, await readText(response));
        for await (const line of createInterface({ input: response, crlfDelay: Number.POSITIVE_INFINITY })) {
          if (line.trim() !== '') yield JSON.parse(line) as WatchEvent<T>;
        }
      },
    }),
  };
}
