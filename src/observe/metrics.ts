import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { createDecisionCounter, type DecisionCounter } from './decision-counter.ts';

export type Metrics = {
  /** Everything below, plus the default process/Node.js metrics; serve this on /metrics. */
  registry: Registry;
  /** 1, labelled with the version of the running server. */
  buildInfo: Gauge<'version' | 'nodejs_version'>;
  /** 1, labelled with the name, digest and rule count of the policy in force (one series: reset on reload). */
  policyInfo: Gauge<'name' | 'digest' | 'rules'>;
  /** Reviews answered with an AdmissionReview: rule, runtime profile, action, mode (decision-counter.ts). */
  decisions: DecisionCounter;
  /** Violations found in reviewed objects, by kind: refused in enforce mode, flagged in warn and audit. */
  violations: Counter<'endpoint' | 'rule' | 'kind' | 'mode'>;
  /** Time from the first byte of a review request to the reply, parsing included. */
  admissionDuration: Histogram<'endpoint'>;
  /** Requests refused before or by the review pipeline (4xx), by error code. */
  badRequests: Counter<'code'>;
  /** Admission requests refused unread (429/503) because too much was in flight or the process was under pressure. */
  shedRequests: Counter<'reason'>;
  /** Admission requests being read or answered now. */
  inFlightRequests: Gauge;
  /** Declared bytes of large review bodies being read or answered now. */
  inFlightLargeBodyBytes: Gauge;
  /** Unexpected throws (HTTP 500): the webhook's failurePolicy decided these pods. */
  internalErrors: Counter<'endpoint'>;
  policyReloads: Counter<'result'>;
  policyLastSuccessfulReload: Gauge;
  /** 1 while the policy file holds a policy that was refused (the last good one is in force), else 0. */
  policyRefused: Gauge;
  /** Self-managed certificates only (absent otherwise: whoever renews mounted files watches them). */
  servingCertificateExpiry: Gauge;
  /** 1 for each profile whose RuntimeClass is missing or runs a non-sandbox handler; pods routed there are refused. */
  profileRuntimeClassProblems: Gauge<'profile' | 'runtime_class' | 'problem'>;
  /** notAfter of the CA that signs serving certificates (self-managed certificates only). */
  certificateAuthorityExpiry: Gauge;
  /** Certificate Secret writes by this replica, by rotation step. */
  certificateRotations: Counter<'step'>;
  /** caBundle publications to webhook configurations that changed something or could not, by result. */
  caBundlePublications: Counter<'kind' | 'result'>;
  /**
   * Running pods that break the policy, from the last successful audit scan: by rule mode and the kind of their
   * first violation (at most 3 x 7 series; no namespace or pod label, so cluster size never adds series).
   */
  auditFindings: Gauge<'mode' | 'kind'>;
  /** The last successful audit scan's pod counts: scanned, governed, findings (always present, 0 included). */
  auditPods: Gauge<'state'>;
  /** Absent until the first successful scan (and without --cluster, where nothing is audited). */
  auditLastSuccessfulScan: Gauge;
  /** Audit scans by result: success, failure (an API error; the gauges keep the last good scan). */
  auditScans: Counter<'result'>;
  /**
   * 1 while a generated ValidatingAdmissionPolicy in the cluster was rendered from another policy than the one in
   * force, 0 once checked and current; absent until the drift check (cluster mode) has run.
   */
  admissionPolicyStale: Gauge;
  /** 1 while this replica holds the leader-election Lease (it writes the generated policies and the PolicyReports). */
  leader: Gauge;
  /** Writes of generated admission policies by the leader, by kind and action (created, updated, repaired, deleted, failed). */
  admissionPolicyWrites: Counter<'kind' | 'action'>;
  /** PolicyReport writes by the leader, by action (applied, deleted, failed). */
  policyReportWrites: Counter<'action'>;
};

export interface MetricsOptions {
  /** The server's version, for build_info (package.json). */
  version?: string;
}

export type PolicyReloadResult = 'success' | 'failure';

