import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The example policy, the one `npm start` serves and the manifests' ConfigMap is generated from. */
export const EXAMPLE_POLICY_PATH = fileURLToPath(new URL('../../manifests/base/policy.yaml', import.meta.url));
/** Where `npm start` keeps its development CA and serving certificate. */
export const DEV_CERTS_DIR = fileURLToPath(new URL('../../certs', import.meta.url));
/** An AdmissionReview of an `app=untrusted` pod, for trying the webhook by hand. */
export const EXAMPLE_REVIEW_PATH = fileURLToPath(new URL('../../examples/untrusted-pod-review.json', import.meta.url));

/** package.json beside src/ and dist/ alike (the container image keeps it in /app). */
export function readPackageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}
