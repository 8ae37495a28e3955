import { readFileSync } from 'node:fs';
import { buildReviewHandler } from '../src/admission/review-handler.ts';
import type { ReviewOutcome } from '../src/admission/review-outcome.ts';
import { decide } from '../src/decision/decide.ts';
import type { Decision, DecisionInput } from '../src/decision/types.ts';
import type { Pod } from '../src/k8s/pod.ts';
import type { Policy } from '../src/policy/types.ts';
import { createLogger, writeInfoLine } from '../src/observe/logger.ts';
import {
  deniedPod,
  fiftyContainerPod,
  generatedPolicyYaml,
  LABELLED_NAMESPACE,
  LABELLED_NAMESPACE_LABELS,
  labelledNamespacePod,
  largePod,
  NAMESPACE,
  ordinaryPod,
  podReview,
  schedulingPod,
  untrustedPod,
} from './fixtures.ts';
import { EXAMPLE_POLICY_FILE, UNTRUSTED_REVIEW_FILE } from './paths.ts';

/** One measured operation. */
export interface MicroRow {
  group: string;
  name: string;
  nsPerOp: number;
  opsPerSec: number;
  /** Interquartile range of the per-batch timings, as a percentage of the median. */
  spreadPct: number;
  batches: number;
}

export interface MicroReport {
  rows: MicroRow[];
  /** One-off costs, measured once (ms). */
  oneOff: Array<{ name: string; ms: number }>;
  failures: string[];
}

export interface MicroOptions {
  warmupMs: number;
  measureMs: number;
  /** Progress lines go here (stderr), so stdout keeps only the summary. */
  log: (line: string) => void;
}

// Results are kept here so the engine cannot drop a call whose result is unused.
let sink: unknown;

const nowNs = (): bigint => process.hrtime.bigint();
const WEBHOOK_NAMESPACE = 'sandbox-admission';

/**
 * Time `fn` in batches: warm up (JIT, inline caches) for `warmupMs`, pick a batch size that takes at least
 * 5 ms so timer resolution does not matter, then run batches for `measureMs` and report the median.
 */
async function measure(fn: () => unknown, options: MicroOptions): Promise<Omit<MicroRow, 'group' | 'name'>> {
  const isAsync = fn() instanceof Promise;
  const runBatch = isAsync
    ? async (n: number): Promise<bigint> => {
        const start = nowNs();
        for (let i = 0; i < n; i++) sink = await (fn() as Promise<unknown>);
        return nowNs() - start;
      }
    : async (n: number): Promise<bigint> => {
        const start = nowNs();
        for (let i = 0; i < n; i++) sink = fn();
        return nowNs() - start;
      };
  const warmupEnd = nowNs() + BigInt(options.warmupMs) * 1_000_000n;
  let batch = 1;
  while (nowNs() < warmupEnd) {
    const took = await runBatch(batch);
    if (took < 5_000_000n && batch < 1 << 20) batch *= 2;
  }
  const perOp: number[] = [];
  const end = nowNs() + BigInt(options.measureMs) * 1_000_000n;
  while (nowNs() < end || perOp.length < 5) {
    perOp.push(Number(await runBatch(batch)) / batch);
  }
  perOp.sort((a, b) => a - b);
  const q = (p: number): number => perOp[Math.min(perOp.length - 1, Math.floor(p * perOp.length))]!;
  const median = q(0.5);
  return { nsPerOp: median, opsPerSec: 1e9 / median, spreadPct: ((q(0.75) - q(0.25)) / median) * 100, batches: perOp.length };
}

interface DecisionCase {
  name: string;
  input: DecisionInput;
  /** What the decision must be, checked once before timing: a benchmark of a wrong answer is worthless. */
  expect: (d: Decision) => string | undefined;
}

function input(policy: Policy, pod: Pod, namespace = NAMESPACE, labels: Record<string, string> = {}): DecisionInput {
  return {
    operation: 'CREATE',
    namespace,
    pod,
    namespaceFacts: { name: namespace, labels },
    policy,
    requester: { username: 'alice', groups: ['system:authenticated'] },
  };
}

