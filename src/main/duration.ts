const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `5m`, `5s`, `500ms`, `0` (a bare number is seconds) -> milliseconds. */
export function parseDuration(value: string): number {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(value.trim());
  if (!match) throw new Error(`expected a duration such as 5m, 5s or 500ms, got "${value}"`);
  return Number(match[1]) * (DURATION_UNITS[match[2] ?? 's'] ?? 1000);
}
