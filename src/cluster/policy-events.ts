import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { formatCodedError, type CodedError } from '../errors.ts';

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
export function createPolicyEventRecorder(kubeConfig: KubeConfig, target: PolicyEventTarget, now: () => Date = () => new Date()) {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  return async (errors: CodedError[]): Promise<void> => {
    const at = now();
    const message = `policy refused, the last good policy stays in force: ${errors.map(formatCodedError).join('; ')}`.slice(0, 1024);
    await core.createNamespacedEvent({
      namespace: target.namespace,
      body: {
        metadata: { generateName: `${target.configMapName}.`, namespace: target.namespace },
        involvedObject: { apiVersion: 'v1', kind: 'ConfigMap', name: target.configMapName, namespace: target.namespace },
        type: 'Warning',
        reason: 'PolicyRejected',
        message,
        source: { component: 'sandbox-admission' },
        reportingComponent: 'sandbox-admission',
        reportingInstance: target.reportingInstance,
        firstTimestamp: at,
        lastTimestamp: at,
        count: 1,
      },
    });
  };
}
