import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import {
  deniedPod,
  LABELLED_NAMESPACE,
  LABELLED_NAMESPACE_LABELS,
  labelledNamespacePod,
  largePod,
  mediumPod,
  ordinaryPod,
  podReview,
} from './fixtures.ts';
import {
  loadAverage,
  post,
  probeHandshake,
  readLog,
  runLoad,
  startServer,
  writeCertificates,
  type Certificates,
  type HandshakeProbe,
  type LoadBody,
  type LoadResult,
  type Memory,
  type ProbeAnswer,
} from './load.ts';
import {
  expectKataAnswer,
  KATA_HOW_TO,
  KATA_READY_MESSAGE,
  KATA_WEBHOOK,
  KATA_WEBHOOK_ENV,
  kataWebhookArgs,
  locateKataWebhook,
  readKataLog,
  readKataPort,
} from './kata-webhook.ts';
import { runMicro, type MicroReport } from './micro.ts';
import { startFakeApiServer, writeKubeconfig } from './fake-apiserver.ts';
import { findProfile, summarizeProfile, type ProfileSummary } from './profile.ts';
import {
  BASELINE_SERVER,
  REPO_ROOT,
  WEBHOOK_DIST_MAIN,
  WEBHOOK_MAIN,
  DEPLOYMENT_FILE,
  EXAMPLE_POLICY_FILE,
  UNTRUSTED_REVIEW_FILE,
  WEBHOOK_CONFIGURATION_FILE,
} from './paths.ts';
import { describeMachine, duration, num, percentile, table } from './report.ts';
import { defaultLoadLimits } from '../src/admission/load-shedding.ts';

/**
 * `npm run bench`: (a) micro-benchmarks of the pure decision, the in-process review pipeline and policy loading;
 * (b) an HTTPS load test of the real server (`sandbox-admission serve` from dist/ as the image runs it, or src/ with
 * --webhook-from src, in a child process) with autocannon over
 * keep-alive TLS; (c) the same load against a bare fastify HTTPS server that answers `allowed: true` unread.
 * Only loopback is targeted; every load run is bounded by its duration. Progress goes to stderr, the summary
 * (markdown tables) to stdout. Exit 1 when a check fails: a wrong answer, an error or non-2xx response, a server
 * error log line or crash, p99 at or past the webhook timeout, or RSS past the Deployment's memory limit.
 *
 *   npm run bench [-- --duration 10 --connections 16,64 --micro-ms 1000 --profile]
 *
 * --profile runs the webhook under --cpu-prof and prints where its time went (slower: compare such runs only
 * with each other). --keep keeps the temp dir (certificates, server logs, profile); a failed run always does.
 * --only untrusted|ordinary|medium|mix|steady|1mib runs only the load scenarios whose key starts with that.
 * --webhook-node-flags '--max-old-space-size=128' starts the webhook's Node with these flags; without it, with the
 * heap flags of the Deployment's NODE_OPTIONS (manifests/base/deployment.yaml), the heap the pod gets.
 * --skip-cluster skips (e), cluster mode against a fake API server holding --namespaces (10000) namespaces.
 * --kata-webhook <binary> adds kata-webhook (built by bench/build-kata-webhook.sh) as a peer after (d); without
 * it, the newest build in the cache is used if there is one.
 * See bench/README.md for every option and how to read the figures on a shared machine.
 */

/**
 * Peak RSS past this fails the run. It is a leak guard, not the Deployment's limit: V8 here sizes its heap for
 * the whole machine (4 GiB) and collects lazily, so a healthy run peaks at 300-450 MiB, while in a pod Node sizes
 * its heap from the cgroup limit (try --webhook-node-flags). A leak of 2 KiB per request crosses it within the run.
 */
const RSS_BUDGET_MIB = 768;
/** Report names of the two bare fastify servers (bench/baseline-server.ts). */
const BASELINE = 'baseline (parses)';
const UNPARSED = 'baseline, body unparsed';
/** Server-side request names (pod names in the decision log line) -> what the summary calls them. */
const POD_KINDS: Readonly<Record<string, string>> = {
  web: 'untrusted (untrusted-pod.json)',
  ordinary: 'ordinary',
  labelled: 'labelled namespace',
  medium: '3.5 KB pod',
  denied: 'denied',
  large: '1 MiB pod',
};

const { values: options } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    rate: { type: 'string', default: '1000' },
    'no-pin': { type: 'boolean', default: false },
    'warmup-seconds': { type: 'string', default: '3' },
    'micro-ms': { type: 'string', default: '1000' },
    'skip-micro': { type: 'boolean', default: false },
    'skip-load': { type: 'boolean', default: false },
    'skip-cluster': { type: 'boolean', default: false },
    namespaces: { type: 'string', default: '10000' },
    profile: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    'webhook-node-flags': { type: 'string', default: '' },
    only: { type: 'string', default: '' },
    'kata-webhook': { type: 'string' },
    'webhook-from': { type: 'string', default: 'dist' },
  },
});
if (options['webhook-from'] !== 'dist' && options['webhook-from'] !== 'src') {
  process.stderr.write(`--webhook-from ${options['webhook-from']}: dist (what the image runs, built first) or src\n`);
  process.exit(2);
}
/**
 * The webhook as the image runs it (dist/, bundled by `npm run build` before the run) or from the TypeScript
 * sources (src/, through bench/webhook-main.ts): the same code, but from src/ Node strips the types of every
 * module at start, which adds about a second of CPU to start-up and nothing per request once loaded.
 */
