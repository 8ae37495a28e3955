/**
 * One catalogue of error codes. Every error a user can see carries one of these codes and a message that says
 * what to change; the README's troubleshooting table lists them.
 */
export const ERROR_CODES = {
  POLICY_YAML: 'the policy file is not valid YAML',
  POLICY_NOT_ONE_DOCUMENT: 'the policy file must hold exactly one YAML document',
  POLICY_SCHEMA: 'a policy field has the wrong shape or value',
  POLICY_REFERENCE: 'a policy field names something the policy does not define',
  POLICY_CONFLICT: 'two policy fields contradict each other',
  POLICY_READ: 'the policy file could not be read',
  REVIEW_NOT_OBJECT: 'the request body is not a JSON object',
  REVIEW_API_VERSION: 'the AdmissionReview apiVersion is not admission.k8s.io/v1 or v1beta1',
  REVIEW_KIND: 'the body is not an AdmissionReview',
  REVIEW_NO_REQUEST: 'the AdmissionReview carries no request',
  REVIEW_NO_UID: 'the AdmissionReview request has no uid',
  REVIEW_BAD_FIELD: 'an AdmissionReview request field has the wrong type',
  MANIFEST_YAML: 'a manifest document is not valid YAML',
  POLICY_TEST: 'a policy test file is not valid YAML or does not match the test file schema',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface CodedError {
  code: ErrorCode;
  /** Where the problem is: a dotted field path (`spec.rules[0].runtime`) or a document position. */
  path?: string;
  /** 1-based position in the source file, when the error comes from one. */
  line?: number;
  column?: number;
  message: string;
}

export function formatCodedError(error: CodedError): string {
  const at = error.line === undefined ? '' : ` (line ${error.line}, column ${error.column ?? 1})`;
  return error.path ? `${error.code} at ${error.path}${at}: ${error.message}` : `${error.code}${at}: ${error.message}`;
}
