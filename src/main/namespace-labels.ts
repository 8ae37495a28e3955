/**
 * `--namespace-labels team-a=sandbox-admission.io/runtime=kata,team-a=tier=web,team-b=x=y`: namespace, key and
 * value separated by `=`; entries by commas or repeated flags. Stands in for the cluster's namespaces in local runs.
 */
export function parseNamespaceLabels(entries: readonly string[]): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const entry of entries
    .flatMap((e) => e.split(','))
    .map((e) => e.trim())
    .filter(Boolean)) {
    const first = entry.indexOf('=');
    const second = entry.indexOf('=', first + 1);
    if (first <= 0 || second === -1 || second === first + 1) {
      throw new Error(`--namespace-labels entry "${entry}" must look like namespace=key=value`);
    }
    const ns = entry.slice(0, first);
    const labels = out.get(ns) ?? {};
    labels[entry.slice(first + 1, second)] = entry.slice(second + 1);
    out.set(ns, labels);
  }
  return out;
}
