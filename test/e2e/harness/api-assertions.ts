// What e2e tests need around API calls: the message of a refused call as kubectl prints it, polling until the
// cluster has caught up (webhook configurations, policies and caches take effect asynchronously), and
// comparing client-node's class instances with plain JSON.
import * as k8s from '@kubernetes/client-node';
import assert from 'node:assert/strict';

/** The API server's message from a client-node ApiException (its body is the Status as JSON text). */
export function describeApiError(error: unknown): string {
  const body = (error as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      return (JSON.parse(body) as { message: string }).message;
    } catch {
      return body;
    }
  }
  return error instanceof Error ? error.message : String(error);
}

/** The message of a call the API server must refuse; fails the test when it is admitted. */
export async function rejection(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    return describeApiError(error);
  }
  assert.fail('expected the API server to refuse the request');
}

/** Poll `check` until it returns true (errors count as "not yet"), or fail with the last error after the timeout. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs = 30_000, intervalMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting${last === undefined ? '' : `: ${describeApiError(last)}`}`);
}

/** client-node returns class instances; compare their JSON, as the API server sent it. */
export function plain<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** The same admin credentials, asking the API server to act as `user` (RBAC and admission see that user). */
export function impersonating(kc: k8s.KubeConfig, user: string): k8s.KubeConfig {
  const copy = new k8s.KubeConfig();
  copy.loadFromString(kc.exportConfig());
  copy.users = copy.users.map((u) => ({ ...u, impersonateUser: user }));
  return copy;
}
