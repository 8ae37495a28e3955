import { parseAllDocuments } from 'yaml';
import type { CodedError } from '../../errors.ts';
import { ok, type Result } from '../../util/result.ts';
import { parsePolicy, type ParseOptions } from '../parse.ts';
import type { Policy, PolicyDocument } from '../types.ts';

export interface ParsedPolicyDocument {
  /** The document as written, after the same schema and semantic checks the webhook applies. */
  document: PolicyDocument;
  /** The compiled policy the webhook would serve from the same text. */
  policy: Policy;
}

/**
 * Policy text -> the validated document and its compiled policy. Generators need the document (the match
 * criteria as written), and the compiled policy is the proof that the webhook accepts exactly this text.
 */
export function parsePolicyDocument(text: string, options: ParseOptions): Result<ParsedPolicyDocument, CodedError[]> {
  const parsed = parsePolicy(text, options);
  if (!parsed.ok) return parsed;
  // parsePolicy accepted the text, so it holds exactly one non-empty document without errors.
  const doc = parseAllDocuments(text, { uniqueKeys: true })
    .filter((d) => d.contents !== null || d.errors.length > 0)[0]!;
  return ok({ document: doc.toJS({ maxAliasCount: 100 }) as PolicyDocument, policy: parsed.value });
}
