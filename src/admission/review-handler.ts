import { checkEphemeralContainers } from '../decision/ephemeral-containers.ts';
import { decide } from '../decision/decide.ts';
import { guardNamespaceLabels } from '../decision/namespace-guard.ts';
import { evaluatePodTemplate } from '../decision/pod-template.ts';
import { flagRuntimeClass } from '../decision/runtime-class-check.ts';
import type { Decision, NamespaceFacts, Verdict } from '../decision/types.ts';
import { podDisplayName, type Pod } from '../k8s/pod.ts';
import type { RuntimeClassFacts } from '../k8s/runtime-class.ts';
import type { Policy } from '../policy/types.ts';
import { decodeReview, encodeAllowed, encodeReview, type AdmissionRequest } from './review.ts';
import type { ReviewEndpoint, ReviewHandler, ReviewOutcome } from './review-outcome.ts';

/** Cluster and config state the handler reads once per request; each source sits at the edge and is passed in. */
export interface ReviewFacts {
  policy(): Policy;
  /** Labels of a namespace, or undefined when it does not exist (or cannot be known). */
  namespaceLabels(name: string): Readonly<Record<string, string>> | undefined | Promise<Readonly<Record<string, string>> | undefined>;
  /** Cluster RuntimeClasses, or undefined when the webhook runs without a cluster (local runs). */
  runtimeClasses(): ReadonlyMap<string, RuntimeClassFacts> | undefined;
}

/** What a review is about, by resource: each kind has its own check, all of them pure. */
type Subject = 'pod' | 'pod-ephemeral-containers' | 'namespace' | 'workload' | 'runtime-class' | 'other';

const WORKLOADS: Readonly<Record<string, readonly string[]>> = {
  apps: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'],
  batch: ['jobs', 'cronjobs'],
  '': ['replicationcontrollers', 'podtemplates'],
};

/** decode -> facts -> check (pure) -> encode, with one log record per review. */
export function buildReviewHandler(facts: ReviewFacts, now: () => number = () => performance.now()): ReviewHandler {
  return async (endpoint: ReviewEndpoint, body: unknown): Promise<ReviewOutcome> => {
    const started = now();
    const decoded = decodeReview(body);
    if (!decoded.ok) {
      const { code, message, path } = decoded.error;
      return { kind: 'bad-request', status: 400, code, message: path ? `${path}: ${message}` : message };
    }
    const request = decoded.value;
    const subject = classify(request);
    // The mutating webhook acts on pod creation only; everything else is the validating webhook's.
    const relevant = endpoint === 'mutate' ? subject === 'pod' : subject !== 'other';
    if (!relevant || (request.object === undefined && request.operation !== 'CREATE')) {
      const reason = relevant ? `${request.operation} carries no object` : `not reviewed at /${endpoint}`;
      return reviewed(endpoint, encodeAllowed(request), { ...requestLog(request), reason }, 'none', 'allowed', 'none');
    }
    if (request.object === undefined) {
      return { kind: 'bad-request', status: 422, code: 'REVIEW_BAD_FIELD', message: 'request.object: a CREATE review must carry the object' };
    }
    const policy = facts.policy();
    const verdict = await check(subject, endpoint, request, policy, facts);
    if (endpoint === 'validate' && subject === 'pod' && verdict.allowed) {
      // The mutating webhook has already warned and annotated; the backstop only speaks when it denies.
      verdict.warnings = [];
      verdict.auditAnnotations = {};
    }
    const patched = 'patch' in verdict && (verdict as Decision).patch.length > 0;
    const outcome = !verdict.allowed ? 'denied' : patched ? 'patched' : 'allowed';
    const answer = encodeReview(request, { patch: [], ...verdict });
    // Nothing governed the object: no mode applied, and a metric label of "enforce" would say otherwise.
    const mode = verdict.action === 'none' ? 'none' : verdict.mode;
    return reviewed(endpoint, answer, { ...requestLog(request), ...verdictLog(verdict), durationMs: round(now() - started) }, verdict.action, outcome, mode);
  };
}

