/**
 * The one catalogue of error codes. Every error a user can see carries one of these codes and a message that says
 * what to change; `status` lists the HTTP statuses a reply with the code can have (none: not an HTTP reply). The
 * README's table of error codes lists exactly these (test/unit/errors.test.ts holds them together).
 */
export const ERROR_CATALOGUE = {
  POLICY_YAML: { meaning: 'the policy file is not valid YAML', status: [] },
  POLICY_NOT_ONE_DOCUMENT: { meaning: 'the policy file must hold exactly one YAML document', status: [] },
  POLICY_SCHEMA: { meaning: 'a policy field has the wrong shape or value', status: [] },
  POLICY_REFERENCE: { meaning: 'a policy field names something the policy does not define', status: [] },
  POLICY_CONFLICT: { meaning: 'two policy fields contradict each other', status: [] },
  POLICY_READ: { meaning: 'the policy file could not be read', status: [] },
  REVIEW_NOT_OBJECT: { meaning: 'the request body is not a JSON object', status: [400] },
  REVIEW_API_VERSION: { meaning: 'the AdmissionReview apiVersion is not admission.k8s.io/v1 or v1beta1', status: [400] },
  REVIEW_KIND: { meaning: 'the body is not an AdmissionReview', status: [400] },
  REVIEW_NO_REQUEST: { meaning: 'the AdmissionReview carries no request', status: [400] },
  REVIEW_NO_UID: { meaning: 'the AdmissionReview request has no uid', status: [400] },
  REVIEW_BAD_FIELD: { meaning: 'an AdmissionReview request field has the wrong type, or a CREATE carries no object', status: [400, 422] },
  MALFORMED_JSON: { meaning: 'the request body is not valid JSON', status: [400] },
  EMPTY_BODY: { meaning: 'the request body is empty', status: [400] },
  INVALID_CONTENT_LENGTH: { meaning: 'the request body size does not match Content-Length', status: [400] },
  BAD_REQUEST: { meaning: 'another client error found by the HTTP server (a bad URL, an aborted body)', status: [400] },
  UNSUPPORTED_MEDIA_TYPE: { meaning: 'the Content-Type is not application/json', status: [415] },
  BODY_TOO_LARGE: { meaning: 'the request body is larger than the body limit', status: [413] },
  NOT_FOUND: { meaning: 'no such route', status: [404] },
  INTERNAL_ERROR: { meaning: 'an unexpected failure; the log has the cause', status: [500] },
  CLIENT_UNAUTHORIZED: {
    meaning:
      'client certificates are required (--client-ca-file) and the caller presented none, an unverified one (401) or one not among --client-allowed-names (403)',
    status: [401, 403],
  },
  OVERLOADED: {
    meaning: 'refused unread: too much admission work in flight (429) or the process under pressure (503); retry after Retry-After',
    status: [429, 503],
  },
  MANIFEST_YAML: { meaning: 'a manifest document is not valid YAML', status: [] },
  POLICY_TEST: { meaning: 'a policy test file is not valid YAML or does not match the test file schema', status: [] },
} as const satisfies Record<string, { meaning: string; status: readonly number[] }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

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