const webhookFromDist = options['webhook-from'] === 'dist';
const webhookEntry = webhookFromDist ? WEBHOOK_DIST_MAIN : WEBHOOK_MAIN;
const seconds = positive('duration', options.duration);
const warmupSeconds = positive('warmup-seconds', options['warmup-seconds']);
const connectionCounts = options.connections.split(',').map((c) => positive('connections', c));
const steadyRate = positive('rate', options.rate);
/**
 * On a machine with two or more CPUs the servers run on CPU 1 and this process (autocannon, the probes) on CPU 0,
 * so that the load generator does not take its CPU from the server it measures. CPU per request is read from the
 * server's /proc/<pid>/stat either way; it does not depend on the pinning.
 */

const microMs = positive('micro-ms', options['micro-ms']);
const kataBinary = locateKataPeer();

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
const failures: string[] = [];
const machine = describeMachine();
const pin = pinCpus();
const started = performance.now();
const limits = readLimits();
/** Bodies over this share the webhook's large-body budget (src/admission/load-shedding.ts). */
const LARGE_BODY_BYTES = defaultLoadLimits().largeBodyThresholdBytes;
/** --webhook-node-flags, or else the heap flags of the Deployment's NODE_OPTIONS: the webhook runs with the pod's heap. */
const webhookNodeFlags = options['webhook-node-flags'] || limits.heapFlags;

// Ctrl-C or a kill: leave through process.exit so load.ts kills the servers.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log(`bench: ${signal}, stopping`);
    process.exit(130);
  });
}

