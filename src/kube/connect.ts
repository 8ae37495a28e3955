import { readPackageVersion } from '../main/paths.ts';
import type { KubeApiClient } from './api-client.ts';
import { createHttpsClient } from './https-client.ts';
import { loadClusterConnection, type LoadConnectionOptions } from './kube-config.ts';

/** The API client of `serve` and of the CLI: the connection found as kubectl finds it, sandbox-admission's User-Agent. */
export async function connectKubeApi(options: Pick<LoadConnectionOptions, 'path' | 'context'> = {}): Promise<KubeApiClient> {
  return createHttpsClient(await loadClusterConnection(options), { userAgent: `sandbox-admission/${readPackageVersion()}` });
}
