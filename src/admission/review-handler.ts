import { decide } from '../decision/decide.ts';
import { judgeEphemeralContainers } from '../decision/ephemeral-containers.ts';
import { guardNamespaceLabels, needsWeakeningAuthorization, type NamespaceChange } from '../decision/namespace-guard.ts';
import { evaluatePodTemplate } from '../decision/pod-template.ts';
import { judgePodUpdate } from '../decision/pod-update.ts';
import { flagRuntimeClass } from '../decision/runtime-class-check.ts';
import type { Decision, NamespaceFacts, Requester, Verdict, ViolationKind } from '../decision/types.ts';
import { podDisplayName, type Pod } from '../k8s/pod.ts';
import type { RuntimeClassFacts } from '../k8s/runtime-class.ts';
import type { DecisionLabels } from '../observe/decision-counter.ts';
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
  /**
   * Whether RBAC lets `requester` weaken the sandbox-admission.io labels of `namespace` (a SubjectAccessReview);
   * absent without a cluster. Asked only for a weakening change by someone the policy does not list.
   */
  mayWeakenNamespace?(requester: Requester, namespace: string): Promise<boolean>;
}

/** What a review is about, by resource: each kind has its own check, all of them pure. */
type Subject = 'pod' | 'pod-ephemeral-containers' | 'namespace' | 'workload' | 'runtime-class' | 'other';

/** The facts of one request, read once before the check. */
interface RequestFacts {
  policy: Policy;
  /** The SubjectAccessReview's answer for a weakening namespace change, when one was asked. */
  namespaceRbac?: NamespaceChange['rbac'];
  namespaceFacts: NamespaceFacts | undefined;
  runtimeClasses: ReadonlyMap<string, RuntimeClassFacts> | undefined;
}

/** What a check returns: a pod decision (it may patch) or the verdict of one of the validating checks. */
type CheckResult = { kind: 'decision'; decision: Decision } | { kind: 'verdict'; verdict: Verdict };

const WORKLOADS: Readonly<Record<string, readonly string[]>> = {
  apps: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'],
  batch: ['jobs', 'cronjobs'],
  '': ['replicationcontrollers', 'podtemplates'],
};

/** decode -> facts (read once) -> check (pure) -> encode; the route logs the one line and times it. */
export function buildReviewHandler(facts: ReviewFacts): ReviewHandler {
  return async (endpoint: ReviewEndpoint, body: unknown): Promise<ReviewOutcome> => {
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
      const labels: DecisionLabels = { endpoint, resource: subject, rule: 'none', runtime: 'none', action: 'allowed', mode: 'none' };
      return reviewed(encodeAllowed(request), { endpoint, ...requestLog(request), reason }, labels, NO_VIOLATIONS);
    }
    if (request.object === undefined) {
      return {
        kind: 'bad-request',
        status: 422,
        code: 'REVIEW_BAD_FIELD',
        message: 'request.object: a CREATE review must carry the object',
      };
    }
    const requestFacts: RequestFacts = {
      policy: facts.policy(),
      namespaceFacts: await readNamespaceFacts(request, facts),
      runtimeClasses: facts.runtimeClasses(),
    };
    if (subject === 'namespace')
      requestFacts.namespaceRbac = await askNamespaceRbac(request, namespaceChangeOf(request, requestFacts.policy), facts);
    const result = check(subject, endpoint, request, requestFacts);
    const verdict = result.kind === 'decision' ? result.decision : result.verdict;
    if (endpoint === 'validate' && subject === 'pod' && verdict.allowed) {
      // The mutating webhook has already warned and annotated; the backstop only speaks when it denies.
      verdict.warnings = [];
      verdict.auditAnnotations = {};
    }
    const patch = result.kind === 'decision' ? result.decision.patch : [];
    const answer = encodeReview(request, { ...verdict, patch });
    const labels = decisionLabels(endpoint, subject, request, result, requestFacts.policy);
    const kinds = violationKinds(result);
    return reviewed(answer, { endpoint, ...requestLog(request), ...resultLog(result) }, labels, kinds);
  };
}

const NO_VIOLATIONS: readonly never[] = [];
const FLAGGED_RUNTIME_CLASS: readonly ViolationKind[] = ['runtime-class-not-sandbox'];

/** Each kind once; a RuntimeClass switched to runc is admitted but counted as what it is. */
function violationKinds(result: CheckResult): readonly ViolationKind[] {
  if (result.kind === 'verdict') return result.verdict.action === 'flag-runtime-class' ? FLAGGED_RUNTIME_CLASS : NO_VIOLATIONS;
  const { violations } = result.decision;
  return violations.length === 0 ? NO_VIOLATIONS : [...new Set(violations.map((v) => v.kind))];
}

/**
 * The metric labels of a reviewed object, every value bounded by the policy: a runtimeClassName the pod asked
 * for is reported as its profile's name, or `other`, never as written (anyone creating pods could mint series).
 */
