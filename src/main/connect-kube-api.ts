import type { KubeApiClient } from '../kube/api-client.ts';
import { createHttpsClient } from '../kube/https-client.ts';
import { loadClusterConnection, type LoadConnectionOptions } from '../kube/kube-config.ts';
import { readPackageVersion } from './paths.ts';

/** The API client of `serve` and of the CLI: the connection found as kubectl finds it, sandbox-admission's User-Agent. */
export async function connectKubeApi(options: Pick<LoadConnectionOptions, 'path' | 'context'> = {}): Promise<KubeApiClient> {
  return createHttpsClient(await loadClusterConnection(options), { userAgent: `sandbox-admission/${readPackageVersion()}` });
}