const sandboxedTo =
  (runtime: string, minOps: number) =>
  (d: Decision): string | undefined =>
    d.allowed && d.runtimeClassName === runtime && d.patch.length >= minOps
      ? undefined
      : `expected a patch to ${runtime} with >= ${minOps} ops, got allowed=${d.allowed} runtime=${d.runtimeClassName} ops=${d.patch.length}`;

export async function runMicro(options: MicroOptions): Promise<MicroReport> {
  const rows: MicroRow[] = [];
  const oneOff: MicroReport['oneOff'] = [];
  const failures: string[] = [];

  // The first import loads the YAML parser and the policy schema's precompiled validator: a start-up cost.
  const importStart = nowNs();
  const { parsePolicy } = await import('../src/policy/parse.ts');
  oneOff.push({
    name: 'first import of src/policy/parse.ts (yaml and the precompiled schema validator)',
    ms: Number(nowNs() - importStart) / 1e6,
  });

  const exampleText = readFileSync(EXAMPLE_POLICY_FILE, 'utf8');
  const generatedText = generatedPolicyYaml(200);
  const load = (text: string): Policy => {
    const result = parsePolicy(text, { webhookNamespace: WEBHOOK_NAMESPACE });
    if (!result.ok) throw new Error(`benchmark policy is invalid: ${result.error.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
    return result.value;
  };
  const example = load(exampleText);
  const generated = load(generatedText);
  if (generated.rules.length !== 200) failures.push(`generated policy has ${generated.rules.length} rules, expected 200`);

  const run = async (group: string, name: string, fn: () => unknown): Promise<void> => {
    options.log(`  ${group}: ${name}`);
    rows.push({ group, name, ...(await measure(fn, options)) });
  };

  const large = largePod();
  const decisionCases: Array<DecisionCase & { group: string }> = [
    {
      group: 'decide, example policy',
      name: 'ordinary pod (not governed)',
      input: input(example, ordinaryPod()),
      expect: (d) =>
        d.allowed && d.source === 'not-governed' && d.patch.length === 0 ? undefined : `expected not-governed, got ${d.source}`,
    },
    {
      group: 'decide, example policy',
      name: 'app=untrusted -> gVisor',
      input: input(example, untrustedPod()),
      expect: sandboxedTo('gvisor', 4),
    },
    {
      group: 'decide, example policy',
      name: '3 affinity terms + 5 tolerations',
      input: input(example, schedulingPod()),
      expect: sandboxedTo('gvisor', 5),
    },
    {
      group: 'decide, example policy',
      name: '50 containers (10 init)',
      input: input(example, fiftyContainerPod()),
      expect: sandboxedTo('gvisor', 4),
    },
    {
      group: 'decide, example policy',
      name: 'denial (hostNetwork, privileged, hostPath)',
      input: input(example, deniedPod()),
      expect: (d) => (!d.allowed && d.violations.length > 0 ? undefined : 'expected a denial'),
    },
    {
      group: 'decide, example policy',
      name: 'namespace label runtime=kata',
      input: input(example, labelledNamespacePod(), LABELLED_NAMESPACE, { ...LABELLED_NAMESPACE_LABELS }),
      expect: sandboxedTo('kata', 2),
    },
    {
      group: 'decide, example policy',
      name: '1 MiB pod (20 containers, big env)',
      input: input(example, large),
      expect: sandboxedTo('gvisor', 4),
    },
    {
      group: 'decide, 200-rule policy',
      name: 'ordinary pod (walks all 200 rules, none match)',
      input: input(generated, ordinaryPod()),
      expect: (d) => (d.source === 'not-governed' ? undefined : `expected not-governed, got ${d.source} ${d.rule}`),
    },
    {
      group: 'decide, 200-rule policy',
      name: 'app=untrusted (matches rule 200)',
      input: input(generated, untrustedPod()),
      expect: (d) => (d.rule === 'untrusted-apps' ? sandboxedTo('gvisor', 4)(d) : `expected rule untrusted-apps, got ${d.rule}`),
    },
    {
      group: 'decide, 200-rule policy',
      name: '50 containers (matches rule 200)',
      input: input(generated, fiftyContainerPod()),
      expect: (d) => (d.rule === 'untrusted-apps' ? sandboxedTo('gvisor', 4)(d) : `expected rule untrusted-apps, got ${d.rule}`),
    },
  ];
  for (const c of decisionCases) {
    const problem = c.expect(decide(c.input));
    if (problem) failures.push(`${c.group} / ${c.name}: ${problem}`);
    await run(c.group, c.name, () => decide(c.input));
  }

  // The CPU work of one request inside the server, without HTTP or TLS: JSON.parse of the body, decode,
  // facts, decide, encode (base64 patch), JSON.stringify of the answer. Logging and metrics are not included.
  const handler = buildReviewHandler({
    policy: () => example,
    namespaceLabels: (ns) => (ns === LABELLED_NAMESPACE ? LABELLED_NAMESPACE_LABELS : {}),
    runtimeClasses: () => undefined,
  });
  const fixtureText = readFileSync(UNTRUSTED_REVIEW_FILE, 'utf8');
  const largeText = JSON.stringify(podReview(large, 'bench-large'));
  const pipeline = async (text: string): Promise<string> => {
    const outcome: ReviewOutcome = await handler('mutate', JSON.parse(text));
    if (outcome.kind !== 'reviewed') throw new Error(`review refused: ${outcome.code} ${outcome.message}`);
    return JSON.stringify(outcome.body);
  };
  for (const [name, text] of [
    [`untrusted-pod.json (${fixtureText.length} B)`, fixtureText],
    [`1 MiB pod review (${(largeText.length / 1048576).toFixed(2)} MiB)`, largeText],
  ] as const) {
    const answer = JSON.parse(await pipeline(text)) as { response?: { allowed?: boolean; patch?: string } };
    if (answer.response?.allowed !== true || !answer.response.patch)
      failures.push(`pipeline ${name}: expected an allowed answer with a patch`);
    await run('review pipeline in-process (parse, decode, decide, encode, stringify)', name, () => pipeline(text));
  }
  await run('review pipeline in-process (parse, decode, decide, encode, stringify)', 'JSON.parse alone, 1 MiB review', () =>
    JSON.parse(largeText),
  );

  // The one line per review, as the route writes it, into a sink that drops it (the write syscall is not timed:
  // it is batched, see src/observe/logger.ts). pino's own logger.info against the cheap writer, same fields.
  {
    const outcome = await handler('mutate', JSON.parse(fixtureText));
    if (outcome.kind !== 'reviewed') throw new Error('untrusted-pod.json refused');
    const fields = { ...outcome.log, durationMs: 0.123 };
    let bytes = 0;
    const destination = {
      write: (line: string) => {
        bytes += line.length;
      },
    };
    const logger = createLogger({ level: 'info', destination }).child({ reqId: 'req-1' });
    await run('decision log line (untrusted-pod.json, into a sink)', "pino's logger.info(fields, msg)", () =>
      logger.info(fields, 'admission decision'),
    );
    await run('decision log line (untrusted-pod.json, into a sink)', 'writeInfoLine (one JSON.stringify; what the route uses)', () =>
      writeInfoLine(logger, fields, 'admission decision'),
    );
    sink = bytes;
  }

  await run('policy parse + compile', `manifests/base/policy.yaml (${example.rules.length} rule)`, () => load(exampleText));
  await run('policy parse + compile', `generated policy (200 rules, ${(generatedText.length / 1024).toFixed(0)} KiB YAML)`, () =>
    load(generatedText),
  );
  const { parseAllDocuments } = await import('yaml');
  await run('policy parse + compile', 'of which YAML parse + toJS alone (200 rules)', () => {
    const docs = parseAllDocuments(generatedText, { uniqueKeys: true, prettyErrors: true });
    return Array.isArray(docs) ? docs[0]?.toJS({ maxAliasCount: 100 }) : undefined;
  });

  if (sink === Symbol.for('never')) options.log('unreachable');
  return { rows, oneOff, failures };
}
