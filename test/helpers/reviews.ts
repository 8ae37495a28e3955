import type { Pod } from '../../src/k8s/pod.ts';

/** An AdmissionReview for a pod, shaped like the one kube-apiserver sends. */
export function podReview(
  pod: Pod,
  options: {
    apiVersion?: string;
    operation?: string;
    namespace?: string;
    uid?: string;
    dryRun?: boolean;
    username?: string;
    groups?: string[];
  } = {},
): Record<string, unknown> {
  const namespace = options.namespace ?? 'team-a';
  return {
    apiVersion: options.apiVersion ?? 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: options.uid ?? '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      name: pod.metadata?.name,
      namespace,
      operation: options.operation ?? 'CREATE',
      userInfo: { username: options.username ?? 'alice', uid: 'u-1', groups: options.groups ?? ['system:authenticated'] },
      object: pod,
      oldObject: null,
      dryRun: options.dryRun ?? false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

export function decodePatch(response: { patch?: string }): unknown[] {
  return response.patch ? (JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as unknown[]) : [];
}