function locateKataPeer(): string | undefined {
  try {
    return locateKataWebhook(options['kata-webhook']);
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n`);
    process.exit(2);
  }
}

function pinCpus(): { server: string; client: string } | undefined {
  if (options['no-pin'] || machine.cpus < 2) return undefined;
  // -a: every thread of this process (libuv's pool, autocannon's sockets live on the main thread anyway).
  const result = spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { encoding: 'utf8' });
  if (result.status !== 0) {
    log(`bench: taskset unavailable (${result.error?.message ?? result.stderr.trim()}); client and servers share the CPUs`);
    return undefined;
  }
  return { server: '1', client: '0' };
}

let micro: MicroReport | undefined;
if (!options['skip-micro']) {
  log('== (a) micro-benchmarks');
  micro = await runMicro({ warmupMs: Math.min(300, microMs), measureMs: microMs, log });
  failures.push(...micro.failures.map((f) => `micro: ${f}`));
}

interface ServerReport {
  name: string;
  /** Spawn to the "listening" log line, and the server's CPU seconds by then. */
  startup: { readyMs: number; cpuSeconds: number; loadAverage: string } | undefined;
  idle: Memory | undefined;
  warm: Memory | undefined;
  final: Memory | undefined;
  handshake: HandshakeProbe | undefined;
  scenarios: Array<{ scenario: string; rate?: number; result: LoadResult; serverMs: Map<string, number[]> }>;
  /** Decisions the server logged during the measured runs (after warm-up), counted once it has flushed and exited. */
  decisions: number;
  profile?: ProfileSummary;
}

const reports: ServerReport[] = [];
const dir = mkdtempSync(join(tmpdir(), 'sandbox-admission-bench-'));
let keepDir = options.keep;
if (webhookFromDist && !(options['skip-load'] && options['skip-cluster'])) {
  const started = performance.now();
  // The webhook the sections below start is the one just built from this tree, never a stale dist/.
  const build = spawnSync(process.execPath, [join(REPO_ROOT, 'tools', 'bundle.ts')], { encoding: 'utf8' });
  if (build.status !== 0) {
    process.stderr.write(
      `npm run build failed (the benchmark runs the bundled webhook; --webhook-from src does not):\n${build.stdout}${build.stderr}`,
    );
    process.exit(1);
  }
  log(`== built dist/ (npm run build) in ${num((performance.now() - started) / 1000)} s`);
}
if (!options['skip-load']) {
  try {
    const certs = writeCertificates(dir);
    const fixture = readFileSync(UNTRUSTED_REVIEW_FILE, 'utf8');
    const kinds: Record<string, LoadBody & { expect: Expectation }> = {
      untrusted: {
        kind: 'untrusted',
        body: fixture,
        expect: { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true, runtime: 'gvisor' },
      },
      ordinary: {
        kind: 'ordinary',
        body: JSON.stringify(podReview(ordinaryPod(), 'bench-ordinary')),
        expect: { uid: 'bench-ordinary', allowed: true },
      },
      medium: {
        kind: 'medium',
        body: JSON.stringify(podReview(mediumPod(), 'bench-medium')),
        expect: { uid: 'bench-medium', allowed: true, runtime: 'gvisor' },
      },
      labelled: {
        kind: 'labelled',
        body: JSON.stringify(podReview(labelledNamespacePod(), 'bench-labelled')),
        expect: { uid: 'bench-labelled', allowed: true, runtime: 'kata' },
      },
      denied: {
        kind: 'denied',
        body: JSON.stringify(podReview(deniedPod(), 'bench-denied')),
        expect: { uid: 'bench-denied', allowed: false },
      },
      large: {
        kind: 'large',
        body: JSON.stringify(podReview(largePod(), 'bench-large')),
        expect: { uid: 'bench-large', allowed: true, runtime: 'gvisor' },
      },
    };
    // One cycle of 20 requests: mostly small pods, some denials, one 1 MiB pod.
    const mixCycle = [
      'untrusted',
      'ordinary',
      'untrusted',
      'labelled',
      'untrusted',
      'ordinary',
      'denied',
      'untrusted',
      'ordinary',
      'untrusted',
      'labelled',
      'ordinary',
      'untrusted',
      'ordinary',
      'denied',
      'untrusted',
      'labelled',
      'ordinary',
      'untrusted',
      'large',
    ].map((k) => kinds[k]!);
    const mixLabel = describeMix(mixCycle);
    const scenarios: Scenario[] = [
      { key: 'untrusted', name: 'small patched (untrusted-pod.json, 1.2 KB)', bodies: [kinds.untrusted!], connections: connectionCounts },
      { key: 'ordinary', name: 'ordinary, not governed (0.8 KB)', bodies: [kinds.ordinary!], connections: connectionCounts },
      { key: 'medium', name: '3.5 KB patched', bodies: [kinds.medium!], connections: connectionCounts },
      { key: 'mix', name: `mix (${mixLabel})`, bodies: mixCycle, connections: connectionCounts },
      {
        key: 'steady',
        name: `small patched at a steady ${steadyRate}/s`,
        bodies: [kinds.untrusted!],
        connections: [connectionCounts[0]!],
        rate: steadyRate,
      },
      {
        key: '1mib',
        name: `1 MiB pod only (${(kinds.large!.body.length / 1048576).toFixed(2)} MiB), one connection`,
        bodies: [kinds.large!],
        connections: [1],
      },
    ].filter((s) => s.key.startsWith(options.only.toLowerCase()));
    if (scenarios.length === 0) throw new Error(`--only ${options.only}: no scenario (untrusted, ordinary, medium, mix, steady, 1mib)`);

    const profileDir = join(dir, 'profile');
    if (options.profile) mkdirSync(profileDir);
    const webhookArgs = [
      ...webhookNodeFlags.split(/\s+/).filter(Boolean),
      ...(options.profile ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []),
      webhookEntry,
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--policy',
      EXAMPLE_POLICY_FILE,
      '--tls-cert-file',
      certs.certFile,
      '--tls-key-file',
      certs.keyFile,
      '--namespace-labels',
      Object.entries(LABELLED_NAMESPACE_LABELS)
        .map(([k, v]) => `${LABELLED_NAMESPACE}=${k}=${v}`)
        .join(','),
      '--log-level',
      'info',
      '--drain-delay',
      '0',
    ];
    log('== (b) HTTPS load test of the webhook (sandbox-admission serve)');
    const webhook = await benchServer('webhook', webhookArgs, 'sandbox-admission listening', certs, kinds, scenarios, mixCycle, 'webhook');
    if (options.profile) {
      const file = findProfile(profileDir);
      if (file) webhook.profile = summarizeProfile(file);
      else failures.push('webhook: --profile given but no .cpuprofile was written');
    }
    reports.push(webhook);
    log('== (c) baseline: bare fastify HTTPS, body parsed by fastify, allowed: true with the request uid');
    // The same V8 flags as the webhook (the Deployment's heap), so that the comparison is of the code alone: a
    // capped old space collects more often under 1 MiB bodies, whichever server parses them.
    const baselineArgs = [
      ...webhookNodeFlags.split(/\s+/).filter(Boolean),
      BASELINE_SERVER,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--tls-cert-file',
      certs.certFile,
      '--tls-key-file',
      certs.keyFile,
    ];
    reports.push(await benchServer(BASELINE, baselineArgs, 'baseline listening', certs, kinds, scenarios, mixCycle, 'baseline'));
    log('== (d) the old baseline: bare fastify HTTPS, fixed answer, body unread');
    reports.push(
      await benchServer(UNPARSED, [...baselineArgs, '--unparsed'], 'baseline listening', certs, kinds, scenarios, mixCycle, 'unparsed'),
    );
    if (kataBinary) {
      log(`== (d+) peer: kata-webhook (Go, slok/kubewebhook), ${kataBinary}`);
      const kataArgs = kataWebhookArgs(certs.certFile, certs.keyFile);
      reports.push(await benchServer(KATA_WEBHOOK, kataArgs, KATA_READY_MESSAGE, certs, kinds, scenarios, mixCycle, 'kata'));
    } else {
      log(`== ${KATA_HOW_TO}`);
    }
  } catch (error) {
    failures.push(`load test: ${(error as Error).stack ?? String(error)}`);
  }
}

interface ClusterStartup {
  namespaces: number;
  /** Spawn to /readyz 200 (certificates present, policy loaded, both caches synced). */
  readyMs: number;
  /** From the first list request to the last watch request at the fake API server (both informers synced). */
  syncMs: number;
  cpuMsAtReady: number;
  idle: Memory | undefined;
  heapUsedMiB: number;
  loadAverage: string;
  /** VmHWM after the mix and 1 MiB-only runs at the first connection count: what the memory limit must hold. */
  peakMiB: number;
  /** Answers under that load that were not 200, by status (429/503 are load shedding, a retried refusal). */
  shed: Record<string, number>;
}
const clusterStartups: ClusterStartup[] = [];
if (!options['skip-cluster']) {
  log('== (e) cluster mode: spawn to ready and idle memory against a loopback fake API server');
  const namespaceCounts = [0, positive('namespaces', options.namespaces)];
  try {
    const certs = writeCertificates(dir);
    const fixture = readFileSync(UNTRUSTED_REVIEW_FILE, 'utf8');
    const large = JSON.stringify(podReview(largePod(), 'bench-large'));
    for (const namespaces of namespaceCounts) clusterStartups.push(await benchClusterStartup(namespaces, certs, fixture, large));
  } catch (error) {
    failures.push(`cluster mode: ${(error as Error).stack ?? String(error)}`);
  }
}

process.stdout.write(`${renderSummary()}\n`);
if (failures.length > 0) {
  keepDir = true;
  process.stderr.write(`\nbench FAILED (${failures.length}); logs kept in ${dir}\n${failures.map((f) => `  - ${f}`).join('\n')}\n`);
  process.exitCode = 1;
} else {
  if (keepDir) log(`logs kept in ${dir}`);
  log(`bench passed in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}
if (!keepDir) rmSync(dir, { recursive: true, force: true });

interface Scenario {
  key: string;
  name: string;
  bodies: LoadBody[];
  connections: number[];
  /** Requests per second over all connections (a steady rate, for latency); absent: as fast as the server answers. */
  rate?: number;
}

interface Expectation {
  uid: string;
  allowed: boolean;
  /** The runtimeClassName the JSON patch must set (absent: no patch expected when allowed). */
  runtime?: string;
  /**
   * Patch operations on other paths are tolerated (kata-webhook: kubewebhook diffs the re-encoded pod against the
   * request, so its patch also adds Go's zero values, `creationTimestamp: null`, `status: {}`); without runtime,
   * then, only a runtimeClassName operation is unexpected.
   */
  toleratesOtherOps?: boolean;
}

async function benchServer(
  name: string,
  args: string[],
  readyMessage: string,
  certs: Certificates,
  kinds: Record<string, LoadBody & { expect: Expectation }>,
  scenarios: Scenario[],
  warmupBodies: LoadBody[],
  variant: 'webhook' | 'baseline' | 'unparsed' | 'kata',
): Promise<ServerReport> {
  const isWebhook = variant === 'webhook';
  const isKata = variant === 'kata';
  const logFile = join(dir, `${name.replace(/[^a-z]+/g, '-')}.log`);
  const server = await startServer(name, args, logFile, readyMessage, {
    ...(pin ? { cpus: pin.server } : {}),
    ...(isKata ? { executable: kataBinary!, env: { ...KATA_WEBHOOK_ENV }, readPort: readKataPort } : {}),
    ...(isWebhook && webhookFromDist ? { deathSignal: 'TERM' as const } : {}),
  });
  // kata-webhook logs logrus text, not JSON: only its problems are read.
  const readServerLog = async (start: number) => (isKata ? readKataLog(logFile, start) : await readLog(logFile, start));
  const report: ServerReport = {
    name,
    startup: { ...server.startup, loadAverage: loadAverage() },
    idle: server.memory(),
    warm: undefined,
    final: undefined,
    handshake: undefined,
    scenarios: [],
    decisions: 0,
  };
  let logOffset = 0;
  let measuredFrom = 0;
  let completed = 0;
  const fail = (message: string): void => {
    failures.push(`${name}: ${message}`);
  };
  try {
    log(`  ${name}: pid ${server.pid}, https://127.0.0.1:${server.port}, RSS ${num(report.idle?.rssMiB ?? NaN)} MiB`);
    // kata-webhook is sent no 1 MiB review: its patch is a jsonpatch diff of the whole re-encoded pod, and one
    // 1 MiB review took over a minute here (issue 15), past every timeout; its mix and 1 MiB rows are n/a.
    const sent = (b: LoadBody): boolean => !isKata || b.kind !== 'large';
    for (const k of Object.values(kinds).filter(sent)) {
      const problem = checkAnswer(await post(server.port, '/mutate', k.body, { ca: certs.caPem }), expectAnswer(variant, k));
      if (problem) fail(`${k.kind} review: ${problem}`);
    }
    log(`  ${name}: warm-up ${warmupSeconds} s`);
    // The mix, whatever is measured: every code path (denials, 1 MiB bodies) is compiled and the heap has grown.
    await runLoad(server, '/mutate', warmupBodies.filter(sent), connectionCounts[0]!, warmupSeconds);
    report.handshake = await probeHandshake(server.port, kinds.untrusted!.body, certs.caPem, 50);
    report.warm = server.memory();
    await sleep(500);
    logOffset = (await readServerLog(0)).end;
    measuredFrom = logOffset;
    for (const scenario of scenarios) {
      if (!scenario.bodies.every(sent)) {
        log(`  ${name}: ${scenario.name}: skipped, it is sent no 1 MiB review`);
        continue;
      }
      for (const connections of scenario.connections) {
        log(`  ${name}: ${scenario.name}, ${connections} connections, ${seconds} s`);
        const result = await runLoad(server, '/mutate', scenario.bodies, connections, seconds, scenario.rate);
        completed += result.completed;
        const exited = server.exitProblem();
        if (exited) throw new Error(exited);
        // Log lines are written in batches at least every 100 ms: give the last ones time to reach the file.
        await sleep(500);
        const { summary, end } = await readServerLog(logOffset);
        logOffset = end;
        for (const p of summary.problems) fail(`log: ${p}`);
        report.scenarios.push({
          scenario: scenario.name,
          ...(scenario.rate ? { rate: scenario.rate } : {}),
          result,
          serverMs: summary.durationsByPod,
        });
        if (scenario.rate && result.reqPerSec < scenario.rate * 0.9)
          log(`    (${name} did not keep up with ${scenario.rate}/s: its p99 is not a steady-rate figure)`);
        const label = `${scenario.name} @${connections}`;
        if (result.errors > 0 || result.timeouts > 0) fail(`${label}: ${result.errors} errors, ${result.timeouts} timeouts`);
        // With large bodies in the scenario, 429/503 is the webhook's designed load shedding (README "Limits and load":
        // bodies over 128 KiB share an 8 MiB budget, which 16 saturating connections can reach), counted in the table;
        // any other non-2xx, or a shed review where no large body competes for the budget, is a failure.
        const sheds = scenario.bodies.some((b) => b.body.length > LARGE_BODY_BYTES)
          ? (result.statusCodes['429'] ?? 0) + (result.statusCodes['503'] ?? 0)
          : 0;
        if (sheds > 0) log(`    ${label}: ${sheds} answers shed (429/503) with large bodies in flight, as designed`);
        if (result.non2xx - sheds > 0) fail(`${label}: ${result.non2xx - sheds} non-2xx responses ${JSON.stringify(result.statusCodes)}`);
        if (result.completed === 0) fail(`${label}: no request completed`);
        if (result.p99 >= limits.timeoutSeconds * 1000)
          fail(`${label}: p99 ${num(result.p99)} ms is at or past the webhook timeout (${limits.timeoutSeconds} s)`);
        if (result.rssPeakMiB > RSS_BUDGET_MIB)
          fail(`${label}: RSS peaked at ${num(result.rssPeakMiB)} MiB, past the ${RSS_BUDGET_MIB} MiB leak guard`);
        log(
          `    ${num(result.reqPerSec)} req/s, ${num(result.cpuUsPerRequest)} µs CPU/request, p50 ${num(result.p50)} ms, p99 ${num(result.p99)} ms, load ${result.loadAverage}, RSS ${num(result.rssBeforeMiB)} -> ${num(result.rssAfterMiB)} MiB (peak ${num(result.rssPeakMiB)})`,
        );
      }
    }
    report.final = server.memory();
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  } finally {
    const crashed = server.exitProblem() !== undefined;
    const code = await server.stop();
    // kata-webhook handles no signal: SIGTERM ends it by the signal (code null), its normal way out.
    if (!crashed && code !== 0 && !(isKata && code === null)) fail(`exited with code ${code} after SIGTERM`);
    const { summary } = await readServerLog(logOffset);
    // A crash has already been reported with the end of its log.
    if (!crashed) for (const p of summary.problems) fail(`log: ${p}`);
    if (isWebhook && measuredFrom > 0 && !crashed) {
      report.decisions = (await readLog(logFile, measuredFrom)).summary.decisions;
      // Every answer the client counted was logged; the server may have logged a few more still in flight at a stop.
      if (report.decisions < completed) fail(`${completed} answers counted but only ${report.decisions} decisions logged`);
    }
  }
  return report;
}

async function benchClusterStartup(namespaces: number, certs: Certificates, review: string, largeReview: string): Promise<ClusterStartup> {
  const fake = await startFakeApiServer({ namespaces, certFile: certs.certFile, keyFile: certs.keyFile });
  const kubeconfig = join(dir, `kubeconfig-${namespaces}.json`);
  writeKubeconfig(kubeconfig, fake.url, certs.caPem);
  const args = [
    ...webhookNodeFlags.split(/\s+/).filter(Boolean),
    webhookEntry,
    'serve',
    '--kubeconfig',
    kubeconfig,
    '--certificates',
    'files',
    '--tls-cert-file',
    certs.certFile,
    '--tls-key-file',
    certs.keyFile,
    '--policy',
    EXAMPLE_POLICY_FILE,
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--audit-interval',
    '0',
    '--drain-delay',
    '0',
  ];
  const name = `cluster-${namespaces}`;
  const spawnedAt = performance.now();
  const server = await startServer(name, args, join(dir, `${name}.log`), 'sandbox-admission listening', {
    ...(pin ? { cpus: pin.server } : {}),
    ...(webhookFromDist ? { deathSignal: 'TERM' as const } : {}),
  });
  try {
    let readyAt = performance.now();
    for (;;) {
      const answer = await post(server.port, '/readyz', '', { ca: certs.caPem, method: 'GET' }).catch(() => undefined);
      readyAt = performance.now();
      if (answer?.status === 200) break;
      if (readyAt - spawnedAt > 60_000) throw new Error(`${name}: /readyz not 200 within 60 s`);
      await sleep(10);
    }
    const cpuMsAtReady = server.cpuSeconds() * 1000;
    const problem = checkAnswer(await post(server.port, '/mutate', review, { ca: certs.caPem }), {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      allowed: true,
      runtime: 'gvisor',
    });
    if (problem) failures.push(`${name}: review: ${problem}`);
    // Idle: a few seconds after start, as a replica sits between reviews (the first GCs have run by then).
    await sleep(3000);
    const metrics = await post(server.port, '/metrics', '', { ca: certs.caPem, method: 'GET' });
    const heapUsed = Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(metrics.body)?.[1] ?? NaN);
    const { firstListAt, watchesAt } = fake.timings();
    const lastWatch = Math.max(...watchesAt.values());
    const idle = server.memory();
    // Then the peak: the mix (one 1 MiB review in 20), then 1 MiB reviews only, on every connection.
    const small = { kind: 'untrusted', body: review };
    const big = { kind: 'large', body: largeReview };
    const shed: Record<string, number> = {};
    for (const bodies of [[...Array.from({ length: 19 }, () => small), big], [big]]) {
      const result = await runLoad(server, '/mutate', bodies, connectionCounts[0]!, seconds);
      const exited = server.exitProblem();
      if (exited) throw new Error(exited);
      if (result.timeouts > 0) failures.push(`${name}: ${result.timeouts} timeouts under load`);
      // A shed large body's connection is closed after its 429 (README "Limits and load"): the client, still
      // writing, may see a reset instead. Counted, not a failure; a crash or an error log line is one.
      if (result.errors > 0) shed.closed = (shed.closed ?? 0) + result.errors;
      for (const [code, count] of Object.entries(result.statusCodes)) {
        if (code === '200') continue;
        if (code !== '429' && code !== '503') failures.push(`${name}: ${count} answers with HTTP ${code} under load`);
        shed[code] = (shed[code] ?? 0) + count;
      }
    }
    const result: ClusterStartup = {
      namespaces,
      readyMs: readyAt - spawnedAt,
      syncMs: firstListAt !== undefined && watchesAt.size >= 2 ? lastWatch - firstListAt : NaN,
      cpuMsAtReady,
      idle,
      heapUsedMiB: heapUsed / 1048576,
      loadAverage: loadAverage(),
      peakMiB: server.memory()?.hwmMiB ?? NaN,
      shed,
    };
    log(
      `  ${name}: ready in ${num(result.readyMs)} ms (sync ${num(result.syncMs)} ms), CPU ${num(cpuMsAtReady)} ms, idle RSS ${num(result.idle?.rssMiB ?? NaN)} MiB, heap ${num(result.heapUsedMiB)} MiB, peak under load ${num(result.peakMiB)} MiB ${JSON.stringify(shed)}, load ${result.loadAverage}`,
    );
    return result;
  } finally {
    const code = await server.stop();
    if (code !== 0) failures.push(`${name}: exited with code ${code} after SIGTERM`);
    const { summary } = await readLog(server.logFile, 0);
    for (const p of summary.problems) failures.push(`${name}: log: ${p}`);
    await fake.close();
  }
}

