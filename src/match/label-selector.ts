import type { LabelSelector } from './types.ts';

/**
 * metav1.LabelSelector semantics: matchLabels and every matchExpression are ANDed; an empty selector
 * matches everything; NotIn and DoesNotExist match when the key is absent.
 */
export function compileLabelSelector(selector: LabelSelector): (labels: Readonly<Record<string, string>>) => boolean {
  const checks: Array<(labels: Readonly<Record<string, string>>) => boolean> = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    checks.push((labels) => Object.hasOwn(labels, key) && labels[key] === value);
  }
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const set = new Set(values);
    switch (operator) {
      case 'In':
        checks.push((labels) => Object.hasOwn(labels, key) && set.has(labels[key] as string));
        break;
      case 'NotIn':
        checks.push((labels) => !Object.hasOwn(labels, key) || !set.has(labels[key] as string));
        break;
      case 'Exists':
        checks.push((labels) => Object.hasOwn(labels, key));
        break;
      case 'DoesNotExist':
        checks.push((labels) => !Object.hasOwn(labels, key));
        break;
      default:
        // The schema admits only the four operators; refuse to match rather than guess.
        checks.push(() => false);
    }
  }
  return (labels) => checks.every((check) => check(labels));
}
