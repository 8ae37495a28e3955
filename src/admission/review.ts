import type { CodedError } from '../errors.ts';
import type { Decision } from '../decision/types.ts';
import { err, ok, type Result } from '../util/result.ts';
import { isPlainObject } from '../util/shape.ts';

export const REVIEW_API_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const;
export type ReviewApiVersion = (typeof REVIEW_API_VERSIONS)[number];

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}
export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

/** The fields of an AdmissionRequest the webhook uses, checked for type. */
export interface AdmissionRequest {
  apiVersion: ReviewApiVersion;
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource: string | undefined;
  operation: string;
  namespace: string;
  name: string | undefined;
  object: unknown;
  /** The stored object before an UPDATE (absent on CREATE). */
  oldObject: unknown;
  userInfo: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  dryRun: boolean;
}

/** Untrusted JSON -> AdmissionRequest, or the first thing wrong with it (answered with HTTP 400). */
export function decodeReview(body: unknown): Result<AdmissionRequest, CodedError> {
  if (!isPlainObject(body)) return err({ code: 'REVIEW_NOT_OBJECT', message: 'expected a JSON object (an AdmissionReview)' });
  const apiVersion = body.apiVersion;
  if (!REVIEW_API_VERSIONS.includes(apiVersion as ReviewApiVersion)) {
    return err({
      code: 'REVIEW_API_VERSION',
      path: 'apiVersion',
      message: `got ${JSON.stringify(apiVersion)}; send admission.k8s.io/v1 (or v1beta1)`,
    });
  }
  if (body.kind !== 'AdmissionReview') {
    return err({ code: 'REVIEW_KIND', path: 'kind', message: `got ${JSON.stringify(body.kind)}, expected "AdmissionReview"` });
  }
  const request = body.request;
  if (!isPlainObject(request)) return err({ code: 'REVIEW_NO_REQUEST', path: 'request', message: 'the review has no request object' });
  if (typeof request.uid !== 'string' || request.uid === '') {
    return err({ code: 'REVIEW_NO_UID', path: 'request.uid', message: 'must be a non-empty string' });
  }
  const bad = (path: string, expected: string): Result<never, CodedError> =>
    err({ code: 'REVIEW_BAD_FIELD', path: `request.${path}`, message: `must be ${expected}` });
  if (typeof request.operation !== 'string') return bad('operation', 'a string (CREATE, UPDATE, DELETE or CONNECT)');
  if (request.namespace !== undefined && typeof request.namespace !== 'string') return bad('namespace', 'a string');
  if (request.name !== undefined && typeof request.name !== 'string') return bad('name', 'a string');
  if (request.subResource !== undefined && typeof request.subResource !== 'string') return bad('subResource', 'a string');
  if (!isPlainObject(request.kind) || typeof request.kind.kind !== 'string') return bad('kind', 'an object with group, version and kind');
  if (!isPlainObject(request.resource) || typeof request.resource.resource !== 'string')
    return bad('resource', 'an object with group, version and resource');
  if (request.object !== undefined && request.object !== null && !isPlainObject(request.object)) return bad('object', 'an object');
  if (request.oldObject !== undefined && request.oldObject !== null && !isPlainObject(request.oldObject))
    return bad('oldObject', 'an object');
  if (request.userInfo !== undefined && !isPlainObject(request.userInfo)) return bad('userInfo', 'an object');
  if (request.dryRun !== undefined && typeof request.dryRun !== 'boolean') return bad('dryRun', 'a boolean');
  const userInfo = isPlainObject(request.userInfo) ? request.userInfo : {};
  return ok({
    apiVersion: apiVersion as ReviewApiVersion,
    uid: request.uid,
    kind: { group: str(request.kind.group), version: str(request.kind.version), kind: request.kind.kind },
    resource: { group: str(request.resource.group), version: str(request.resource.version), resource: request.resource.resource },
    subResource: request.subResource === '' ? undefined : (request.subResource as string | undefined),
    operation: request.operation,
    namespace: str(request.namespace),
    name: request.name === '' ? undefined : (request.name as string | undefined),
    object: request.object ?? undefined,
    oldObject: request.oldObject ?? undefined,
    userInfo: {
      ...(typeof userInfo.username === 'string' ? { username: userInfo.username } : {}),
      ...(typeof userInfo.uid === 'string' ? { uid: userInfo.uid } : {}),
      ...(Array.isArray(userInfo.groups) ? { groups: userInfo.groups.filter((g): g is string => typeof g === 'string') } : {}),
      // Only a SubjectAccessReview reads these (namespace label guard): passed on as the API server sent them.
      ...(isPlainObject(userInfo.extra) ? { extra: readExtra(userInfo.extra) } : {}),
    },
    dryRun: request.dryRun === true,
  });
}

function readExtra(extra: Record<string, unknown>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [key, values] of Object.entries(extra)) {
    if (Array.isArray(values)) out[key] = values.filter((v): v is string => typeof v === 'string');
  }
  return out;
}

/** The AdmissionReview answer, in the request's own apiVersion, echoing its uid. */
export function encodeReview(
  request: Pick<AdmissionRequest, 'apiVersion' | 'uid'>,
  decision: Pick<Decision, 'allowed' | 'patch' | 'warnings' | 'auditAnnotations' | 'message'>,
): unknown {
  const response: Record<string, unknown> = { uid: request.uid, allowed: decision.allowed };
  if (decision.allowed && decision.patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(decision.patch), 'utf8').toString('base64');
  }
  if (!decision.allowed) {
    response.status = {
      metadata: {},
      status: 'Failure',
      code: 403,
      reason: 'Forbidden',
      message: decision.message ?? 'denied by sandbox-admission',
    };
  }
  if (decision.warnings.length > 0) response.warnings = decision.warnings.map(sanitizeWarning);
  if (Object.keys(decision.auditAnnotations).length > 0) response.auditAnnotations = decision.auditAnnotations;
  return { apiVersion: request.apiVersion, kind: 'AdmissionReview', response };
}

/** A review we could decode but will not judge (not a pod): allowed unchanged. */
export function encodeAllowed(request: Pick<AdmissionRequest, 'apiVersion' | 'uid'>): unknown {
  return { apiVersion: request.apiVersion, kind: 'AdmissionReview', response: { uid: request.uid, allowed: true } };
}

// The API server refuses warnings with control characters; keep them on one line.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what it removes.
const sanitizeWarning = (w: string): string => w.replace(/[\u0000-\u001f\u007f]+/g, ' ');

const str = (value: unknown): string => (typeof value === 'string' ? value : '');
