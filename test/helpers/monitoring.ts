// What the monitoring component (manifests/components/monitoring) asks of the server: the metric names its alerts,
// recording rules and dashboard queries use, and the Prometheus text format's metric families.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const MONITORING = new URL('../../manifests/components/monitoring/', import.meta.url);

export type RuleSpec = { groups: Array<{ name: string; rules: Array<{ record?: string; alert?: string; expr: string; for?: string }> }> };

/** The PrometheusRule's spec: a Prometheus rule file as promtool reads it. */
export function readRuleSpec(): RuleSpec {
  return (parse(readFileSync(new URL('prometheus-rule.yaml', MONITORING), 'utf8')) as { spec: RuleSpec }).spec;
}

export function readDashboard(): {
  panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
  templating: { list: Array<{ query?: unknown }> };
} {
  return JSON.parse(readFileSync(new URL('dashboards/sandbox-admission.json', MONITORING), 'utf8'));
}

const FUNCTIONS_AND_KEYWORDS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'count',
  'by',
  'without',
  'rate',
  'increase',
  'irate',
  'histogram_quantile',
  'time',
  'and',
  'or',
  'unless',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'label_values',
  'bool',
  'offset',
  'abs',
  'topk',
  'bottomk',
  'clamp_min',
  'clamp_max',
  'vector',
  'scalar',
  'absent',
  'le',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression selects: identifiers outside label matchers, `by (...)` lists, strings and
 * range brackets that are not functions or keywords. Recording-rule names (with a colon) are included.
 */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\$\{?\w+\}?/g, '');
  const names = new Set<string>();
  for (const [token] of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    if (FUNCTIONS_AND_KEYWORDS.has(token.toLowerCase())) continue;
    if (/^\d/.test(token)) continue;
    names.add(token);
  }
  return [...names];
}

/** Every query of the monitoring component, where it is from. */
export function monitoringQueries(): Array<{ where: string; expr: string }> {
  const queries: Array<{ where: string; expr: string }> = [];
  for (const group of readRuleSpec().groups)
    for (const rule of group.rules) queries.push({ where: `rule ${rule.alert ?? rule.record}`, expr: rule.expr });
  const dashboard = readDashboard();
  for (const panel of dashboard.panels)
    for (const target of panel.targets ?? []) queries.push({ where: `dashboard panel "${panel.title}"`, expr: target.expr });
  for (const variable of dashboard.templating.list) {
    const query = variable.query as { query?: string } | string | undefined;
    const text = typeof query === 'string' ? query : query?.query;
    if (text?.startsWith('label_values(')) queries.push({ where: 'dashboard variable', expr: text.replace(/,\s*\w+\)$/, ')') });
  }
  return queries;
}

/** Metric families a /metrics text declares (# TYPE), with the series names each one exposes. */
export function exportedSeriesNames(text: string): { families: Map<string, string>; series: Set<string> } {
  const families = new Map<string, string>();
  const series = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    families.set(name!, type!);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) series.add(`${name}${suffix}`);
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) series.add(`${name}${suffix}`);
    else series.add(name!);
  }
  return { families, series };
}

/** `metric{label=...}` selectors of a PromQL expression: which labels each named metric is matched on. */
export function labelMatchersIn(expr: string): Array<{ metric: string; labels: string[] }> {
  const unquoted = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return [...unquoted.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)].map(([, metric, body]) => ({
    metric: metric!,
    labels: [...body!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]!),
  }));
}