/** What each server must answer: the webhook its policy's decision, the baselines allowed, kata-webhook its kata patch. */
function expectAnswer(variant: 'webhook' | 'baseline' | 'unparsed' | 'kata', k: LoadBody & { expect: Expectation }): Expectation {
  if (variant === 'webhook') return k.expect;
  if (variant === 'baseline') return { uid: k.expect.uid, allowed: true };
  if (variant === 'kata') return expectKataAnswer(k.expect.uid, readsHostNetwork(k.body));
  // The unparsed baseline answers a fixed review, whatever it is sent.
  return { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true };
}

function readsHostNetwork(reviewBody: string): boolean {
  const review = JSON.parse(reviewBody) as { request?: { object?: { spec?: { hostNetwork?: unknown } } } };
  return review.request?.object?.spec?.hostNetwork === true;
}

function checkAnswer(answer: ProbeAnswer, expect: Expectation): string | undefined {
  if (answer.status !== 200) return `HTTP ${answer.status}: ${answer.body.slice(0, 300)}`;
  let review: { response?: { uid?: unknown; allowed?: unknown; patch?: unknown } };
  try {
    review = JSON.parse(answer.body) as typeof review;
  } catch {
    return `answer is not JSON: ${answer.body.slice(0, 300)}`;
  }
  const response = review.response;
  if (response?.uid !== expect.uid) return `uid ${String(response?.uid)} instead of ${expect.uid}`;
  if (response.allowed !== expect.allowed)
    return `allowed=${String(response.allowed)}, expected ${expect.allowed}: ${answer.body.slice(0, 300)}`;
  const patch =
    typeof response.patch === 'string'
      ? (JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as Array<{ path: string; value?: unknown }>)
      : [];
  if (expect.runtime !== undefined) {
    const set = patch.find((op) => op.path === '/spec/runtimeClassName');
    if (set?.value !== expect.runtime)
      return `patch does not set runtimeClassName ${expect.runtime}: ${JSON.stringify(patch).slice(0, 300)}`;
  } else if (expect.toleratesOtherOps ? patch.some((op) => op.path === '/spec/runtimeClassName') : patch.length > 0) {
    return `unexpected patch ${JSON.stringify(patch).slice(0, 300)}`;
  }
  return undefined;
}

