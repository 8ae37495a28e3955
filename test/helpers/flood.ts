// Shared by the memory-flood test and its flood client process: maximum-size reviews and one HTTPS POST.
import assert from 'node:assert/strict';
import { Agent, request } from 'node:https';
import { defaultBodyLimitBytes } from '../../src/admission/server.ts';
import type { Pod } from '../../src/k8s/pod.ts';
import { podReview } from './reviews.ts';

const podWithEnv = (env: Array<{ name: string; value: string }>): Pod =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'big', labels: { app: 'untrusted' } },
    spec: { containers: [{ name: 'c', image: 'nginx', env }] },
  }) as unknown as Pod;

/** The costliest review to hold in memory: a pod with a huge env list (many small objects, ~2.4x its text in heap). */
export function buildMaximumSizeReview(): Buffer {
  const env: Array<{ name: string; value: string }> = [];
  let size = JSON.stringify(podReview(podWithEnv([]))).length;
  for (let i = 0; size < defaultBodyLimitBytes - 64; i++) {
    const entry = { name: `VAR_${i}`, value: 'v' };
    size += JSON.stringify(entry).length + 1;
    env.push(entry);
  }
  env.pop();
  const body = Buffer.from(JSON.stringify(podReview(podWithEnv(env))));
  assert.ok(body.length <= defaultBodyLimitBytes && body.length > defaultBodyLimitBytes - 1024, `body is ${body.length} bytes`);
  return body;
}

export function buildSmallReview(): Buffer {
  return Buffer.from(
    JSON.stringify(
      podReview({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'small', labels: { app: 'untrusted' } },
        spec: { containers: [{ name: 'c', image: 'nginx' }] },
      }),
    ),
  );
}

export type Answer =
  | { status: number; retryAfter: string | undefined; ms: number; error?: undefined }
  | { status: 'error'; error: string; ms: number };

export function postReview(
  port: number,
  ca: string,
  body: Buffer,
  timeoutMs: number,
  agent: Agent = new Agent({ keepAlive: false }),
): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve) => {
    let answered = false;
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/mutate',
        ca,
        servername: 'localhost',
        agent,
        timeout: timeoutMs,
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        answered = true;
        res.resume();
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: res.headers['retry-after'] as string | undefined,
            ms: performance.now() - started,
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    // An early answer (429) may come while the body is still being written; that is not an error.
    req.on('error', (error) => {
      if (!answered)
        resolve({ status: 'error', error: (error as NodeJS.ErrnoException).code ?? error.message, ms: performance.now() - started });
    });
    req.end(body);
  });
}
