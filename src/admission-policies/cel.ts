/**
 * Building blocks for CEL text: literals, glob lists as RE2 regexes, metav1 label selectors and image patterns.
 * Each mirrors the matcher the decision compiles (src/match/glob.ts, label-selector.ts, image-ref.ts), so the
 * API server and the webhook match the same things.
 */
import { DOCKER_HUB_ALIASES } from '../match/image-ref.ts';
import type { LabelSelector } from '../match/types.ts';

/** A CEL string literal. JSON's escapes (\" \\ \n \t \uXXXX ...) are all valid CEL escapes. */
export function celString(value: string): string {
  return JSON.stringify(value);
}

const SLOT = '\u0000';

/**
 * A sentence of the decision's vocabulary (decision/messages.ts) as a CEL string expression: `format` is called
 * with a marker for each slot, and each marker becomes that slot's CEL expression, the text around it literals.
 * The API server's message is then the webhook's, word for word.
 */
export function celMessage<K extends string>(
  format: (slots: Record<K, string>) => string,
  expressions: Readonly<Record<K, string>>,
): string {
  const keys = Object.keys(expressions) as K[];
  const slots = Object.fromEntries(keys.map((key) => [key, `${SLOT}${key}${SLOT}`])) as Record<K, string>;
  // Split on the markers: even parts are literal text, odd parts slot names.
  return format(slots)
    .split(SLOT)
    .flatMap((part, i) => (i % 2 === 1 ? [expressions[part as K]] : part === '' ? [] : [celString(part)]))
    .join(' + ');
}

/**
 * A JSON value as a CEL literal. With `type` (the object type of a field of the request's object, e.g.
 * `Object.spec.tolerations`, the same name for a list and its items), objects become typed constructions
 * (`Object.spec.tolerations{key: "k", tolerationSeconds: 60}`), which a MutatingAdmissionPolicy's type check needs
 * for values of mixed field types; without it, a map literal (keys quoted, values of one type).
 */
