// Pods through the API server's admission chain, for the suites that compare it with decide(): a pod of a given
// shape, and a create (dry-run by default) that returns what the API server answered instead of throwing.
import * as k8s from '@kubernetes/client-node';
import type { Cluster } from './cluster.ts';
import { issueCert } from './pki.ts';

export interface ApiAnswer {
  allowed: boolean;
  message: string;
  warnings: string[];
  /** The object the API server stored (or would have, under dry-run). */
  stored?: k8s.V1Pod;
}

/** A pod named `name` with one container unless `spec` says otherwise. */
export function podOf(name: string, labels: Record<string, string> = {}, spec: Partial<k8s.V1PodSpec> = {}): k8s.V1Pod {
  return { metadata: { name, labels }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }], ...spec } };
}

/** A dry-run create: what the API server answered, with the HTTP warnings unquoted. */
export async function tryCreate(core: k8s.CoreV1Api, namespace: string, pod: k8s.V1Pod, dryRun = true): Promise<ApiAnswer> {
  try {
    const response = await core.createNamespacedPodWithHttpInfo({ namespace, body: pod, ...(dryRun ? { dryRun: 'All' } : {}) });
    return { allowed: true, message: '', warnings: parseWarnings(response.headers['warning']), stored: response.data };
  } catch (error) {
    const body = (error as { body?: unknown }).body;
    const message = typeof body === 'string' ? (JSON.parse(body) as { message: string }).message : String((error as Error).message);
    return { allowed: false, message, warnings: [] };
  }
}

/** RFC 7234 warning values: `299 - "text"`, several joined by ", ". */
export function parseWarnings(header: string | undefined): string[] {
  if (!header) return [];
  return [...header.matchAll(/299 - "((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, '$1'));
}

/** A client that is the kubelet of node `nodeName` (user system:node:<name>, group system:nodes), as mirror pods need. */
export function kubeletConfig(cluster: Cluster, nodeName: string): k8s.KubeConfig {
  const cert = issueCert(cluster.ca, { commonName: `system:node:${nodeName}`, organizations: ['system:nodes'], usage: 'client' });
  const config = new k8s.KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'e2e', server: cluster.server, caData: Buffer.from(cluster.caPem).toString('base64'), skipTLSVerify: false }],
    users: [
      { name: nodeName, certData: Buffer.from(cert.certPem).toString('base64'), keyData: Buffer.from(cert.keyPem).toString('base64') },
    ],
    contexts: [{ name: 'e2e', cluster: 'e2e', user: nodeName }],
    currentContext: 'e2e',
  });
  return config;
}

/** The mirror pod a kubelet creates for a static pod: the annotation and the node's name. */
export function mirrorPod(name: string, nodeName: string): k8s.V1Pod {
  return {
    metadata: { name, annotations: { 'kubernetes.io/config.mirror': 'hash' } },
    spec: { nodeName, containers: [{ name: 'app', image: 'registry.example/static:1' }] },
  };
}
