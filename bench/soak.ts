// `npm run soak` (not in CI): the webhook as it runs in a cluster (serve, certificates from files), under a steady
// rate of mixed reviews for 10 minutes, with policy reloads (good and refused) and a serving-certificate rotation in
// the middle. Passes with zero failed reviews and RSS growth under 5% from the first minute after warm-up to the
// last; writes its figures into bench/RESULTS.md ("## Soak"). Loopback only; every loop is bounded in time.
//   node bench/soak.ts [--minutes 10] [--rate 200] [--no-write]
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createCertificateAuthority, createServingCertificate } from '../src/tls/certificates.ts';
import { deniedPod, labelledNamespacePod, LABELLED_NAMESPACE, ordinaryPod, podReview, untrustedPod } from './fixtures.ts';
import { LOOPBACK, post, readMemory, startServer } from './load.ts';
import { writeResultsSection } from './report.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const MINUTES = arg('minutes', 10);
const RATE = arg('rate', 200);
const CLIENTS = 8;
const durationMs = MINUTES * 60_000;

const dir = mkdtempSync(join(tmpdir(), 'sandbox-admission-soak-'));
const now = new Date();
const ca = createCertificateAuthority({ commonName: 'sandbox-admission-soak-ca', validityDays: 2, now });
const issue = () =>
  createServingCertificate(ca, {
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ipAddresses: [LOOPBACK],
    validityDays: 1,
    now: new Date(),
  });
const certFile = join(dir, 'tls.crt');
const keyFile = join(dir, 'tls.key');
const writeCert = () => {
  const serving = issue();
  writeFileSync(keyFile, serving.keyPem, { mode: 0o600 });
  writeFileSync(certFile, serving.certPem);
};
writeCert();
const policyFile = join(dir, 'policy.yaml');
copyFileSync(join(REPO, 'manifests/base/policy.yaml'), policyFile);
const goodPolicy = readFileSync(policyFile, 'utf8');

const server = await startServer(
  'webhook',
  [
    join(REPO, 'bench/webhook-main.ts'),
    'serve',
    '--certificates',
    'files',
    '--tls-cert-file',
    certFile,
    '--tls-key-file',
    keyFile,
    '--policy',
    policyFile,
    '--host',
    LOOPBACK,
    '--port',
    '0',
    '--drain-delay',
    '0',
    '--log-level',
    'info',
    '--namespace-labels',
    `${LABELLED_NAMESPACE}=sandbox-admission.io/runtime=kata`,
  ],
  join(dir, 'webhook.log'),
  'sandbox-admission listening',
);

const bodies = [untrustedPod(), ordinaryPod(), deniedPod(), labelledNamespacePod()].map((p, i) =>
  JSON.stringify(podReview(p, `soak-${i}`)),
);
let sent = 0;
let failed = 0;
const failures: string[] = [];
const latencies: number[] = [];
const started = Date.now();
const deadline = started + durationMs;
const events: string[] = [];

// Each client sends at RATE / CLIENTS per second on a kept-alive connection, and opens a new connection every 30 s
// so that handshakes after the certificate rotation are part of the run.
async function client(id: number): Promise<void> {
  const intervalMs = (1000 * CLIENTS) / RATE;
  let agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let agentSince = Date.now();
  for (let i = 0; Date.now() < deadline && i < RATE * MINUTES * 60; i++) {
    const due = started + id * (intervalMs / CLIENTS) + i * intervalMs;
    if (due > Date.now()) await sleep(due - Date.now());
    if (Date.now() - agentSince > 30_000) {
      agent.destroy();
      agent = new Agent({ keepAlive: true, maxSockets: 1 });
      agentSince = Date.now();
    }
    sent++;
    try {
      const answer = await post(server.port, '/mutate', bodies[(id + i) % bodies.length]!, { ca: ca.certPem, agent });
      latencies.push(answer.ms);
      if (answer.status !== 200) throw new Error(`HTTP ${answer.status}: ${answer.body.slice(0, 200)}`);
    } catch (error) {
      failed++;
      if (failures.length < 20) failures.push(`${new Date().toISOString()} client ${id}: ${(error as Error).message}`);
    }
  }
  agent.destroy();
}

