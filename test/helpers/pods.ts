import fjp from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { decide } from '../../src/decision/decide.ts';
import type { Decision, DecisionInput } from '../../src/decision/types.ts';
import type { Pod } from '../../src/k8s/pod.ts';
import type { Policy } from '../../src/policy/types.ts';

export function untrustedPod(
  overrides: Partial<NonNullable<Pod['spec']>> = {},
  labels: Record<string, string> = { app: 'untrusted' },
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'team-a', labels },
    spec: { containers: [{ name: 'app', image: 'nginx:1.27' }], ...overrides },
  };
}

export function decideCreate(policy: Policy, pod: Pod, extra: Partial<DecisionInput> = {}): Decision {
  return decide({
    operation: 'CREATE',
    namespace: 'team-a',
    pod,
    namespaceFacts: { name: extra.namespace ?? 'team-a', labels: {} },
    policy,
    ...extra,
  });
}

/** Apply a decision's patch the way the API server would (RFC 6902, validated), without touching the input. */
export function applyDecision(pod: Pod, decision: Decision): Pod {
  const errors = fjp.validate(decision.patch as Operation[], pod);
  if (errors) throw new Error(`invalid patch: ${errors.message}`);
  return fjp.applyPatch(structuredClone(pod), decision.patch as Operation[], true, false).newDocument;
}
