import type { Container, Pod } from '../k8s/pod.ts';
import type { Policy } from '../policy/types.ts';
import { findUnsupportedFeatures } from './unsupported-features.ts';
import { decide, runtimeClassOf } from './decide.ts';
import { formatEphemeralUnsupported } from './messages.ts';
import type { DecisionInput, Verdict } from './types.ts';

/**
 * `kubectl debug` adds ephemeral containers through pods/ephemeralcontainers; they join the pod's sandbox.
 * A container that asks for what the sandbox cannot host (privileged, unmasked /proc) is refused here,
 * since the pod itself was checked only when it was created.
 */
export function checkEphemeralContainers(pod: Pod, oldPod: Pod | undefined, policy: Policy): Verdict {
  const base: Verdict = {
    allowed: true,
    warnings: [],
    auditAnnotations: {},
    reason: 'ephemeral containers fit the runtime',
    rule: undefined,
    action: 'check-ephemeral',
    mode: 'enforce',
  };
  const runtime = runtimeClassOf(pod);
  const profile = runtime === undefined ? undefined : policy.profilesByRuntimeClass.get(runtime);
  if (!profile) return { ...base, reason: 'pod is not in a sandbox profile' };
  const before = new Set((oldPod?.spec?.ephemeralContainers ?? []).map((c: Container) => c?.name));
  const onlyNew: Pod = {
    spec: {
      ephemeralContainers: (Array.isArray(pod.spec?.ephemeralContainers) ? pod.spec.ephemeralContainers : []).filter(
        (c) => !before.has(c?.name),
      ),
    },
  };
  const uses = findUnsupportedFeatures(onlyNew, profile.unsupported);
  if (uses.length === 0) return base;
  // Paths refer to the filtered list; name the containers so the user can find them.
  const names = uses.map((u) => {
    const index = Number(/\[(\d+)\]/.exec(u.path)?.[1] ?? -1);
    return `ephemeral container "${onlyNew.spec!.ephemeralContainers![index]?.name ?? '?'}" (${u.path.replace(/^spec\.ephemeralContainers\[\d+\]\./, '')})`;
  });
  return {
    ...base,
    allowed: false,
    reason: 'ephemeral container refused',
    message: formatEphemeralUnsupported({
      displayName: profile.displayName,
      runtimeClassName: profile.runtimeClassName,
      containers: names.join(', '),
    }),
    auditAnnotations: { decision: 'denied', violation: 'unsupported-feature' },
  };
}

export interface EphemeralContainersInput extends Omit<DecisionInput, 'pod' | 'operation' | 'subResource' | 'mutate' | 'audience'> {
  pod: Pod;
  oldPod: Pod | undefined;
}

/**
 * The whole check of a pods/ephemeralcontainers update: the new containers must fit the pod's sandbox, and a
 * debug container's image can make a pod governed that was not (images.notFrom), so the pod is judged as it
 * would be created now; only what the new containers changed is refused, so pods that predate the webhook can
 * still be debugged.
 */
export function judgeEphemeralContainers(input: EphemeralContainersInput): Verdict {
  const { pod, oldPod, ...facts } = input;
  const features = checkEphemeralContainers(pod, oldPod, input.policy);
  if (!features.allowed) return features;
  const judge = (p: Pod) => decide({ ...facts, operation: 'CREATE', pod: p, mutate: false, audience: { kind: 'ephemeral-container' } });
  const after = judge(pod);
  if (after.allowed || (oldPod && !judge(oldPod).allowed)) return features;
  return {
    ...features,
    allowed: false,
    rule: after.rule,
    mode: after.mode,
    reason: 'ephemeral container makes the pod violate the policy',
    message: after.message ?? 'denied',
    auditAnnotations: after.auditAnnotations,
  };
}