function decisionLabels(
  endpoint: ReviewEndpoint,
  subject: Subject,
  request: AdmissionRequest,
  result: CheckResult,
  policy: Policy,
): DecisionLabels {
  const verdict = result.kind === 'decision' ? result.decision : result.verdict;
  const decision = result.kind === 'decision' ? result.decision : undefined;
  // A reviewed RuntimeClass is reported by the profile it serves, if any.
  const runtimeClass =
    subject === 'runtime-class' ? (request.object as { metadata?: { name?: string } }).metadata?.name : decision?.runtimeClassName;
  const runtime = runtimeClass === undefined ? 'none' : (policy.profilesByRuntimeClass.get(runtimeClass)?.name ?? 'other');
  const exempt = verdict.action === 'exempt' || decision?.source === 'exempt-namespace' || decision?.source === 'mirror-pod';
  const action = !verdict.allowed ? 'denied' : exempt ? 'exempt' : (decision?.patch.length ?? 0) > 0 ? 'patched' : 'allowed';
  // Nothing governed the object: no mode applied, and a label of "enforce" would say otherwise.
  const mode = verdict.action === 'none' ? 'none' : verdict.mode;
  return { endpoint, resource: subject, rule: verdict.rule ?? 'none', runtime, action, mode };
}

/** Dispatch to the pure check of the subject. */
function check(subject: Subject, endpoint: ReviewEndpoint, request: AdmissionRequest, facts: RequestFacts): CheckResult {
  const object = request.object as Record<string, unknown>;
  const oldObject = request.oldObject as Record<string, unknown> | undefined;
  const { policy, namespaceFacts, runtimeClasses } = facts;
  const shared = { namespace: request.namespace, requester: request.userInfo, namespaceFacts, policy, runtimeClasses };
  switch (subject) {
    case 'namespace':
      return verdictOf(
        guardNamespaceLabels({ ...namespaceChangeOf(request, policy), ...(facts.namespaceRbac ? { rbac: facts.namespaceRbac } : {}) }),
      );
    case 'runtime-class':
      return verdictOf(flagRuntimeClass(object, policy));
    case 'pod-ephemeral-containers':
      return verdictOf(judgeEphemeralContainers({ ...shared, pod: object as Pod, oldPod: oldObject as Pod | undefined }));
    case 'workload':
      return verdictOf(evaluatePodTemplate({ ...shared, operation: request.operation, object, oldObject }));
    default: {
      // The backstop also judges pod UPDATEs that change images or labels (pod-update.ts); the mutating webhook never.
      if (endpoint === 'validate' && request.operation === 'UPDATE' && request.subResource === undefined) {
        return {
          kind: 'decision',
          decision: judgePodUpdate({
            ...shared,
            operation: 'UPDATE',
            pod: object as Pod,
            oldPod: oldObject as Pod | undefined,
            mutate: false,
          }),
        };
      }
      const decision = decide({
        ...shared,
        operation: request.operation,
        subResource: request.subResource,
        pod: object as Pod,
        mutate: endpoint === 'mutate',
      });
      return { kind: 'decision', decision };
    }
  }
}

const verdictOf = (verdict: Verdict): CheckResult => ({ kind: 'verdict', verdict });

function namespaceChangeOf(request: AdmissionRequest, policy: Policy): NamespaceChange {
  const oldObject = request.oldObject as Record<string, unknown> | undefined;
  return {
    operation: request.operation,
    labels: labelsOf(request.object as Record<string, unknown>),
    oldLabels: oldObject ? labelsOf(oldObject) : undefined,
    requester: request.userInfo,
    policy,
  };
}

/** One SubjectAccessReview, only for a weakening the policy's lists do not allow; a failed one refuses (fail closed). */
async function askNamespaceRbac(request: AdmissionRequest, change: NamespaceChange, facts: ReviewFacts): Promise<NamespaceChange['rbac']> {
  if (!facts.mayWeakenNamespace || !needsWeakeningAuthorization(change)) return undefined;
  // The namespace's own name (request.name; the object's metadata.name when a CREATE generates it).
  const metadata = (request.object as { metadata?: { name?: unknown } }).metadata;
  const name = request.name ?? (typeof metadata?.name === 'string' ? metadata.name : '');
  try {
    return (await facts.mayWeakenNamespace(change.requester ?? {}, name)) ? 'allowed' : 'denied';
  } catch {
    return 'error';
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

async function readNamespaceFacts(request: AdmissionRequest, facts: ReviewFacts): Promise<NamespaceFacts | undefined> {
  if (request.namespace === '') return undefined;
  const labels = await facts.namespaceLabels(request.namespace);
  return labels === undefined ? undefined : { name: request.namespace, labels };
}

function labelsOf(object: Record<string, unknown>): Record<string, string> {
  const labels = (object.metadata as { labels?: unknown } | undefined)?.labels;
  return labels && typeof labels === 'object' ? (labels as Record<string, string>) : {};
}

function reviewed(body: unknown, log: Record<string, unknown>, metrics: DecisionLabels, violationKinds: readonly string[]): ReviewOutcome {
  return { kind: 'reviewed', body, log, metrics, violationKinds };
}

function requestLog(request: AdmissionRequest): Record<string, unknown> {
  const object = request.object as Pod | undefined;
  return {
    uid: request.uid,
    operation: request.operation,
    resource: request.subResource ? `${request.resource.resource}/${request.subResource}` : request.resource.resource,
    namespace: request.namespace,
    ...(request.resource.resource === 'pods'
      ? { pod: request.name ?? (object ? podDisplayName(object) : undefined) }
      : { name: request.name }),
    user: request.userInfo.username,
    dryRun: request.dryRun,
  };
}

function resultLog(result: CheckResult): Record<string, unknown> {
  if (result.kind === 'verdict') {
    const { verdict } = result;
    return { allowed: verdict.allowed, rule: verdict.rule, action: verdict.action, mode: verdict.mode, reason: verdict.reason };
  }
  const { decision } = result;
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
