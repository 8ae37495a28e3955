import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { formatCodedError } from '../errors.ts';
import { parsePolicy } from '../policy/parse.ts';
import { evaluateManifests, type Evaluation } from './evaluate.ts';
import { parseManifests } from './manifest.ts';
import { parseNamespaceLabels } from '../main/namespace-labels.ts';

export interface EvaluateCommandOptions {
  file: string;
  policy: string;
  namespace: string;
  namespaceLabels: string[];
  output: 'yaml' | 'json';
  webhookNamespace: string;
}

/** Exit codes: 0 all admitted, 1 something would be rejected, 2 the input could not be read. */
export function runEvaluate(options: EvaluateCommandOptions, write: (text: string) => void, warn: (text: string) => void): number {
  const policyResult = parsePolicy(readText(options.policy), { webhookNamespace: options.webhookNamespace });
  if (!policyResult.ok) {
    for (const e of policyResult.error) warn(`${options.policy}: ${formatCodedError(e)}\n`);
    return 2;
  }
  const evaluations = evaluateManifests(parseManifests(readText(options.file)), {
    policy: policyResult.value,
    defaultNamespace: options.namespace,
    namespaceLabels: parseNamespaceLabels(options.namespaceLabels),
  });
  write(
    options.output === 'json'
      ? `${JSON.stringify(evaluations, null, 2)}\n`
      : evaluations.map((e) => stringify(e, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n'),
  );
  for (const e of evaluations) warn(`${summarize(e)}\n`);
  if (evaluations.some((e) => e.result === 'error')) return 2;
  return evaluations.some((e) => e.result === 'denied') ? 1 : 0;
}

function summarize(e: Evaluation): string {
  const where = e.namespace ? ` in ${e.namespace}` : '';
  const by = e.rule ? ` (${e.rule})` : '';
  const runtime = e.runtimeClassName ? ` -> ${e.runtimeClassName}` : '';
  return `${e.result.toUpperCase().padEnd(8)} ${e.object}${where}${by}${runtime}${e.message ? `: ${e.message}` : ''}`;
}

function readText(path: string): string {
  try {
    return path === '-' ? readFileSync(0, 'utf8') : readFileSync(path, 'utf8');
  } catch (cause) {
    throw new Error(`cannot read ${path}: ${(cause as Error).message}`);
  }
}
