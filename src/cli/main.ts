import { Command, Option } from 'commander';
import { runAudit, type AuditCommandOptions } from './audit-command.ts';
import { type EvaluateCommandOptions, runEvaluate } from './evaluate-command.ts';
import { type RenderKind, type RenderVapCommandOptions, runRenderVap } from './render-vap-command.ts';
import { runServe, type ServeOptions } from '../main/serve.ts';
import { EXAMPLE_POLICY_PATH } from '../main/paths.ts';

/** `sandbox-admission <command>`: the CLI and the server share one decision function, so they cannot disagree. */
export function buildProgram(): Command {
  const program = new Command('sandbox-admission')
    .description('Admission webhook that runs untrusted pods in a sandboxed runtime (gVisor, Kata Containers)')
    .showHelpAfterError();

  program
    .command('evaluate')
    .description('show the decision for every Pod and pod template in a manifest file (exit 1 if any would be rejected)')
    .requiredOption('-f, --file <path>', 'manifest file, multi-document YAML or JSON ("-" for stdin)')
    .option('--policy <path>', 'policy file', EXAMPLE_POLICY_PATH)
    .option('-n, --namespace <name>', 'namespace for objects that name none', 'default')
    .option('--namespace-labels <ns=key=value,...>', 'labels of the namespaces, as the cluster would have them (repeatable)', collect, [])
    .addOption(new Option('-o, --output <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
    .option('--webhook-namespace <name>', 'namespace the webhook runs in (always exempt)', 'sandbox-admission')
    .action((opts: EvaluateCommandOptions) => {
      process.exitCode = runEvaluate(
        opts,
        (t) => process.stdout.write(t),
        (t) => process.stderr.write(t),
      );
    });

  program
    .command('audit')
    .description(
      'list the pods already in the cluster that the policy governs and whether each runs in an allowed sandbox (exit 1 on findings); pods in phase Succeeded or Failed are skipped',
    )
    .requiredOption('--policy <path>', 'policy file')
    .option('--kubeconfig <path>', 'kubeconfig file (default: KUBECONFIG, ~/.kube/config or the in-cluster service account)')
    .option('-n, --namespace <name>', 'audit one namespace (default: all namespaces)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
    .option('--webhook-namespace <name>', 'namespace the webhook runs in (always exempt)', 'sandbox-admission')
    .option('--chunk-size <n>', 'pods per list request (limit/continue pagination)', '500')
    // Usage errors exit 2 like any other "could not run": 1 means findings.
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2))
    .action(async (opts: AuditCommandOptions) => {
      process.exitCode = await runAudit(
        opts,
        (t) => process.stdout.write(t),
        (t) => process.stderr.write(t),
      );
    });

  const render = program.command('render').description('generate Kubernetes objects from the policy');
  const renderCommand = (kind: RenderKind, description: string): void => {
    render
      .command(kind)
      .description(description)
      .requiredOption('--policy <path>', 'policy file ("-" for stdin)')
      .option('--webhook-namespace <name>', 'namespace the webhook runs in (always exempt)', 'sandbox-admission')
      .addOption(new Option('-o, --output <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
      // Usage errors exit 2, like an unreadable or invalid policy.
      .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2))
      .action((opts: RenderVapCommandOptions) => {
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

  program
    .command('serve')
    .description('run the admission webhook over HTTPS')
    .option('--dev', 'local development: certificates generated into certs/, listen on 127.0.0.1, example policy', false)
    .option('--host <address>', 'address to listen on (default 0.0.0.0, or 127.0.0.1 with --dev)')
    .option('--port <port>', 'HTTPS port', process.env.SANDBOX_ADMISSION_PORT ?? '8443')
    .option('--policy <path>', 'policy file, reloaded when it changes', process.env.SANDBOX_ADMISSION_POLICY ?? EXAMPLE_POLICY_PATH)
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
    .option('--log-level <level>', 'pino log level', process.env.LOG_LEVEL ?? 'info')
    .option('--drain-delay <duration>', 'keep serving this long after SIGTERM', '5s')
    .option(
      '--policy-configmap <name>',
      'ConfigMap the policy is mounted from (PolicyRejected events go there)',
      'sandbox-admission-policy',
    )
    .option('--audit-interval <duration>', 'with --cluster: how often to audit running pods in the background (0 = off)', '5m')
    .option(
      '--admission-policy-check-interval <duration>',
      'with --cluster: how often to check that the generated ValidatingAdmissionPolicies carry the policy in force',
      '60s',
    )
    .action(async (opts: ServeOptions) => {
      await runServe(opts);
    });

  return program;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export async function runCli(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (error) {
    process.stderr.write(`sandbox-admission: ${(error as Error).message}\n`);
    process.exitCode = 2;
  }
}

if (import.meta.main) await runCli(process.argv);
