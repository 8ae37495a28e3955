/** RFC 6901: `~` becomes `~0` and `/` becomes `~1`, in that order, so label keys like `sandbox.gke.io/runtime` stay one token. */
export function escapePointerToken(token: string | number): string {
  const text = String(token);
  // Most tokens (spec, tolerations, 0) need no escaping; skip the two replaces for them.
  if (!text.includes('~') && !text.includes('/')) return text;
  return text.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function pointer(...tokens: Array<string | number>): string {
  return tokens.map((t) => `/${escapePointerToken(t)}`).join('');
}

/** JSON Patch (RFC 6902) operations the planner emits; only `add` and `replace` are ever needed. */
export type PatchOperation = { op: 'add'; path: string; value: unknown } | { op: 'replace'; path: string; value: unknown };