async function check(subject: Subject, endpoint: ReviewEndpoint, request: AdmissionRequest, policy: Policy, facts: ReviewFacts): Promise<Verdict | Decision> {
  const object = request.object as Record<string, unknown>;
  const oldObject = request.oldObject as Record<string, unknown> | undefined;
  switch (subject) {
    case 'namespace':
      return guardNamespaceLabels({ operation: request.operation, labels: labelsOf(object), oldLabels: oldObject ? labelsOf(oldObject) : undefined, requester: request.userInfo, policy });
    case 'runtime-class':
      return flagRuntimeClass(object, policy);
    case 'pod-ephemeral-containers': {
      const features = checkEphemeralContainers(object as Pod, oldObject as Pod | undefined, policy);
      if (!features.allowed) return features;
      // A debug container's image can make a pod governed that was not (images.notFrom): judge the pod as it
      // would be created now, but only refuse what the new containers changed, so pods that predate the
      // webhook can still be debugged.
      const nsFacts = await namespaceFacts(request, facts);
      const judge = (pod: Pod) => decide({ operation: 'CREATE', namespace: request.namespace, pod, requester: request.userInfo, namespaceFacts: nsFacts, policy, runtimeClasses: facts.runtimeClasses(), mutate: false, audience: { kind: 'ephemeral-container' } });
      const after = judge(object as Pod);
      if (after.allowed || (oldObject && !judge(oldObject as Pod).allowed)) return features;
      return { ...features, allowed: false, rule: after.rule, mode: after.mode, reason: 'ephemeral container makes the pod violate the policy', message: after.message ?? 'denied', auditAnnotations: after.auditAnnotations };
    }
    case 'workload':
      return evaluatePodTemplate({ operation: request.operation, object, oldObject, namespace: request.namespace, namespaceFacts: await namespaceFacts(request, facts), requester: request.userInfo, policy, runtimeClasses: facts.runtimeClasses() });
    default:
      return decide({
        operation: request.operation,
        subResource: request.subResource,
        namespace: request.namespace,
        pod: object as Pod,
        requester: request.userInfo,
        namespaceFacts: await namespaceFacts(request, facts),
        policy,
        runtimeClasses: facts.runtimeClasses(),
        mutate: endpoint === 'mutate',
      });
  }
}

function classify(request: AdmissionRequest): Subject {
  const { group, resource } = request.resource;
  if (group === '' && resource === 'pods') {
    if (request.subResource === undefined) return request.kind.kind === 'Pod' ? 'pod' : 'other';
    return request.subResource === 'ephemeralcontainers' ? 'pod-ephemeral-containers' : 'other';
  }
  // Updates through namespaces/status and namespaces/finalize carry metadata too, labels included.
  if (group === '' && resource === 'namespaces' && [undefined, 'status', 'finalize'].includes(request.subResource)) return 'namespace';
  if (request.subResource !== undefined) return 'other';
  if (group === 'node.k8s.io' && resource === 'runtimeclasses') return 'runtime-class';
  if (WORKLOADS[group]?.includes(resource)) return 'workload';
  return 'other';
}

async function namespaceFacts(request: AdmissionRequest, facts: ReviewFacts): Promise<NamespaceFacts | undefined> {
  if (request.namespace === '') return undefined;
  const labels = await facts.namespaceLabels(request.namespace);
  return labels === undefined ? undefined : { name: request.namespace, labels };
}

function labelsOf(object: Record<string, unknown>): Record<string, string> {
  const labels = (object.metadata as { labels?: unknown } | undefined)?.labels;
  return labels && typeof labels === 'object' ? (labels as Record<string, string>) : {};
}

function reviewed(endpoint: ReviewEndpoint, body: unknown, log: Record<string, unknown>, action: string, outcome: 'allowed' | 'denied' | 'patched', mode: string): ReviewOutcome {
  return { kind: 'reviewed', body, log: { endpoint, ...log }, metrics: { endpoint, action, outcome, mode } };
}

function requestLog(request: AdmissionRequest): Record<string, unknown> {
  const object = request.object as Pod | undefined;
  return {
    uid: request.uid,
    operation: request.operation,
    resource: request.subResource ? `${request.resource.resource}/${request.subResource}` : request.resource.resource,
    namespace: request.namespace,
    ...(request.resource.resource === 'pods' ? { pod: request.name ?? (object ? podDisplayName(object) : undefined) } : { name: request.name }),
    user: request.userInfo.username,
    dryRun: request.dryRun,
  };
}

function verdictLog(verdict: Verdict | Decision): Record<string, unknown> {
  const decision = verdict as Partial<Decision>;
  return {
    allowed: verdict.allowed,
    ...(decision.source ? { source: decision.source } : {}),
    rule: verdict.rule,
    action: verdict.action,
    mode: verdict.mode,
    ...('runtimeClassName' in verdict ? { runtime: decision.runtimeClassName } : {}),
    ...(decision.patch ? { patchOps: decision.patch.length } : {}),
    reason: verdict.reason,
    ...(decision.violations && decision.violations.length > 0 ? { violations: decision.violations.map((v) => v.kind) } : {}),
  };
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;
