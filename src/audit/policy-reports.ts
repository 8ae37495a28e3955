/**
 * The audit's findings as PolicyReports (wgpolicyk8s.io/v1alpha2, the Kubernetes Policy working group's report
 * that Kyverno and others write and dashboards such as Policy Reporter read): one per namespace with findings,
 * named sandbox-admission, a result per pod that breaks the policy. Pure; the same findings give the same report
 * (sorted, no timestamps), so publishing an unchanged report is no write at all.
 */
import type { Mode } from '../policy/types.ts';
import type { AuditEntry } from './audit-pods.ts';

export const POLICY_REPORT_API_VERSION = 'wgpolicyk8s.io/v1alpha2';
export const POLICY_REPORT_NAME = 'sandbox-admission';
/** On every report this webhook writes; it finds its own reports (and only those) by it. */
export const POLICY_REPORT_LABELS: Readonly<Record<string, string>> = { 'app.kubernetes.io/managed-by': 'sandbox-admission' };

/** A pod that breaks an enforce rule would be refused today: fail. warn and audit rules only report: warn. */
const RESULT: Readonly<Record<Mode, 'fail' | 'warn'>> = { enforce: 'fail', warn: 'warn', audit: 'warn' };
const SEVERITY: Readonly<Record<Mode, 'high' | 'medium' | 'low'>> = { enforce: 'high', warn: 'medium', audit: 'low' };

export interface PolicyReportObject {
  apiVersion: string;
  kind: 'PolicyReport';
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
  summary: { pass: number; fail: number; warn: number; error: number; skip: number };
  results: PolicyReportResult[];
}

export interface PolicyReportResult {
  source: string;
  policy: string;
  rule: string;
  category: string;
  severity: string;
  result: 'fail' | 'warn';
  scored: boolean;
  message: string;
  resources: Array<{ apiVersion: string; kind: string; name: string; namespace: string }>;
  properties: Record<string, string>;
}

/** Namespace -> its report, for the governed pods with a finding (entries without one are left out). */
export function buildPolicyReports(entries: Iterable<AuditEntry>, policyName: string): Map<string, PolicyReportObject> {
  const byNamespace = new Map<string, AuditEntry[]>();
  for (const entry of entries) {
    if (!entry.finding) continue;
    byNamespace.set(entry.namespace, [...(byNamespace.get(entry.namespace) ?? []), entry]);
  }
  const reports = new Map<string, PolicyReportObject>();
  for (const namespace of [...byNamespace.keys()].sort()) {
    const found = byNamespace.get(namespace)!.sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0));
    const results = found.map(
      (e): PolicyReportResult => ({
        source: 'sandbox-admission',
        policy: policyName,
        rule: e.rule,
        category: 'Runtime sandbox',
        severity: SEVERITY[e.mode],
        result: RESULT[e.mode],
        scored: true,
        message: e.violations.map((v) => v.message).join('; '),
        resources: [{ apiVersion: 'v1', kind: 'Pod', name: e.pod, namespace }],
        properties: {
          mode: e.mode,
          violations: e.violations.map((v) => v.kind).join(','),
          runtimeClassName: e.runtimeClassName ?? '',
        },
      }),
    );
    reports.set(namespace, {
      apiVersion: POLICY_REPORT_API_VERSION,
      kind: 'PolicyReport',
      metadata: {
        name: POLICY_REPORT_NAME,
        namespace,
        labels: { ...POLICY_REPORT_LABELS },
        annotations: { 'sandbox-admission.io/policy': policyName },
      },
      summary: {
        pass: 0,
        fail: results.filter((r) => r.result === 'fail').length,
        warn: results.filter((r) => r.result === 'warn').length,
        error: 0,
        skip: 0,
      },
      results,
    });
  }
  return reports;
}
