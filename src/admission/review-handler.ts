import { decide } from '../decision/decide.ts';
import type { Decision } from '../decision/types.ts';
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

/** decode -> facts -> decide (pure) -> encode, with one log record per review. */
export function buildReviewHandler(facts: ReviewFacts, now: () => number = () => performance.now()): ReviewHandler {
  return async (endpoint: ReviewEndpoint, body: unknown): Promise<ReviewOutcome> => {
    const started = now();
    const decoded = decodeReview(body);
    if (!decoded.ok) {
      const { code, message, path } = decoded.error;
      return { kind: 'bad-request', status: 400, code, message: path ? `${path}: ${message}` : message };
    }
    const request = decoded.value;
    if (!isPodRequest(request)) {
      return reviewed(endpoint, encodeAllowed(request), { ...requestLog(request, undefined), reason: 'not a pod' }, 'none', 'allowed', 'enforce');
    }
    const pod = request.object as Pod | undefined;
    if (!pod) {
      if (request.operation === 'CREATE') {
        return { kind: 'bad-request', status: 422, code: 'REVIEW_BAD_FIELD', message: 'request.object: a CREATE review must carry the pod' };
      }
      return reviewed(endpoint, encodeAllowed(request), { ...requestLog(request, undefined), reason: `${request.operation} carries no object` }, 'none', 'allowed', 'enforce');
    }
    const labels = request.namespace === '' ? undefined : await facts.namespaceLabels(request.namespace);
    const decision = decide({
      operation: request.operation,
      subResource: request.subResource,
      namespace: request.namespace,
      pod,
      requester: request.userInfo,
      namespaceFacts: labels === undefined ? undefined : { name: request.namespace, labels },
      policy: facts.policy(),
      runtimeClasses: facts.runtimeClasses(),
      mutate: endpoint === 'mutate',
    });
    if (endpoint === 'validate' && decision.allowed) {
      // The mutating webhook has already warned and annotated; the backstop only speaks when it denies.
      decision.warnings = [];
      decision.auditAnnotations = {};
    }
    const outcome = !decision.allowed ? 'denied' : decision.patch.length > 0 ? 'patched' : 'allowed';
    return reviewed(endpoint, encodeReview(request, decision), { ...requestLog(request, pod), ...decisionLog(decision), durationMs: round(now() - started) }, decision.action, outcome, decision.mode);
  };
}

function isPodRequest(request: AdmissionRequest): boolean {
  return request.resource.group === '' && request.resource.resource === 'pods' && request.kind.kind === 'Pod';
}

function reviewed(
  endpoint: ReviewEndpoint,
  body: unknown,
  log: Record<string, unknown>,
  action: string,
  outcome: 'allowed' | 'denied' | 'patched',
  mode: string,
): ReviewOutcome {
  return { kind: 'reviewed', body, log: { endpoint, ...log }, metrics: { endpoint, action, outcome, mode } };
}

function requestLog(request: AdmissionRequest, pod: Pod | undefined): Record<string, unknown> {
  return {
    uid: request.uid,
    operation: request.operation,
    ...(request.subResource ? { subResource: request.subResource } : {}),
    namespace: request.namespace,
    pod: request.name ?? (pod ? podDisplayName(pod) : undefined),
    user: request.userInfo.username,
    dryRun: request.dryRun,
  };
}

function decisionLog(decision: Decision): Record<string, unknown> {
  return {
    allowed: decision.allowed,
    source: decision.source,
    rule: decision.rule,
    action: decision.action,
    mode: decision.mode,
    runtime: decision.runtimeClassName,
    patchOps: decision.patch.length,
    reason: decision.reason,
    ...(decision.violations.length > 0 ? { violations: decision.violations.map((v) => v.kind) } : {}),
  };
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;
