import { formatCodedError, type CodedError } from '../errors.ts';
import type { KubeApiClient } from '../kube/api-client.ts';

const eventsPath = (namespace: string) => `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`;

export interface PolicyEventTarget {
  namespace: string;
  /** The ConfigMap the policy file is mounted from. */
  configMapName: string;
  /** The reporting pod (POD_NAME), so `kubectl describe` shows which replica refused it. */
  reportingInstance: string;
}

/**
 * A refused policy shows up where the person who edited it looks: `kubectl describe configmap` and
 * `kubectl get events` list a Warning event with every bad field's path. Failing to record the event is
 * logged by the caller, never fatal: the log line and the metric already carry the refusal.
 */
export function createPolicyEventRecorder(client: KubeApiClient, target: PolicyEventTarget, now: () => Date = () => new Date()) {
  return async (errors: CodedError[]): Promise<void> => {
    const at = now();
    const message = `policy refused, the last good policy stays in force: ${errors.map(formatCodedError).join('; ')}`.slice(0, 1024);
    await client.request({
      method: 'POST',
      path: eventsPath(target.namespace),
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${target.configMapName}.`, namespace: target.namespace },
        involvedObject: { apiVersion: 'v1', kind: 'ConfigMap', name: target.configMapName, namespace: target.namespace },
        type: 'Warning',
        reason: 'PolicyRejected',
        message,
        source: { component: 'sandbox-admission' },
        reportingComponent: 'sandbox-admission',
        reportingInstance: target.reportingInstance,
        firstTimestamp: at.toISOString(),
        lastTimestamp: at.toISOString(),
        count: 1,
      },
    });
  };
}

export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  name: string;
  uid?: string;
  resourceVersion?: string;
}

/**
 * An Event on a cluster-scoped object (a SandboxPolicy): `kubectl describe sandboxpolicy` lists them. The API server
 * takes Events about cluster-scoped objects only in the `default` namespace (or none), as client-go records them.
 */
export function createClusterObjectEventRecorder(
  client: KubeApiClient,
  reportingInstance: string,
  now: () => Date = () => new Date(),
): (involved: InvolvedObject, event: { type: 'Normal' | 'Warning'; reason: string; message: string }) => Promise<void> {
  return async (involved, event) => {
    const at = now();
    await client.request({
      method: 'POST',
      path: eventsPath('default'),
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${involved.name}.`, namespace: 'default' },
        involvedObject: involved,
        type: event.type,
        reason: event.reason,
        message: event.message.slice(0, 1024),
        source: { component: 'sandbox-admission' },
        reportingComponent: 'sandbox-admission',
        reportingInstance,
        firstTimestamp: at.toISOString(),
        lastTimestamp: at.toISOString(),
        count: 1,
      },
    });
  };
}