export const METRIC_PREFIX = 'sandbox_admission_';
const prefix = METRIC_PREFIX;
/**
 * A decision is pure in-memory work (tens of microseconds), a typical review well under 10 ms; the buckets go on
 * up to 10 s, the longest timeoutSeconds a webhook may have, with a boundary at every second up to 5 (the
 * manifests' webhooks time out after 3 or 5 s) and at 2.5 s, where the PrometheusRule's "p99 near the timeout"
 * alert sits, so its quantile is read off a bucket edge rather than interpolated across a wide bucket.
 */
export const DURATION_BUCKETS = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 3, 4, 5, 10] as const;

/** A private registry per call, so tests and multiple servers never share (or double-register) metrics. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const buildInfo = new Gauge({
    name: `${prefix}build_info`,
    help: 'Always 1; the labels say which version of sandbox-admission is running, on which Node.js.',
    labelNames: ['version', 'nodejs_version'] as const,
    registers,
  });
  buildInfo.set({ version: options.version ?? 'unknown', nodejs_version: process.version }, 1);
  return {
    registry,
    buildInfo,
    policyInfo: new Gauge({
      name: `${prefix}policy_info`,
      help: 'Always 1; the labels name the policy in force, its digest (the one generated admission policies carry) and its number of rules.',
      labelNames: ['name', 'digest', 'rules'] as const,
      registers,
    }),
    decisions: createDecisionCounter(registry, `${prefix}decisions_total`),
    violations: new Counter({
      name: `${prefix}violations_total`,
      help: 'Violations found in reviewed objects, by endpoint, governing rule, violation kind and mode (enforce: refused; warn, audit: admitted and flagged).',
      labelNames: ['endpoint', 'rule', 'kind', 'mode'] as const,
      registers,
    }),
    admissionDuration: new Histogram({
      name: `${prefix}request_duration_seconds`,
      help: 'Time to answer an admission request, including body parsing.',
      labelNames: ['endpoint'] as const,
      buckets: [...DURATION_BUCKETS],
      registers,
    }),
    badRequests: new Counter({
      name: `${prefix}bad_requests_total`,
      help: 'Requests rejected with a 4xx status, by error code.',
      labelNames: ['code'] as const,
      registers,
    }),
    shedRequests: new Counter({
      name: `${prefix}shed_requests_total`,
      help: 'Admission requests refused before their body was read (429 too much in flight, 503 under pressure), by reason.',
      labelNames: ['reason'] as const,
      registers,
    }),
    inFlightRequests: new Gauge({
      name: `${prefix}in_flight_requests`,
      help: 'Admission requests being read or answered.',
      registers,
    }),
    inFlightLargeBodyBytes: new Gauge({
      name: `${prefix}in_flight_large_body_bytes`,
      help: 'Declared bytes of large admission request bodies being read or answered.',
      registers,
    }),
    internalErrors: new Counter({
      name: `${prefix}internal_errors_total`,
      help: 'Admission requests that failed with HTTP 500; the webhook failurePolicy applied.',
      labelNames: ['endpoint'] as const,
      registers,
    }),
    policyReloads: new Counter({
      name: `${prefix}policy_reloads_total`,
      help: 'Policy reload attempts, by result.',
      labelNames: ['result'] as const,
      registers,
    }),
    policyLastSuccessfulReload: new Gauge({
      name: `${prefix}policy_last_successful_reload_timestamp_seconds`,
      help: 'Unix time of the last policy load that succeeded.',
      registers,
    }),
    policyRefused: new Gauge({
      name: `${prefix}policy_refused`,
      help: 'Whether the policy file holds a policy that was refused (1; the last good policy stays in force) or not (0).',
      registers,
    }),
    servingCertificateExpiry: absentUntilSet(
      new Gauge({
        name: `${prefix}serving_certificate_expiry_timestamp_seconds`,
        help: 'Unix time at which the certificate being served expires.',
        registers,
      }),
    ),
    profileRuntimeClassProblems: new Gauge({
      name: `${prefix}profile_runtime_class_problems`,
      help: 'Runtime profiles whose RuntimeClass is missing from the cluster or uses a non-sandbox handler (1 per problem).',
      labelNames: ['profile', 'runtime_class', 'problem'] as const,
      registers,
    }),
    certificateAuthorityExpiry: absentUntilSet(
      new Gauge({
        name: `${prefix}certificate_authority_expiry_timestamp_seconds`,
        help: 'Unix time at which the CA signing the serving certificates expires (self-managed certificates).',
        registers,
      }),
    ),
    certificateRotations: new Counter({
      name: `${prefix}certificate_rotations_total`,
      help: 'Certificate Secret writes by this replica, by step (create, rotate-ca, issue-serving, drop-cas).',
      labelNames: ['step'] as const,
      registers,
    }),
    caBundlePublications: new Counter({
      name: `${prefix}ca_bundle_publications_total`,
      help: 'caBundle publications to webhook configurations that changed something or could not, by kind and result (patched, missing, failed).',
      labelNames: ['kind', 'result'] as const,
      registers,
    }),
    auditFindings: new Gauge({
      name: `${prefix}audit_findings`,
      help: 'Running pods the policy governs that are not in an allowed sandbox or host an unsupported feature, from the last successful audit scan, by rule mode and first violation kind.',
      labelNames: ['mode', 'kind'] as const,
      registers,
    }),
    auditPods: new Gauge({
      name: `${prefix}audit_pods`,
      help: 'Pods counted by the last successful audit scan: scanned (not Succeeded/Failed), governed by the policy, findings.',
      labelNames: ['state'] as const,
      registers,
    }),
    auditLastSuccessfulScan: absentUntilSet(
      new Gauge({
        name: `${prefix}audit_last_successful_scan_timestamp_seconds`,
        help: 'Unix time at which the last successful audit scan finished.',
        registers,
      }),
    ),
    auditScans: new Counter({
      name: `${prefix}audit_scans_total`,
      help: 'Audit scans of running pods, by result (success, failure).',
      labelNames: ['result'] as const,
      registers,
    }),
    admissionPolicyStale: absentUntilSet(
      new Gauge({
        name: `${prefix}admission_policy_stale`,
        help: 'Whether a generated ValidatingAdmissionPolicy in the cluster carries another policy digest than the policy in force (1) or not (0).',
        registers,
      }),
    ),
    // Absent where there is no election (no cluster): not a replica that lost it.
    leader: absentUntilSet(
      new Gauge({
        name: `${prefix}leader`,
        help: 'Whether this replica holds the leader-election Lease (1) or not (0); the leader writes generated admission policies and PolicyReports.',
        registers,
      }),
    ),
    admissionPolicyWrites: new Counter({
      name: `${prefix}admission_policy_writes_total`,
      help: 'Generated admission policy objects written by this replica as leader, by kind and action (created, updated, repaired, deleted, failed).',
      labelNames: ['kind', 'action'] as const,
      registers,
    }),
    policyReportWrites: new Counter({
      name: `${prefix}policy_report_writes_total`,
      help: 'PolicyReports written by this replica as leader, by action (applied, deleted, failed).',
      labelNames: ['action'] as const,
      registers,
    }),
  };
}

/**
 * A gauge without labels shows 0 until it is set; one that does not apply here (no self-managed certificates, no
 * cluster to audit) must be absent instead, so an alert on it neither fires nor reads a false "fine".
 */
function absentUntilSet(gauge: Gauge): Gauge {
  gauge.remove();
  return gauge;
}

/** The policy in force, as policy_info's single series. */
export function recordPolicyInfo(metrics: Metrics, policy: { name: string; digest: string; rules: number }): void {
  metrics.policyInfo.reset();
  metrics.policyInfo.set({ name: policy.name, digest: policy.digest, rules: String(policy.rules) }, 1);
}

/** Count a policy reload attempt; only a success moves the "last good policy" clock. */
export function recordPolicyReload(metrics: Metrics, result: PolicyReloadResult, now: Date): void {
  metrics.policyReloads.inc({ result });
  metrics.policyRefused.set(result === 'failure' ? 1 : 0);
  if (result === 'success') metrics.policyLastSuccessfulReload.set(now.getTime() / 1000);
}
