// `npm run bench:pod-create` (not in CI): what each way of sandboxing costs a pod create, through a real
// kube-apiserver and etcd (the e2e harness's, built from the pinned module, on loopback). One API server, three
// set-ups in turn, each measured in rounds interleaved with the others so a busy machine weighs on all alike:
//   none     no admission configuration at all
//   native   the generated MutatingAdmissionPolicy + ValidatingAdmissionPolicies (`render map`, `render vap --after-map`)
//   webhook  `sandbox-admission serve` (its own process, info logging as deployed) behind manifests/base's webhooks
// Every create is a real one (stored in etcd) of a pod the policy sandboxes, one at a time, timed from request to
// response; p50/p99 over at least --creates per set-up. Writes "## Pod-create latency" into bench/RESULTS.md.
//   node bench/pod-create.ts [--creates 1000] [--rounds 5] [--no-write]
import * as k8s from '@kubernetes/client-node';
import { loadavg } from 'node:os';
import { resolveBinaries } from '../test/e2e/harness/binaries.ts';
import { createNamespace, startCluster } from '../test/e2e/harness/cluster.ts';
import { installNative, installWebhook, waitUntilSandboxing } from '../test/e2e/harness/flavours.ts';
import { podOf, tryCreate } from '../test/e2e/harness/pod-admission.ts';
import { waitFor } from '../test/e2e/harness/api-assertions.ts';
import { readFileSync } from 'node:fs';
import { EXAMPLE_POLICY_FILE } from './paths.ts';
import { describeMachine, num, percentile, table, writeResultsSection } from './report.ts';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const CREATES = arg('creates', 1000);
const ROUNDS = arg('rounds', 5);
const WARM_UP = 50;
const SETUPS = ['none', 'native', 'webhook'] as const;
type Setup = (typeof SETUPS)[number];
const UNTRUSTED = { app: 'untrusted' };
const WEBHOOK_NAMESPACE = 'sandbox-admission';

const bins = resolveBinaries();
if (bins.skip) {
  process.stderr.write(`bench:pod-create needs the e2e binaries: ${bins.skip}\n`);
  process.exit(2);
}
const policyYaml = readFileSync(EXAMPLE_POLICY_FILE, 'utf8');
const cluster = await startCluster({ binaries: bins.binaries! });
const core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
const admission = cluster.kubeConfig.makeApiClient(k8s.AdmissionregistrationV1Api);
let webhook: Awaited<ReturnType<typeof installWebhook>> | undefined;
const load: number[] = [];