const memory: Array<{ atMs: number; rssMiB: number }> = [];
const sampler = setInterval(() => {
  const m = readMemory(server.pid);
  if (m) memory.push({ atMs: Date.now() - started, rssMiB: m.rssMiB });
}, 5000);

async function disturbances(): Promise<void> {
  const at = async (fraction: number) => {
    const when = started + durationMs * fraction;
    if (when > Date.now()) await sleep(when - Date.now());
  };
  await at(0.3);
  for (let i = 0; i < 5; i++) {
    writeFileSync(policyFile, goodPolicy.replace('name: example', `name: example-${i}`));
    await sleep(3000);
  }
  writeFileSync(policyFile, goodPolicy.replace('runtime: gvisor', 'runtime: firecracker'));
  await sleep(3000);
  writeFileSync(policyFile, goodPolicy);
  events.push(`${((Date.now() - started) / 60_000).toFixed(1)} min: 5 policy reloads, one refused policy, the good one back`);
  await at(0.5);
  writeCert();
  events.push(`${((Date.now() - started) / 60_000).toFixed(1)} min: serving certificate rotated (new key and certificate files)`);
}

const disturbed = disturbances();
await Promise.all(Array.from({ length: CLIENTS }, (_, id) => client(id)));
await disturbed;
clearInterval(sampler);
const exitProblem = server.exitProblem();
const log = readFileSync(server.logFile, 'utf8');
const count = (msg: string) => log.split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).length;
const reloads = {
  reloaded: count('policy reloaded'),
  refused: count('policy refused; the last good policy stays in force'),
  certificate: count('serving certificate changed'),
};
await server.stop();
rmSync(dir, { recursive: true, force: true });

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const window = (fromMs: number, toMs: number) => memory.filter((m) => m.atMs >= fromMs && m.atMs < toMs).map((m) => m.rssMiB);
// Baseline: the first minute after a one-minute warm-up; end: the last minute.
const baseline = median(window(60_000, 120_000));
const end = median(window(durationMs - 60_000, durationMs + 1));
const growth = (end - baseline) / baseline;
const sorted = [...latencies].sort((a, b) => a - b);
const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
const ok = failed === 0 && !exitProblem && growth < 0.05 && reloads.certificate >= 1 && reloads.reloaded >= 5 && reloads.refused >= 1;

const section = [
  '## Soak',
  '',
  `\`npm run soak\` on ${new Date().toISOString().slice(0, 10)}: ${MINUTES} min at ${RATE} reviews/s over ${CLIENTS} keep-alive clients (each reconnects every 30 s), the mix of`,
  'untrusted, ordinary, denied and namespace-labelled pods, against `serve --certificates files`.',
  '',
  '| reviews sent | failed | p50 ms | p99 ms | max ms | RSS minute 1-2 (MiB) | RSS last minute (MiB) | growth | policy reloads / refused | certificate changes |',
  '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  `| ${sent} | ${failed} | ${pct(0.5).toFixed(2)} | ${pct(0.99).toFixed(2)} | ${(sorted.at(-1) ?? NaN).toFixed(1)} | ${baseline.toFixed(1)} | ${end.toFixed(1)} | ${(growth * 100).toFixed(1)}% | ${reloads.reloaded} / ${reloads.refused} | ${reloads.certificate} |`,
  '',
  ...events.map((e) => `- ${e}`),
  `- ${ok ? 'passed' : 'FAILED'}: zero failed reviews and RSS growth under 5% required${exitProblem ? `; the server exited: ${exitProblem}` : ''}`,
  ...failures.map((f) => `- failure: ${f}`),
  '',
].join('\n');
process.stdout.write(`${section}\n`);
if (!process.argv.includes('--no-write')) writeResultsSection('## Soak', section);
process.exit(ok ? 0 : 1);
