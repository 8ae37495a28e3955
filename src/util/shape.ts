/** A JSON object (not null, not an array): what a field of an untrusted manifest must be before its keys are used. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
