import { compileGlobList } from './glob.ts';
import { compileImagePattern } from './image-ref.ts';
import { compileLabelSelector } from './label-selector.ts';
import type { Matcher, MatchSpec, MatchSubject } from './types.ts';

/** Every criterion present must hold; an absent criterion matches everything. Compiled once at policy load. */
export function compileMatch(match: MatchSpec): Matcher {
  const checks: Array<(s: MatchSubject) => boolean> = [];
  if (match.namespaces) {
    const inList = compileGlobList(match.namespaces);
    checks.push((s) => inList(s.namespace));
  }
  if (match.excludeNamespaces) {
    const excluded = compileGlobList(match.excludeNamespaces);
    checks.push((s) => !excluded(s.namespace));
  }
  if (match.namespaceSelector) {
    const selects = compileLabelSelector(match.namespaceSelector);
    checks.push((s) => selects(s.namespaceLabels));
  }
  if (match.podSelector) {
    const selects = compileLabelSelector(match.podSelector);
    checks.push((s) => selects(s.podLabels));
  }
  if (match.serviceAccounts) {
    const inList = compileGlobList(match.serviceAccounts);
    checks.push((s) => inList(s.serviceAccount));
  }
  if (match.images?.from) {
    const patterns = match.images.from.map(compileImagePattern);
    checks.push((s) => s.images.some((image) => patterns.some((p) => p(image))));
  }
  if (match.images?.notFrom) {
    const patterns = match.images.notFrom.map(compileImagePattern);
    checks.push((s) => s.images.some((image) => !patterns.some((p) => p(image))));
  }
  return (subject) => checks.every((check) => check(subject));
}