try {
  const node = cluster.kubeConfig.makeApiClient(k8s.NodeV1Api);
  for (const [name, handler] of [
    ['gvisor', 'runsc'],
    ['kata', 'kata'],
  ] as const)
    await node.createRuntimeClass({ body: { metadata: { name }, handler } });
  for (const setup of SETUPS) await createNamespace(cluster.kubeConfig, `bench-${setup}`);

  const latencies: Record<Setup, number[]> = { none: [], native: [], webhook: [] };
  const perRound = Math.ceil(CREATES / ROUNDS);
  let serial = 0;
  const createOnce = async (setup: Setup): Promise<number> => {
    const pod = podOf(`pod-${serial++}`, UNTRUSTED);
    const start = process.hrtime.bigint();
    const created = await core.createNamespacedPod({ namespace: `bench-${setup}`, body: pod });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const sandboxed = created.spec?.runtimeClassName === 'gvisor';
    if (sandboxed !== (setup !== 'none'))
      throw new Error(`${setup}: pod ${pod.metadata!.name} stored with runtimeClassName ${created.spec?.runtimeClassName}`);
    return ms;
  };

  for (let round = 0; round < ROUNDS; round++) {
    for (const setup of SETUPS) {
      await install(setup);
      for (let i = 0; i < WARM_UP; i++) await createOnce(setup);
      for (let i = 0; i < perRound; i++) latencies[setup].push(await createOnce(setup));
      load.push(loadavg()[0]!);
      await uninstall(setup);
      process.stderr.write(`[bench] round ${round + 1}/${ROUNDS} ${setup}: ${latencies[setup].length} creates\n`);
    }
  }

  const machine = describeMachine();
  const rows = SETUPS.map((setup) => {
    const l = latencies[setup];
    const p50 = percentile(l, 50);
    return [
      setup,
      String(l.length),
      num(p50, 2),
      num(percentile(l, 90), 2),
      num(percentile(l, 99), 2),
      num(p50 - percentile(latencies.none, 50), 2),
    ];
  });
  const section = [
    '## Pod-create latency through the API server',
    '',
    `\`npm run bench:pod-create\` on ${machine.date.slice(0, 10)} (${machine.cpus} CPUs, ${machine.cpuModel}; Node ${machine.node}; load average ${Math.min(...load).toFixed(1)}-${Math.max(...load).toFixed(1)} while measuring):`,
    `real creates of an \`app=untrusted\` pod (manifests/base/policy.yaml sandboxes it), one at a time, into one kube-apiserver + etcd on`,
    `loopback, ${ROUNDS} rounds with the three set-ups interleaved, ${WARM_UP} warm-up creates before each.`,
    '',
    table(['set-up', 'creates', 'p50 ms', 'p90 ms', 'p99 ms', 'p50 over none ms'], rows, ['l', 'r', 'r', 'r', 'r', 'r']),
    '',
    '- none: no admission configuration; native: the generated MutatingAdmissionPolicy + ValidatingAdmissionPolicies, in',
    '  the API server, no webhook; webhook: `sandbox-admission serve` (info logging, one process) behind the mutating and',
    '  validating webhook configurations of manifests/base (two HTTPS calls per create: /mutate, then the /validate backstop).',
    '- Read the p50 column first: the tails on a shared 2-core machine follow the load (etcd fsyncs, the other processes),',
    '  not the set-up. The native flavour saves the network hop but evaluates its CEL (the mutation and every',
    '  validation, with their variables) inside the API server, on every pod create.',
    '',
  ].join('\n');
  process.stdout.write(`${section}\n`);
  if (!process.argv.includes('--no-write')) writeResultsSection('## Pod-create latency through the API server', section);
} finally {
  await webhook?.stop();
  await cluster.stop();
}

async function install(setup: Setup): Promise<void> {
  if (setup === 'none') return;
  if (setup === 'native') await installNative(cluster, policyYaml, WEBHOOK_NAMESPACE);
  else webhook = await installWebhook(cluster, policyYaml, ['--log-level', 'info']);
  await waitUntilSandboxing(cluster, `bench-${setup}`, UNTRUSTED);
}

/** Remove what `install` added and wait until the API server no longer applies it. */
async function uninstall(setup: Setup): Promise<void> {
  if (setup === 'none') return;
  if (setup === 'native') {
    const selector = 'app.kubernetes.io/name=sandbox-admission';
    await admission.deleteCollectionMutatingAdmissionPolicyBinding({ labelSelector: selector });
    await admission.deleteCollectionMutatingAdmissionPolicy({ labelSelector: selector });
    await admission.deleteCollectionValidatingAdmissionPolicyBinding({ labelSelector: selector });
    await admission.deleteCollectionValidatingAdmissionPolicy({ labelSelector: selector });
  } else {
    await admission.deleteMutatingWebhookConfiguration({ name: 'sandbox-admission' });
    await admission.deleteValidatingWebhookConfiguration({ name: 'sandbox-admission' });
    await webhook?.stop();
    webhook = undefined;
  }
  let probe = 0;
  await waitFor(async () => {
    const answer = await tryCreate(core, `bench-${setup}`, podOf(`unprobe-${probe++}`, UNTRUSTED));
    return answer.allowed && answer.stored?.spec?.runtimeClassName === undefined;
  });
}
