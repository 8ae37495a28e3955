import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { AuditCommandOptions } from './audit-command.ts';
import type { EvaluateCommandOptions } from './evaluate-command.ts';
import type { PolicyMigrateOptions } from './policy-migrate-command.ts';
import type { RenderKind, RenderVapCommandOptions } from './render-vap-command.ts';
import { parseDuration } from '../main/duration.ts';
import type { ServeOptions } from '../main/serve.ts';
import { DEFAULT_SANDBOX_POLICY_NAME } from '../policy/sandbox-policy-crd.ts';
import { EXAMPLE_POLICY_PATH } from '../main/paths.ts';
import { useShippedCompileCache } from './compile-cache.ts';
import { formatVersion } from './version.ts';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * Each command's module is imported when that command runs: `serve` then loads neither the CLI's YAML and table
 * code nor the audit's Kubernetes client, and `evaluate` does not load the server.
 *
 * `sandbox-admission <command>`: the CLI and the server share one decision function, so they cannot disagree.
 * Exit codes everywhere: 0 success, 1 a finding (something would be denied, a test failed), 2 usage or input error.
 */
export function buildProgram(): Command {
  const program = new Command('sandbox-admission')
    .description('Admission webhook that runs untrusted pods in a sandboxed runtime (gVisor, Kata Containers)')
    .version(formatVersion(), '-V, --version', 'print the version and the Kubernetes versions it was tested with')
    // Set before any .command(): subcommands inherit both. A usage error is one line on stderr and exit 2.
    .configureOutput({ outputError: (text, write) => write(formatUsageError(text)) })
    .exitOverride();

  program
    .command('version')
    .description('print the version and the Kubernetes versions it was tested with')
    .action(() => {
      process.stdout.write(`${formatVersion()}\n`);
    });

  program
    .command('evaluate')
    .description('show the decision for every Pod and pod template in manifests (exit 1 if any would be denied, 2 on unreadable input)')
    .option('-f, --file <path>', 'manifest file or directory, multi-document YAML or JSON ("-" for stdin); repeatable', collect, [])
    .option('-R, --recursive', 'also read the subdirectories of -f directories', false)
    .option('--policy <path>', 'policy file (default: the example policy, manifests/base/policy.yaml)')
    .option('-n, --namespace <name>', 'namespace for objects that name none', 'default')
    .option(
      '--namespace-labels <ns=key=value,...>',
      'labels of the namespaces, as the cluster would have them; added to and overriding those of Namespace objects in the input (repeatable)',
      collect,
      [],
    )
    .addOption(
      new Option(
        '-o, --output <format>',
        'table (one line per object), yaml or json (every detail), manifests (the mutated objects, for kubectl apply -f -)',
      )
        .choices(['table', 'yaml', 'json', 'manifests'])
        .default('table'),
    )
    .option(
      '--warn-exit-code <code>',
      'exit with this code when nothing is denied but a warn- or audit-mode rule would deny something',
      parseExitCode,
      0,
    )
    .option('--webhook-namespace <name>', 'namespace the webhook runs in (always exempt)', 'sandbox-admission')
    .action(async (opts: Omit<EvaluateCommandOptions, 'examplePolicy'> & { policy?: string }) => {
      const { runEvaluate } = await import('./evaluate-command.ts');
      process.exitCode = runEvaluate(
        { ...opts, policy: opts.policy ?? EXAMPLE_POLICY_PATH, examplePolicy: opts.policy === undefined },
        (t) => process.stdout.write(t),
        (t) => process.stderr.write(t),
      );
    });

  program
    .command('test')
    .description(
      'run declarative policy tests: each test file names a policy, resources and the expected result per object (exit 1 if any fails)',
    )
    .argument('<paths...>', 'test files, or directories searched for *.test.yaml')
    .action(async (paths: string[]) => {
      const { runPolicyTests } = await import('./policy-test-command.ts');
      process.exitCode = runPolicyTests(
        paths,
        (t) => process.stdout.write(t),
        (t) => process.stderr.write(t),
      );
    });

  program
    .command('audit')
    .description(
      'list the pods already in the cluster that the policy governs and whether each runs in an allowed sandbox (exit 1 on findings); pods in phase Succeeded or Failed are skipped',
    )
    .option('--policy <path>', 'policy file (default: the policy in force, from the ConfigMap --policy-configmap in --webhook-namespace)')
    .option('--kubeconfig <path>', 'kubeconfig file (default: KUBECONFIG, ~/.kube/config or the in-cluster service account)')
    .option('--context <name>', 'kubeconfig context to use (default: its current-context)')
    .option('-n, --namespace <name>', 'audit one namespace')
    .option('-A, --all-namespaces', 'audit every namespace (the default)', false)
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
    .option('--webhook-namespace <name>', 'namespace the webhook runs in (always exempt)', 'sandbox-admission')
    .option(
      '--policy-configmap <name>',
      'without --policy: the ConfigMap holding the policy in force (key policy.yaml)',
      'sandbox-admission-policy',
    )
    .option('--chunk-size <n>', 'pods per list request (limit/continue pagination)', parsePositiveInteger, 500)
    .action(async (opts: AuditCommandOptions) => {
      const { runAudit } = await import('./audit-command.ts');
      process.exitCode = await runAudit(
        opts,
        (t) => process.stdout.write(t),
        (t) => process.stderr.write(t),
      );
    });

  const render = program.command('render').description('generate Kubernetes objects or the policy schema from the policy');
  const renderCommand = (kind: RenderKind, description: string): void => {
    const command = render.command(kind).description(description);
    if (kind === 'vap')
      command.option(
        '--after-map',
        'for the native flavour: the policies run after the MutatingAdmissionPolicy, so they refuse with its reasons (README, "The MutatingAdmissionPolicy")',
      );
    command
      .requiredOption('--policy <path>', 'policy file ("-" for stdin)')
      .option('--webhook-namespace <name>', 'namespace the webhook runs in (always exempt)', 'sandbox-admission')
      .addOption(new Option('-o, --output <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
      .action(async (opts: RenderVapCommandOptions) => {
        const { runRenderVap } = await import('./render-vap-command.ts');
        process.exitCode = runRenderVap(
          opts,
          (t) => process.stdout.write(t),
          (t) => process.stderr.write(t),
          kind,
        );
      });
  };
  renderCommand(
    'vap',
    'print ValidatingAdmissionPolicies + bindings that make the API server refuse governed pods without an allowed sandbox runtime',
  );
  renderCommand('map', 'print a MutatingAdmissionPolicy + binding that make the API server itself move governed pods into their sandbox');
  render
    .command('schema')
    .description('print the JSON Schema of a policy (or of a policy test file) for editors, the one the webhook validates with')
    .addOption(new Option('--kind <kind>', 'which document').choices(['policy', 'test']).default('policy'))
    .action(async (opts: { kind: 'policy' | 'test' }) => {
      const { runRenderSchema } = await import('./render-schema-command.ts');
      process.exitCode = runRenderSchema(opts, (t) => process.stdout.write(t));
    });

  render
    .command('crd')
    .description('print the SandboxPolicy CustomResourceDefinition, its schema generated from the one the webhook validates with')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
    .action(async (opts: { output: 'yaml' | 'json' }) => {
      const { runRenderCrd } = await import('./render-crd-command.ts');
      process.exitCode = runRenderCrd(opts, (t) => process.stdout.write(t));
    });

  program
    .command('policy')
    .description('work with the policy as a SandboxPolicy object')
    .command('migrate')
    .description(
      'print the policy in force in file mode (the ConfigMap, or --policy) as the SandboxPolicy --policy-source=crd serves: pipe it to kubectl apply -f -',
    )
    .option('--policy <path>', 'policy file ("-" for stdin; default: the ConfigMap --policy-configmap in --webhook-namespace)')
    .option('--kubeconfig <path>', 'kubeconfig file (default: KUBECONFIG, ~/.kube/config or the in-cluster service account)')
    .option('--context <name>', 'kubeconfig context to use (default: its current-context)')
    .option('--webhook-namespace <name>', 'namespace the webhook runs in', 'sandbox-admission')
    .option('--policy-configmap <name>', 'without --policy: the ConfigMap holding the policy (key policy.yaml)', 'sandbox-admission-policy')
    .option(
      '--name <name>',
      'metadata.name of the SandboxPolicy: the one the webhook serves (serve --policy-name)',
      DEFAULT_SANDBOX_POLICY_NAME,
    )
    .action(async (opts: PolicyMigrateOptions) => {
      const { runPolicyMigrate } = await import('./policy-migrate-command.ts');
      process.exitCode = await runPolicyMigrate(
        opts,
        (t) => process.stdout.write(t),
        (t) => process.stderr.write(t),
      );
    });

  program
    .command('serve')
    .description('run the admission webhook over HTTPS')
    .option('--dev', 'local development: certificates generated into certs/, listen on 127.0.0.1, example policy', false)
    .option('--host <address>', 'address to listen on (default 0.0.0.0, or 127.0.0.1 with --dev)')
    .option('--port <port>', 'HTTPS port', checked(parsePortArgument), process.env.SANDBOX_ADMISSION_PORT ?? '8443')
    .option(
      '--metrics-port <port>',
      'also serve GET /metrics alone on this HTTPS port (same certificate), for Prometheus',
      checked(parsePortArgument),
    )
    .option(
      '--policy <path>',
      'with --policy-source=file: policy file, reloaded when it changes',
      process.env.SANDBOX_ADMISSION_POLICY ?? EXAMPLE_POLICY_PATH,
    )
    .addOption(
      new Option(
        '--policy-source <source>',
        'file: the --policy file (a mounted ConfigMap); crd: the SandboxPolicy --policy-name from the API (needs --cluster)',
      )
        .choices(['file', 'crd'])
        .env('SANDBOX_ADMISSION_POLICY_SOURCE')
        .default('file'),
    )
    .option(
      '--policy-name <name>',
      'with --policy-source=crd: the SandboxPolicy in force (every other one is reported NotInForce)',
      'default',
    )
    .option('--tls-cert-file <path>', 'serving certificate (PEM), re-read when it changes')
    .option('--tls-key-file <path>', 'serving key (PEM)')
    .option('--webhook-namespace <name>', 'namespace the webhook runs in (always exempt)', process.env.POD_NAMESPACE ?? 'sandbox-admission')
    .addOption(
      new Option(
        '--certificates <mode>',
        'serving certificate: self-managed (a Secret, CA published to the webhook configurations; default with --cluster/--kubeconfig), files (--tls-cert-file/--tls-key-file, e.g. cert-manager), dev (certs/)',
      ).choices(['self-managed', 'files', 'dev']),
    )
    .option(
      '--tls-secret <name>',
      'self-managed: Secret in the webhook namespace holding the CA and serving certificate',
      'sandbox-admission-tls',
    )
    .option(
      '--mutating-webhook-configuration <name>',
      'self-managed: MutatingWebhookConfiguration whose caBundle is kept current',
      'sandbox-admission',
    )
    .option(
      '--validating-webhook-configuration <name>',
      'self-managed: ValidatingWebhookConfiguration whose caBundle is kept current ("" for none)',
      'sandbox-admission',
    )
    .option('--service-name <name>', 'Service name, for the SANs of --dev and self-managed certificates', 'sandbox-admission')
    .option('--namespace-labels <ns=key=value,...>', 'namespace labels when running without a cluster (repeatable)', collect, [])
    .option('--cluster', 'read namespaces and RuntimeClasses from the cluster (in-cluster config, KUBECONFIG or ~/.kube/config)', false)
    .option('--kubeconfig <path>', 'kubeconfig file for the cluster (implies --cluster)')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).env('LOG_LEVEL').default('info'))
    .option('--drain-delay <duration>', 'keep serving this long after SIGTERM', checked(parseDuration), '5s')
    .option(
      '--policy-configmap <name>',
      'ConfigMap the policy is mounted from (PolicyRejected events go there)',
      'sandbox-admission-policy',
    )
    .option(
      '--audit-interval <duration>',
      'with --cluster: how often to audit running pods in the background (0 = off)',
      checked(parseDuration),
      '5m',
    )
    .option('--max-in-flight <n>', 'admission requests read or answered at once; more are refused at once with 429 and Retry-After', '128')
    .option(
      '--client-ca-file <path>',
      'only callers with a client certificate from this CA (the API server, by its AdmissionConfiguration kubeconfig) may use /mutate and /validate; read at start',
    )
    .option(
      '--client-allowed-names <names>',
      'with --client-ca-file: comma-separated certificate common names or DNS SANs allowed to call (default: any the CA signed)',
      '',
    )
    .option(
      '--max-in-flight-large-mib <n>',
      'MiB of large review bodies (over 128 KiB) read or answered at once; more are refused at once with 429',
      '8',
    )
    .option(
      '--admission-policy-check-interval <duration>',
      'with --cluster: how often to check that the generated admission policies carry the policy in force (and, with --manage-admission-policies, the leader repairs them)',
      checked(parseDuration),
      '60s',
    )
    .option(
      '--manage-admission-policies <kinds>',
      'with --cluster: the generated admission policies the leader replica keeps in line with the policy in force: none, validating, mutating (comma-separated or repeated)',
      collect,
      [],
    )
    .option('--no-policy-reports', 'with --cluster: do not write the audit findings as PolicyReports (wgpolicyk8s.io/v1alpha2)')
    .option(
      '--leader-election-lease <name>',
      'with --cluster: the Lease in the webhook namespace that elects the one replica that writes',
      'sandbox-admission',
    )
    .option('--leader-election-identity <name>', "with --cluster: this replica's name in the Lease (default: POD_NAME, else hostname_pid)")
    .option(
      '--leader-election-lease-duration <duration>',
      'with --cluster: how long an unrenewed Lease is held',
      checked(parseDuration),
      '15s',
    )
    .option(
      '--leader-election-renew-deadline <duration>',
      'with --cluster: how long the leader keeps leading without a renew',
      checked(parseDuration),
      '10s',
    )
    .option('--leader-election-retry-period <duration>', 'with --cluster: time between Lease attempts', checked(parseDuration), '2s')
    .action(async (opts: ServeOptions) => {
      const { runServe } = await import('../main/serve.ts');
      await runServe(opts);
    });

  return program;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Validate a flag value with a parser but keep the text: the command parses it again where it is used. */
function checked(parse: (value: string) => unknown): (value: string) => string {
  return (value) => {
    try {
      parse(value);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
    return value;
  };
}

function parsePortArgument(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new Error('expected a port number from 0 to 65535');
  return port;
}

function parseExitCode(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 255) throw new InvalidArgumentError('expected an exit code from 0 to 255');
  return Number(value);
}

function parsePositiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a positive integer');
  return Number(value);
}

/** Commander's message (`error: ...`, sometimes a second `(Did you mean ...?)` line) as one line. */
export function formatUsageError(text: string): string {
  const message = text
    .trim()
    .replace(/^error: /, '')
    .replace(/\s*\n\s*/g, ' ');
  return `sandbox-admission: ${message} (see --help)\n`;
}

export async function runCli(argv: readonly string[]): Promise<void> {
  useShippedCompileCache();
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version exit 0; every usage error exits 2, never 1 (which means "would be denied", "findings").
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(`sandbox-admission: ${(error as Error).message}\n`);
    process.exitCode = 2;
  }
}

if (import.meta.main) await runCli(process.argv);