function describeMix(bodies: readonly LoadBody[]): string {
  const counts = new Map<string, number>();
  for (const b of bodies) counts.set(b.kind, (counts.get(b.kind) ?? 0) + 1);
  return `${[...counts].map(([k, n]) => `${n} ${k === 'large' ? '1 MiB' : k}`).join(', ')} per ${bodies.length}`;
}

/** The webhook timeout (mutating webhook configuration) and the memory limit (Deployment) the numbers are judged by. */
function readLimits(): { timeoutSeconds: number; memoryMiB: number; heapFlags: string } {
  let timeoutSeconds = 5;
  let memoryMiB = 256;
  let heapFlags = '';
  try {
    const match = /timeoutSeconds:\s*(\d+)/.exec(readFileSync(WEBHOOK_CONFIGURATION_FILE, 'utf8'));
    if (match) timeoutSeconds = Number(match[1]);
    const deployment = parseYaml(readFileSync(DEPLOYMENT_FILE, 'utf8')) as {
      spec?: {
        template?: {
          spec?: {
            containers?: Array<{ resources?: { limits?: { memory?: string } }; env?: Array<{ name?: string; value?: string }> }>;
          };
        };
      };
    };
    const container = deployment.spec?.template?.spec?.containers?.[0];
    const memory = container?.resources?.limits?.memory;
    // The V8 heap flags the Deployment gives the webhook (NODE_OPTIONS), so that the benchmark's webhook has the pod's heap.
    const nodeOptions = container?.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
    heapFlags = nodeOptions
      .split(/\s+/)
      .filter((f) => /^--max-(old|semi)-space-size=\d+$/.test(f))
      .join(' ');
    const mi = memory ? /^(\d+)(Mi|Gi)$/.exec(memory) : null;
    if (mi) memoryMiB = Number(mi[1]) * (mi[2] === 'Gi' ? 1024 : 1);
  } catch {
    // Manifests moved: judge by the defaults above.
  }
  return { timeoutSeconds, memoryMiB, heapFlags };
}