export function celValue(value: unknown, type?: string): string {
  if (Array.isArray(value)) return `[${value.map((item) => celValue(item, type)).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (type === undefined) return `{${entries.map(([k, v]) => `${celString(k)}: ${celValue(v)}`).join(', ')}}`;
    return `${type}{${entries.map(([k, v]) => `${k}: ${celValue(v, `${type}.${k}`)}`).join(', ')}}`;
  }
  if (typeof value === 'string') return celString(value);
  return JSON.stringify(value ?? null);
}

export function celList(values: readonly string[]): string {
  return `[${values.map(celString).join(', ')}]`;
}

/** `a || b`, with `false` for no terms. */
export function celOr(terms: readonly string[]): string {
  if (terms.length === 0) return 'false';
  // && binds tighter than ||, but a conjunction in brackets reads more easily.
  return terms.map((t) => (terms.length > 1 && (topLevel(t).has('?') || topLevel(t).has('&&')) ? `(${t})` : t)).join(' || ');
}

/** `a && b`, with `true` for no terms; a term is parenthesized only where CEL precedence needs it. */
export function celAnd(terms: readonly string[]): string {
  if (terms.length === 0) return 'true';
  return terms.map((t) => (terms.length > 1 && (topLevel(t).has('?') || topLevel(t).has('||')) ? `(${t})` : t)).join(' && ');
}

/** The loosest-binding operators (`||`, `&&`, `?`) outside brackets and string literals. */
function topLevel(term: string): Set<string> {
  const found = new Set<string>();
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < term.length; i++) {
    const ch = term[i]!;
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
      continue;
    }
    if (ch === '"') quoted = true;
    else if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if (ch === ')' || ch === ']' || ch === '}') depth--;
    else if (depth === 0 && ch === '?') found.add('?');
    else if (depth === 0 && (ch === '|' || ch === '&') && term[i + 1] === ch) found.add(ch + ch);
  }
  return found;
}

const REGEX_SPECIAL = /[\\^$.|?*+()[\]{}]/g;

/** Escape a literal for RE2 (the same characters the decision's glob compiler escapes, plus `?` and `*`). */
export function escapeRegex(literal: string): string {
  return literal.replace(REGEX_SPECIAL, '\\$&');
}

/** The body of the RE2 regex for one glob: `*` any run of characters, `?` exactly one, everything else literal. */
export function globToRegex(pattern: string): string {
  return pattern
    .split('')
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : escapeRegex(ch)))
    .join('');
}

/**
 * `subject` matches one of the globs (whole string). Plain names become an `in` list; the rest one anchored
 * regex, `(?s)` so that `*` crosses any character as it does in the decision (`/s` flag).
 */
export function celGlobList(subject: string, patterns: readonly string[]): string {
  const exact = unique(patterns.filter((p) => !/[*?]/.test(p)));
  const wild = unique(patterns.filter((p) => /[*?]/.test(p)));
  const terms: string[] = [];
  if (exact.length === 1) terms.push(`${subject} == ${celString(exact[0]!)}`);
  else if (exact.length > 1) terms.push(`${subject} in ${celList(exact)}`);
  if (wild.length > 0) terms.push(`${subject}.matches(${celString(`(?s)^(?:${wild.map(globToRegex).join('|')})$`)})`);
  return celOr(terms);
}

/** metav1.LabelSelector over a `map(string, string)` expression: every requirement ANDed, empty matches all. */
export function celLabelSelector(labels: string, selector: LabelSelector): string {
  const terms: string[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    terms.push(`${celString(key)} in ${labels} && ${labels}[${celString(key)}] == ${celString(value)}`);
  }
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const k = celString(key);
    switch (operator) {
      case 'In':
        terms.push(`${k} in ${labels} && ${labels}[${k}] in ${celList(values)}`);
        break;
      case 'NotIn':
        terms.push(`!(${k} in ${labels}) || !(${labels}[${k}] in ${celList(values)})`);
        break;
      case 'Exists':
        terms.push(`${k} in ${labels}`);
        break;
      case 'DoesNotExist':
        terms.push(`!(${k} in ${labels})`);
        break;
      default:
        // The schema admits only the four operators; like the decision, refuse to match rather than guess.
        terms.push('false');
    }
  }
  return celAnd(terms);
}

/**
 * One image pattern as a CEL condition on a normalised reference `ref` = [host, path] (see the `imageRefs`
 * variable in validating-admission-policy.ts): exactly compileImagePattern's rules, with string functions instead of regexes
 * (a regex's CEL cost is multiplied by the pattern's length). The host is lowercased, `*.corp` matches any host
 * ending in `.corp`, `index.docker.io` and `registry-1.docker.io` mean `docker.io`, and a path prefix matches whole segments.
 */
export function celImagePattern(ref: string, pattern: string): string {
  const trimmed = pattern.replace(/\/+$/, '');
  const slash = trimmed.indexOf('/');
  const hostPattern = (slash === -1 ? trimmed : trimmed.slice(0, slash)).toLowerCase();
  const pathPrefix = slash === -1 ? '' : trimmed.slice(slash + 1);
  const host = hostPattern.startsWith('*.')
    ? `${ref}[0].endsWith(${celString(hostPattern.slice(1))})`
    : `${ref}[0] == ${celString(DOCKER_HUB_ALIASES.includes(hostPattern) ? 'docker.io' : hostPattern)}`;
  if (pathPrefix === '') return host;
  return celAnd([host, `${ref}[1] == ${celString(pathPrefix)} || ${ref}[1].startsWith(${celString(`${pathPrefix}/`)})`]);
}

/** "Comes from one of these patterns". */
export function celImagePatterns(ref: string, patterns: readonly string[]): string {
  return celOr(unique(patterns.map((p) => celImagePattern(ref, p))));
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}
