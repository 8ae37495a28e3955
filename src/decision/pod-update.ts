import type { Pod } from '../k8s/pod.ts';
import { decide } from './decide.ts';
import type { Decision, DecisionInput } from './types.ts';

/**
 * A pod UPDATE can change what a rule matches on: its container images (`kubectl set image`, a JSON patch of an
 * init container's image) and its labels; runtimeClassName, host namespaces and security contexts are immutable.
 * So a running pod that no rule governed can become governed, still on runc. The validating view judges such an
 * update as if the pod were created now (decide() without mutation); any other update is admitted unchanged, at no
 * cost. The generated ValidatingAdmissionPolicies and the webhook configuration's matchCondition test the same
 * change (POD_UPDATE_CHANGES_GOVERNANCE_CEL).
 */
export function judgePodUpdate(input: DecisionInput & { oldPod: Pod | undefined }): Decision {
  const { oldPod, ...rest } = input;
  if (oldPod !== undefined && !changesGovernance(input.pod, oldPod)) {
    return decide({ ...rest, operation: 'UPDATE' });
  }
  return decide({ ...rest, operation: 'CREATE', mutate: false });
}

export function changesGovernance(pod: Pod, oldPod: Pod): boolean {
  return imagesOf(pod) !== imagesOf(oldPod) || labelsOf(pod) !== labelsOf(oldPod);
}

function imagesOf(pod: Pod): string {
  const spec = pod.spec as Record<string, unknown> | undefined;
  const images = (field: string) =>
    Array.isArray(spec?.[field])
      ? (spec[field] as Array<{ image?: unknown }>).map((c) => (typeof c?.image === 'string' ? c.image : ''))
      : [];
  return JSON.stringify([images('initContainers'), images('containers'), images('ephemeralContainers')]);
}

function labelsOf(pod: Pod): string {
  const labels = (pod.metadata?.labels ?? {}) as Record<string, string>;
  return JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((k) => [k, labels[k]]),
  );
}

/**
 * The same test in CEL, for the webhook configuration's matchCondition and the generated policies: true for a
 * CREATE, and for an UPDATE that changes an image or a label.
 */
export const POD_UPDATE_CHANGES_GOVERNANCE_CEL = [
  'request.operation != "UPDATE"',
  '|| (has(object.metadata.labels) ? object.metadata.labels : {}) != (has(oldObject.metadata.labels) ? oldObject.metadata.labels : {})',
  '|| object.spec.containers.map(c, has(c.image) ? c.image : "") != oldObject.spec.containers.map(c, has(c.image) ? c.image : "")',
  '|| (has(object.spec.initContainers) ? object.spec.initContainers.map(c, has(c.image) ? c.image : "") : []) != (has(oldObject.spec.initContainers) ? oldObject.spec.initContainers.map(c, has(c.image) ? c.image : "") : [])',
].join('\n');