function positive(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`bench: --${name} must be a positive number, got "${value}"\n`);
    process.exit(2);
  }
  return n;
}

function renderSummary(): string {
  const out: string[] = [];
  out.push('# sandbox-admission benchmark summary', '');
  out.push(`- date: ${machine.date}`);
  out.push(`- machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${num(machine.memoryGiB)} GiB, Linux ${machine.kernel}`);
  out.push(
    `- node: ${machine.node}; load: autocannon, keep-alive TLS to 127.0.0.1, ${seconds} s per scenario after a ${warmupSeconds} s warm-up, one request in flight per connection`,
  );
  if (webhookNodeFlags)
    out.push(
      `- the webhook's and the baselines' Node ran with ${webhookNodeFlags}${options['webhook-node-flags'] ? '' : " (the Deployment's NODE_OPTIONS heap flags)"}`,
    );
  if (options.profile) out.push("- the webhook ran under --cpu-prof: its numbers are lower than an unprofiled run's");
  out.push(
    kataBinary
      ? `- peer: kata-webhook (kata-containers tools/testing/kata-webhook, Go), ${kataBinary}, on loopback with the same certificate${pin ? ', pinned like the others' : ''}`
      : `- ${KATA_HOW_TO}`,
  );
  out.push(
    `- judged against: webhook timeoutSeconds ${limits.timeoutSeconds} (manifests/base/mutating-webhook.yaml), memory limit ${limits.memoryMiB} MiB (manifests/base/deployment.yaml)`,
  );
  out.push('');
  if (micro) {
    out.push('## (a) Micro-benchmarks (in-process, median of batches after warm-up)', '');
    out.push(
      table(
        ['group', 'case', 'time/op', 'ops/s', 'IQR'],
        micro.rows.map((r) => [r.group, r.name, duration(r.nsPerOp), num(r.opsPerSec), `±${num(r.spreadPct / 2, 2)}%`]),
        ['l', 'l', 'r', 'r', 'r'],
      ),
    );
    out.push('');
    for (const o of micro.oneOff) out.push(`- one-off: ${o.name}: ${num(o.ms)} ms`);
    out.push('');
  }
  if (reports.length > 0) {
    out.push('## (b, c, d) HTTPS load: POST /mutate', '');
    out.push(
      pin
        ? `Servers pinned to CPU ${pin.server}, the load generator to CPU ${pin.client} (taskset). CPU µs/request: the server's utime + stime over the run (/proc/<pid>/stat) / answers.`
        : "Servers and load generator share the CPUs (not pinned). CPU µs/request: the server's utime + stime over the run (/proc/<pid>/stat) / answers.",
      '',
    );
    const rows: string[][] = [];
    for (const r of reports) {
      for (const s of r.scenarios) {
        const x = s.result;
        rows.push([
          r.name,
          s.scenario,
          String(x.connections),
          num(x.reqPerSec),
          num(x.cpuUsPerRequest),
          num(x.p50),
          num(x.p90),
          num(x.p99),
          num(x.max),
          `${x.errors + x.timeouts} / ${x.non2xx}`,
          `${num(x.rssBeforeMiB)} → ${num(x.rssAfterMiB)} (${num(x.rssPeakMiB)})`,
          x.loadAverage,
        ]);
      }
    }
    out.push(
      table(
        [
          'server',
          'scenario',
          'conns',
          'req/s',
          'CPU µs/request',
          'p50 ms',
          'p90 ms',
          'p99 ms',
          'max ms',
          'errors / non-2xx',
          'RSS MiB before → after (peak)',
          'load avg (1/5/15 min) at end',
        ],
        rows,
        ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
      ),
    );
    out.push('');
    const webhook = reports.find((r) => r.name === 'webhook');
    const baseline = reports.find((r) => r.name === BASELINE);
    const unparsed = reports.find((r) => r.name === UNPARSED);
    const kata = reports.find((r) => r.name === KATA_WEBHOOK);
    if (webhook && baseline) {
      out.push(
        `### Webhook vs ${BASELINE}${unparsed ? ` (and vs the ${UNPARSED})` : ''}`,
        '',
        'Targets (issue 15): CPU per review at most baseline + 15 µs; throughput at least 0.8 × baseline; p99 at the steady rate at most 1.1 × baseline; 1 MiB p99 at most 1.3 × baseline.',
        '',
      );
      const cmp: string[][] = [];
      for (const w of webhook.scenarios) {
        const same = (r: ServerReport | undefined) =>
          r?.scenarios.find((s) => s.scenario === w.scenario && s.result.connections === w.result.connections);
        const b = same(baseline);
        if (!b) continue;
        const u = same(unparsed);
        const k = same(kata);
        const kataCells = kata
          ? k
            ? [
                num(k.result.cpuUsPerRequest),
                w.rate ? '(steady rate)' : num(w.result.reqPerSec / k.result.reqPerSec, 2),
                `${num(k.result.p99)} (× ${num(w.result.p99 / k.result.p99, 2)})`,
              ]
            : ['n/a', 'n/a', 'n/a']
          : [];
        cmp.push([
          w.scenario,
          String(w.result.connections),
          `${num(w.result.cpuUsPerRequest)} / ${num(b.result.cpuUsPerRequest)}${u ? ` / ${num(u.result.cpuUsPerRequest)}` : ''}`,
          num(w.result.cpuUsPerRequest - b.result.cpuUsPerRequest),
          w.rate
            ? '(steady rate)'
            : `${num(w.result.reqPerSec / b.result.reqPerSec, 2)}${u ? ` / ${num(w.result.reqPerSec / u.result.reqPerSec, 2)}` : ''}`,
          `${num(w.result.p99)} / ${num(b.result.p99)}${u ? ` / ${num(u.result.p99)}` : ''}`,
          num(w.result.p99 / b.result.p99, 2),
          ...kataCells,
        ]);
      }
      out.push(
        table(
          [
            'scenario',
            'conns',
            `CPU µs/request webhook / baseline${unparsed ? ' / unparsed' : ''}`,
            'webhook − baseline, µs',
            `throughput × baseline${unparsed ? ' / × unparsed' : ''}`,
            `p99 ms webhook / baseline${unparsed ? ' / unparsed' : ''}`,
            'p99 × baseline',
            ...(kata ? ['kata-webhook CPU µs/request', 'throughput × kata-webhook', 'kata-webhook p99 ms (webhook ×)'] : []),
          ],
          cmp,
          ['l', 'r', 'r', 'r', 'r', 'r', 'r', ...(kata ? (['r', 'r', 'r'] as const) : [])],
        ),
      );
      out.push('');
    }
    out.push('### TLS handshake probe (after warm-up, 50 sequential each, medians, CA-verified, no session resumption)', '');
    out.push(
      table(
        ['server', 'bare TLS handshake, ms', 'POST untrusted-pod.json on a new connection, ms', 'same POST on a kept-alive connection, ms'],
        reports
          .filter((r) => r.handshake)
          .map((r) => [r.name, num(r.handshake!.handshakeMs), num(r.handshake!.newConnectionMs), num(r.handshake!.keepAliveMs)]),
        ['l', 'r', 'r', 'r'],
      ),
    );
    out.push('');
    if (webhook) {
      const mixes = webhook.scenarios.filter((s) => s.scenario.startsWith('mix'));
      if (mixes.length > 0) {
        out.push('### Webhook, server-side time by request kind in the mix (durationMs of its "admission decision" log line)', '');
        const rows2: string[][] = [];
        for (const s of mixes) {
          for (const [pod, ms] of [...s.serverMs].sort())
            rows2.push([
              `${s.result.connections}`,
              POD_KINDS[pod] ?? pod,
              String(ms.length),
              num(percentile(ms, 50)),
              num(percentile(ms, 99)),
              num(ms.reduce((a, b) => Math.max(a, b), 0)),
            ]);
        }
        out.push(table(['conns', 'request', 'decisions', 'p50 ms', 'p99 ms', 'max ms'], rows2, ['r', 'l', 'r', 'r', 'r', 'r']));
        out.push('');
      }
      const completed = webhook.scenarios.reduce((a, s) => a + s.result.completed, 0);
      out.push(
        `- webhook: ${completed.toLocaleString('en-US')} answers counted by the client, ${webhook.decisions.toLocaleString('en-US')} decisions logged by the server (the difference: requests in flight when a run stopped)`,
        '',
      );
    }
    out.push(`### Server memory (VmRSS from /proc; Deployment limit ${limits.memoryMiB} MiB, leak guard ${RSS_BUDGET_MIB} MiB)`, '');
    out.push(
      table(
        [
          'server',
          'spawn to listening, ms',
          'CPU by then, ms',
          'load avg at start',
          'idle after start, MiB',
          'after warm-up',
          'after all runs',
          'peak (VmHWM)',
        ],
        reports.map((r) => [
          r.name,
          num(r.startup?.readyMs ?? NaN),
          num((r.startup?.cpuSeconds ?? NaN) * 1000),
          r.startup?.loadAverage ?? 'n/a',
          num(r.idle?.rssMiB ?? NaN),
          num(r.warm?.rssMiB ?? NaN),
          num(r.final?.rssMiB ?? NaN),
          num(r.final?.hwmMiB ?? NaN),
        ]),
        ['l', 'r', 'r', 'l', 'r', 'r', 'r', 'r'],
      ),
    );
    out.push('');
    const profile = webhook?.profile;
    if (profile) {
      out.push(
        `### Webhook CPU profile (--cpu-prof over the whole run, ${num(profile.totalMs / 1000)} s; shares are of non-idle self time)`,
        '',
      );
      const shown = profile.areas.filter((a) => Number.isNaN(a.share) || a.share >= 0.5);
      const rest = profile.areas.filter((a) => !shown.includes(a));
      const areaRows = shown.map((a) => [a.area, num(a.ms), Number.isNaN(a.share) ? '' : `${num(a.share, 2)}%`]);
      if (rest.length > 0)
        areaRows.push([
          `${rest.length} other areas`,
          num(rest.reduce((x, a) => x + a.ms, 0)),
          `${num(
            rest.reduce((x, a) => x + a.share, 0),
            2,
          )}%`,
        ]);
      out.push(table(['area', 'self ms', 'share'], areaRows, ['l', 'r', 'r']));
      out.push('');
      out.push(
        table(
          ['function', 'where', 'area', 'self ms', 'share'],
          profile.functions.map((f) => [f.name, f.where, f.area, num(f.ms), `${num(f.share, 2)}%`]),
          ['l', 'l', 'l', 'r', 'r'],
        ),
      );
      out.push('');
    }
  }
  if (clusterStartups.length > 0) {
    out.push(
      `## (e) Cluster mode: spawn to ready, idle memory (webhook from ${options['webhook-from']}/, --kubeconfig to a loopback fake API server, certificates from files)`,
      '',
      `Ready: /readyz answers 200 (certificates present, policy loaded, namespace and RuntimeClass caches synced). Sync: from the first list request to the last watch request the fake saw. Namespaces carry 10 labels each. Idle: 3 s after ready. Peak: VmHWM after ${seconds} s of the mix and ${seconds} s of 1 MiB reviews only, ${connectionCounts[0]} connections.`,
      '',
    );
    out.push(
      table(
        [
          'namespaces',
          'spawn to ready, ms',
          'of which cache sync, ms',
          'start-up without sync, ms',
          'CPU by ready, ms',
          'idle RSS MiB',
          'heap used MiB',
          'peak RSS under load (VmHWM), MiB',
          'shed under load (429/503; closed: connection reset on a shed large body)',
          'load avg',
        ],
        clusterStartups.map((c) => [
          c.namespaces.toLocaleString('en-US'),
          num(c.readyMs),
          num(c.syncMs),
          num(c.readyMs - c.syncMs),
          num(c.cpuMsAtReady),
          num(c.idle?.rssMiB ?? NaN),
          num(c.heapUsedMiB),
          num(c.peakMiB),
          Object.entries(c.shed)
            .map(([code, n]) => `${n} × ${code}`)
            .join(', ') || '0',
          c.loadAverage,
        ]),
        ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
      ),
    );
    out.push('');
  }
  out.push(
    `total time ${((performance.now() - started) / 1000).toFixed(0)} s; ${failures.length === 0 ? 'all checks passed' : `${failures.length} check(s) FAILED`}`,
  );
  return out.join('\n');
}
