import { stringify } from 'yaml';
import { formatCodedError } from '../errors.ts';
import { loadPolicyFile } from '../policy/file-store.ts';
import type { Policy } from '../policy/types.ts';
import { collectNamespaceLabels, evaluateManifests, type Evaluation, type EvaluationResult } from './evaluate.ts';
import { parseManifests, type ManifestDocument } from './manifest.ts';
import { readManifestInputs } from './manifest-input.ts';
import { parseNamespaceLabels } from '../main/namespace-labels.ts';
import { formatTable } from './table.ts';

export interface EvaluateCommandOptions {
  /** Files, directories, `-` for stdin; every one counts. */
  file: string[];
  recursive: boolean;
  policy: string;
  /** The policy is the built-in example because none was given: said so on stderr. */
  examplePolicy?: boolean;
  namespace: string;
  namespaceLabels: string[];
  output: 'table' | 'yaml' | 'json' | 'manifests';
  /** Exit code when nothing is denied but something is admitted only by a warn- or audit-mode rule (0: ignore). */
  warnExitCode: number;
  webhookNamespace: string;
  /** For tests: what `-f -` reads. */
  readStdin?: () => string;
}

/**
 * Exit codes: 0 all admitted, 1 something would be denied, 2 usage or input error (unreadable file, bad YAML,
 * bad policy, no objects at all); `warnExitCode` when only warn/audit-mode violations were found.
 * stdout carries the chosen output alone; stderr the policy used, the table (unless it is the output) and a summary.
 */
export function runEvaluate(options: EvaluateCommandOptions, write: (text: string) => void, warn: (text: string) => void): number {
  if (options.file.length === 0) {
    warn('sandbox-admission: evaluate needs at least one -f <file|directory|-> (see --help)\n');
    return 2;
  }
  const policy = loadCliPolicy(options.policy, options.webhookNamespace, warn);
  if (!policy) return 2;
  warn(
    `sandbox-admission: policy ${options.policy} (SandboxPolicy "${policy.name}")${options.examplePolicy ? ', the example policy: pass --policy for your own' : ''}\n`,
  );

  const { inputs, errors } = readManifestInputs(options.file, {
    recursive: options.recursive,
    ...(options.readStdin ? { readStdin: options.readStdin } : {}),
  });
  for (const e of errors) warn(`sandbox-admission: ${e}\n`);
  const documents: ManifestDocument[] = inputs.flatMap((input) => parseManifests(input.text, input.file));
  const evaluations = evaluateManifests(documents, {
    policy,
    defaultNamespace: options.namespace,
    namespaceLabels: collectNamespaceLabels(documents, parseNamespaceLabels(options.namespaceLabels)),
  });

  const table = evaluations.length > 0 ? formatEvaluationTable(evaluations) : '';
  switch (options.output) {
    case 'table':
      write(table);
      break;
    case 'json':
      write(`${JSON.stringify(evaluations, null, 2)}\n`);
      break;
    case 'yaml':
      write(evaluations.map(toYaml).join('---\n'));
      break;
    case 'manifests':
      write(formatMutatedManifests(documents, evaluations));
      break;
  }
  if (options.output !== 'table') warn(table);
  if (evaluations.length === 0 && errors.length === 0) warn('sandbox-admission: the input holds no Kubernetes objects\n');
  warn(`${formatEvaluationSummary(evaluations)}\n`);

  const count = (r: EvaluationResult) => evaluations.filter((e) => e.result === r).length;
  if (errors.length > 0 || evaluations.length === 0 || count('error') > 0) return 2;
  if (count('denied') > 0) return 1;
  return count('warned') > 0 ? options.warnExitCode : 0;
}

/** A policy file for a CLI command, or undefined after printing every problem with its position. */
export function loadCliPolicy(path: string, webhookNamespace: string, warn: (text: string) => void): Policy | undefined {
  const loaded = loadPolicyFile(path, webhookNamespace);
  if (loaded.ok) return loaded.value.policy;
  for (const e of loaded.error) warn(`${path}: ${formatCodedError(e)}\n`);
  return undefined;
}

const TABLE_HEADERS = ['RESULT', 'OBJECT', 'NAMESPACE', 'RULE', 'RUNTIME', 'REASON'] as const;

/** One line per object: what would happen and why (the rule, "not governed", "exempt", what was skipped). */
export function formatEvaluationTable(evaluations: readonly Evaluation[]): string {
  return formatTable(
    TABLE_HEADERS,
    evaluations.map((e) => [
      e.result,
      e.file !== undefined && (e.result === 'error' || e.object.startsWith('document ')) ? `${e.file}: ${e.object}` : e.object,
      e.namespace || '-',
      e.rule ?? '-',
      e.runtimeClassName ?? '-',
      e.reason,
    ]),
  );
}

const SUMMARY_ORDER: readonly EvaluationResult[] = ['patched', 'allowed', 'denied', 'warned', 'skipped', 'error'];

export function formatEvaluationSummary(evaluations: readonly Evaluation[]): string {
  const counts = SUMMARY_ORDER.map((r) => `${evaluations.filter((e) => e.result === r).length} ${r === 'error' ? 'errors' : r}`);
  return `${evaluations.length} object${evaluations.length === 1 ? '' : 's'}: ${counts.join(', ')}`;
}

function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0, aliasDuplicateObjects: false });
}

/**
 * Every input object as a Kubernetes YAML stream for `kubectl apply -f -`: pods and templates as the webhook
 * would leave their pods (denied ones unchanged), everything else as it came. Unreadable documents are left out.
 */
function formatMutatedManifests(documents: readonly ManifestDocument[], evaluations: readonly Evaluation[]): string {
  const objects = documents.flatMap((doc, i) => {
    const evaluation = evaluations[i]!;
    if (doc.error || evaluation.result === 'error') return [];
    return [evaluation.result === 'patched' ? evaluation.mutated : doc.value];
  });
  return objects.map(toYaml).join('---\n');
}
