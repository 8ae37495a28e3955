import { createHash } from 'node:crypto';
import type { PolicyDocument } from './types.ts';

/** Annotation on every generated ValidatingAdmissionPolicy: the digest of the policy it was rendered from. */
export const POLICY_DIGEST_ANNOTATION = 'sandbox-admission.io/policy-digest';

/**
 * A short digest of the validated policy document: sha256 of canonical JSON (object keys sorted), first 16 hex
 * characters. Formatting, comments and key order in the YAML do not change it; any change of content does.
 */
export function policyDigest(document: PolicyDocument): string {
  return createHash('sha256').update(canonicalJson(document)).digest('hex').slice(0, 16);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item === undefined ? null : item)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
