import { Ajv2020 } from 'ajv/dist/2020.js';
import { LineCounter, parseDocument } from 'yaml';
import type { CodedError } from '../errors.ts';
import { describeSchemaError } from '../policy/parse.ts';
import { findSourcePosition, parseFieldPath } from '../policy/source-position.ts';
import { err, ok, type Result } from '../util/result.ts';
import type { Evaluation, EvaluationResult } from './evaluate.ts';

/** What a policy test file says (README, "Testing a policy"); paths are relative to the test file. */
export interface PolicyTestDocument {
  apiVersion: 'sandbox-admission.io/v1alpha1';
  kind: 'SandboxPolicyTest';
  metadata?: { name?: string };
  policy: string;
  resources: string[];
  defaultNamespace?: string;
  webhookNamespace?: string;
  /** Namespace labels, as --namespace-labels gives them, over those of Namespace objects in the resources. */
  namespaces?: Record<string, Record<string, string>>;
  results: PolicyTestCase[];
}

export interface PolicyTestCase {
  /** `Kind/name`, as evaluate prints it. */
  object: string;
  namespace?: string;
  result: EvaluationResult;
  rule?: string;
  /** The runtimeClassName the pod ends up with. */
  runtime?: string;
  /** A piece of the denial message or reason. */
  messageContains?: string;
}

const RESULTS: readonly EvaluationResult[] = ['patched', 'allowed', 'denied', 'warned', 'skipped'];

/** The test file's JSON Schema: validated with here, printed by `render schema --kind test`. */
export const policyTestSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'SandboxPolicyTest',
  description: 'sandbox-admission policy test cases (README, "Testing a policy")',
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind', 'policy', 'resources', 'results'],
  properties: {
    apiVersion: { const: 'sandbox-admission.io/v1alpha1' },
    kind: { const: 'SandboxPolicyTest' },
    metadata: { type: 'object', additionalProperties: true, properties: { name: { type: 'string' } } },
    policy: { type: 'string', minLength: 1 },
    resources: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
    defaultNamespace: { type: 'string', minLength: 1 },
    webhookNamespace: { type: 'string', minLength: 1 },
    namespaces: { type: 'object', additionalProperties: { type: 'object', additionalProperties: { type: 'string' } } },
    results: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['object', 'result'],
        properties: {
          object: { type: 'string', pattern: '^[^/]+/.+$' },
          namespace: { type: 'string', minLength: 1 },
          result: { enum: [...RESULTS] },
          rule: { type: 'string', minLength: 1 },
          runtime: { type: 'string', minLength: 1 },
          messageContains: { type: 'string', minLength: 1 },
        },
      },
    },
  },
} as const;

const validateTestDocument = new Ajv2020({ allErrors: true, strict: true, verbose: true }).compile(policyTestSchema);

/** A test file's text -> the document, or every problem with its path, line and column. */
export function parsePolicyTest(text: string): Result<PolicyTestDocument, CodedError[]> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, lineCounter });
  if (doc.errors.length > 0) {
    return err(
      doc.errors.map((e) => ({
        code: 'POLICY_TEST',
        ...(e.linePos ? { line: e.linePos[0].line, column: e.linePos[0].col } : {}),
        message: e.message.split('\n')[0] ?? e.message,
      })),
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (cause) {
    return err([{ code: 'POLICY_TEST', message: (cause as Error).message.split('\n')[0] ?? 'unreadable YAML' }]);
  }
  if (validateTestDocument(value)) return ok(value as unknown as PolicyTestDocument);
  const errors = (validateTestDocument.errors ?? []).map((e): CodedError => {
    const described = describeSchemaError(e);
    const tokens = described.path === undefined ? undefined : parseFieldPath(described.path);
    const position = tokens && findSourcePosition(doc.contents, tokens, lineCounter);
    return { ...described, code: 'POLICY_TEST', ...(position ? { line: position.line, column: position.column } : {}) };
  });
  return err(errors);
}

export interface CaseOutcome {
  testCase: PolicyTestCase;
  passed: boolean;
  /** What was found, or why it failed. */
  detail: string;
}

/** Each expected result against the evaluations of the test's resources. */
export function checkPolicyTestCases(cases: readonly PolicyTestCase[], evaluations: readonly Evaluation[]): CaseOutcome[] {
  return cases.map((testCase): CaseOutcome => {
    const found = evaluations.filter(
      (e) => e.object === testCase.object && (testCase.namespace === undefined || e.namespace === testCase.namespace),
    );
    if (found.length === 0) return { testCase, passed: false, detail: 'no such object in the resources' };
    if (found.length > 1)
      return {
        testCase,
        passed: false,
        detail: `${found.length} objects of that name (in ${found.map((e) => e.namespace || '-').join(', ')}); add namespace to the case`,
      };
    const got = found[0]!;
    const problems: string[] = [];
    if (got.result !== testCase.result) problems.push(`expected result ${testCase.result}, got ${got.result}`);
    if (testCase.rule !== undefined && got.rule !== testCase.rule)
      problems.push(`expected rule ${testCase.rule}, got ${got.rule ?? 'none'}`);
    if (testCase.runtime !== undefined && got.runtimeClassName !== testCase.runtime)
      problems.push(`expected runtime ${testCase.runtime}, got ${got.runtimeClassName ?? 'none'}`);
    if (testCase.messageContains !== undefined && !`${got.message ?? ''} ${got.reason}`.includes(testCase.messageContains)) {
      problems.push(`expected the message to contain ${JSON.stringify(testCase.messageContains)}`);
    }
    if (problems.length > 0) return { testCase, passed: false, detail: `${problems.join('; ')} (${got.reason})` };
    const runtime = got.runtimeClassName ? `, runtime ${got.runtimeClassName}` : '';
    return { testCase, passed: true, detail: `${got.result}${got.rule ? `, rule ${got.rule}` : ''}${runtime}` };
  });
}
