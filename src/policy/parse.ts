import type { ErrorObject, ValidateFunction } from 'ajv';
import { LineCounter, parseAllDocuments } from 'yaml';
import { escapePointerToken } from '../util/json-pointer.ts';
import type { CodedError } from '../errors.ts';
import { err, ok, type Result } from '../util/result.ts';
import { compilePolicy } from './compile.ts';
import { findNearestKey } from './did-you-mean.ts';
import { validate as generatedValidate } from './policy-validator.generated.ts';
import { checkPolicySemantics } from './semantics.ts';
import { findSourcePosition, parseFieldPath } from './source-position.ts';
import type { Policy, PolicyDocument } from './types.ts';

// Compiled ahead of time from policySchema (policy-validator-source.ts says why).
const validateDocument = generatedValidate as unknown as ValidateFunction;

export interface ParseOptions {
  /** The webhook's own namespace, always exempt so the webhook can never block its own pods. */
  webhookNamespace: string;
}

export interface ParsedPolicyDocument {
  /** The document as written, after the schema and semantic checks: what generators read match criteria from. */
  document: PolicyDocument;
  /** The compiled policy the webhook serves from the same text. */
  policy: Policy;
}

/** Untrusted YAML text -> a compiled policy, or every problem found, each with the path of the bad field. */
export function parsePolicy(text: string, options: ParseOptions): Result<Policy, CodedError[]> {
  const parsed = parsePolicyDocument(text, options);
  return parsed.ok ? ok(parsed.value.policy) : parsed;
}

/** Like parsePolicy, keeping the validated document too (render vap, the policy digest): one YAML parse for both. */
export function parsePolicyDocument(text: string, options: ParseOptions): Result<ParsedPolicyDocument, CodedError[]> {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true, lineCounter });
  if (!Array.isArray(documents)) {
    return err([{ code: 'POLICY_NOT_ONE_DOCUMENT', message: 'the policy file is empty' }]);
  }
  const nonEmpty = documents.filter((doc) => doc.contents !== null || doc.errors.length > 0);
  if (nonEmpty.length !== 1) {
    return err([
      {
        code: 'POLICY_NOT_ONE_DOCUMENT',
        message: `expected one SandboxPolicy document, found ${nonEmpty.length}`,
      },
    ]);
  }
  const doc = nonEmpty[0]!;
  if (doc.errors.length > 0) {
    return err(
      doc.errors.map((e) => ({
        code: 'POLICY_YAML' as const,
        path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : undefined,
        message: e.message.split('\n')[0] ?? e.message,
      })),
    );
  }
  let value: unknown;
  try {
    // toJS throws on what parsing let through: an alias with no anchor, an alias bomb past the count.
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (cause) {
    return err([{ code: 'POLICY_YAML', message: (cause as Error).message.split('\n')[0] ?? 'unreadable YAML' }]);
  }
  const parsed = parsePolicyObject(value, options);
  if (parsed.ok) return parsed;
  // Each problem also gets its line and column in the file, for editors and CI annotations.
  return err(
    parsed.error.map((e) => {
      const tokens = e.path === undefined ? undefined : parseFieldPath(e.path);
      const position = tokens && findSourcePosition(doc.contents, tokens, lineCounter);
      return position ? { ...e, line: position.line, column: position.column } : e;
    }),
  );
}

export function parsePolicyObject(value: unknown, options: ParseOptions): Result<ParsedPolicyDocument, CodedError[]> {
  if (!validateDocument(value)) {
    // A bad key reports twice: the key's own pattern failure (with propertyName set) and the propertyNames summary.
    const errors = (validateDocument.errors ?? []).filter((e) => e.propertyName === undefined);
    return err(dedupe(errors.map(describeSchemaError)));
  }
  const document = value as PolicyDocument;
  const problems = checkPolicySemantics(document);
  if (problems.length > 0) return err(problems);
  return ok({ document, policy: compilePolicy(document, options.webhookNamespace) });
}

/** `/spec/rules/0/match` -> `spec.rules[0].match`, the way kubectl explain spells paths. */
export function toFieldPath(instancePath: string): string {
  const parts = instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let path = '';
  for (const part of parts) {
    if (/^\d+$/.test(part)) path += `[${part}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(part)) path += path ? `.${part}` : part;
    else path += `[${JSON.stringify(part)}]`;
  }
  return path || '(document)';
}

/** One ajv error as a POLICY_SCHEMA error with a kubectl-style path (unknown keys with the nearest known one). */
export function describeSchemaError(e: ErrorObject): CodedError {
  const base = toFieldPath(e.instancePath);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const known = Object.keys((e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {});
      const nearest = findNearestKey(key, known);
      return {
        code: 'POLICY_SCHEMA',
        path: toFieldPath(`${e.instancePath}/${escapePointerToken(key)}`),
        message: nearest
          ? `unknown field; did you mean "${nearest}"?`
          : `unknown field (${known.length > 0 ? `known here: ${known.join(', ')}` : 'no fields are allowed here'})`,
      };
    }
    case 'required': {
      const path = toFieldPath(`${e.instancePath}/${escapePointerToken(String(params.missingProperty))}`);
      const message =
        path === 'spec.rules'
          ? 'required field is missing (the file may be cut short; a policy that governs nothing says so with `rules: []`)'
          : 'required field is missing';
      return { code: 'POLICY_SCHEMA', path, message };
    }
    case 'enum':
      return {
        code: 'POLICY_SCHEMA',
        path: base,
        message: `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'const':
      return { code: 'POLICY_SCHEMA', path: base, message: `must be ${JSON.stringify(params.allowedValue)}` };
    case 'propertyNames':
      return {
        code: 'POLICY_SCHEMA',
        path: toFieldPath(`${e.instancePath}/${escapePointerToken(String(params.propertyName))}`),
        message:
          'is not a valid key (a label key: an optional DNS prefix and "/", then letters, digits, "-", "_", "." up to 63 characters)',
      };
    case 'pattern':
      return { code: 'POLICY_SCHEMA', path: base, message: `has an invalid format (${describePattern(e)})` };
    default:
      return { code: 'POLICY_SCHEMA', path: base, message: e.message ?? 'is invalid' };
  }
}

function describePattern(e: ErrorObject): string {
  if (e.schemaPath.includes('runtimeClassName')) return 'a lowercase DNS subdomain such as "gvisor"';
  if (/^\/spec\/rules\/\d+\/(name|runtime)$/.test(e.instancePath)) return 'lowercase letters, digits and "-"';
  if (/\/allowedRuntimes\/\d+$/.test(e.instancePath)) return 'a profile name';
  return 'a Kubernetes label key or value';
}

function dedupe(errors: CodedError[]): CodedError[] {
  const seen = new Set<string>();
  // propertyNames failures also report the key's own pattern error; keep the clearer one.
  return errors.filter((e) => {
    const key = `${e.path}|${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
