/**
 * Shell-style globs for names (`team-*`, `ci-?`): `*` is any run of characters, `?` one character.
 * Compiled once at policy load; names are matched whole.
 */
export function compileGlob(pattern: string): (name: string) => boolean {
  if (!/[*?]/.test(pattern)) return (name) => name === pattern;
  const source = pattern
    .split('')
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  const re = new RegExp(`^${source}$`, 's');
  return (name) => re.test(name);
}

export function compileGlobList(patterns: readonly string[]): (name: string) => boolean {
  const matchers = patterns.map(compileGlob);
  return (name) => matchers.some((m) => m(name));
}
