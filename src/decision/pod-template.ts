import { isDeepStrictEqual } from 'node:util';
import { extractPod } from '../k8s/workloads.ts';
import { decide } from './decide.ts';
import type { DecisionInput, Verdict } from './types.ts';

export interface TemplateInput extends Omit<DecisionInput, 'pod' | 'operation' | 'mutate'> {
  operation: string;
  object: Record<string, unknown>;
  oldObject: Record<string, unknown> | undefined;
}

/**
 * Early feedback at `kubectl apply` time: the pods a workload will create are judged now, with the message
 * they would get, instead of surfacing later as a ReplicaSet FailedCreate event. The template itself is never
 * mutated (GitOps tools would fight the drift); a warning says what its pods will get.
 */
export function evaluatePodTemplate(input: TemplateInput): Verdict {
  const base: Verdict = {
    allowed: true,
    warnings: [],
    auditAnnotations: {},
    reason: 'template not governed',
    rule: undefined,
    action: 'none',
    mode: 'enforce',
  };
  if (input.operation !== 'CREATE' && input.operation !== 'UPDATE') return { ...base, reason: `${input.operation} is admitted unchanged` };
  const source = extractPod(input.object);
  if (!source) return { ...base, reason: 'object holds no pod template' };
  const metadata = input.object.metadata as { deletionTimestamp?: unknown } | undefined;
  if (metadata?.deletionTimestamp) return { ...base, reason: 'object is being deleted' };
  if (input.operation === 'UPDATE' && input.oldObject) {
    // An unchanged template must never block an update: controllers and garbage collection edit metadata.
    const old = extractPod(input.oldObject);
    if (old && isDeepStrictEqual(old.pod, source.pod)) return { ...base, reason: 'pod template unchanged' };
  }
  const decision = decide({
    ...input,
    operation: 'CREATE',
    pod: source.pod,
    mutate: true,
    audience: { kind: 'pod-template', ref: source.ref },
  });
  const verdict: Verdict = {
    ...base,
    rule: decision.rule,
    action: decision.action,
    mode: decision.mode,
    reason: `template: ${decision.reason}`,
    auditAnnotations: decision.auditAnnotations,
  };
  if (!decision.allowed) return { ...verdict, allowed: false, message: decision.message };
  return { ...verdict, warnings: decision.warnings };
}
