import type { Mode } from './types.ts';

/** How strict each mode is; exempt (or no rule) ranks below all of them. */
export const MODE_STRENGTH: Readonly<Record<Mode, number>> = { audit: 0, warn: 1, enforce: 2 };

/** An own-property check, never `in`: a label value such as `toString` or `constructor` is not a mode. */
export function isMode(value: unknown): value is Mode {
  return value === 'enforce' || value === 'warn' || value === 'audit';
}

/**
 * What a namespace's sandbox-admission.io/mode label means: absent -> the policy default; unreadable -> enforce,
 * so a typo (or a trick value) can never weaken a namespace.
 */
export function parseNamespaceMode(label: string | undefined, defaultMode: Mode): Mode {
  if (label === undefined) return defaultMode;
  return isMode(label) ? label : 'enforce';
}
