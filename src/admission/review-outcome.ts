import type { ErrorCode } from '../errors.ts';
import type { DecisionLabels } from '../observe/decision-counter.ts';

/**
 * What the review pipeline hands back to the HTTP layer. The server never looks inside an
 * AdmissionReview: it only relays `body` with `status`, and logs `log` as one line.
 */
export type ReviewOutcome =
  | {
      kind: 'reviewed';
      /** The AdmissionReview to send back (HTTP 200). */
      body: unknown;
      /** Fields for the single per-decision log line (uid, namespace, pod, rule, action, runtime...). */
      log: Record<string, unknown>;
      /** Labels for metrics: which path decided what. */
      metrics: DecisionLabels;
      /** The kinds of violation found (each once), for violations_total; empty when there were none. */
      violationKinds?: readonly string[];
    }
  | {
      kind: 'bad-request';
      /** 400 for a body that is not an AdmissionReview; 422 for a review we cannot act on. */
      status: 400 | 422;
      code: ErrorCode;
      message: string;
    };

export type ReviewEndpoint = 'mutate' | 'validate';

/**
 * The review function the server calls for each POST; `body` is already parsed JSON. It may be async because
 * a namespace the cache has not seen yet costs one API read before the (pure) decision.
 */
export type ReviewHandler = (endpoint: ReviewEndpoint, body: unknown) => ReviewOutcome | Promise<ReviewOutcome>;
