import { join } from 'node:path';

/** Files the benchmarks read or run, resolved from this directory so any working directory works. */
export const REPO_ROOT = join(import.meta.dirname, '..');
/** src/cli/main.ts's runCli behind bench/parent-guard.ts, so the server cannot outlive the benchmark. */
export const WEBHOOK_MAIN = join(REPO_ROOT, 'bench', 'webhook-main.ts');
export const BASELINE_SERVER = join(REPO_ROOT, 'bench', 'baseline-server.ts');
export const EXAMPLE_POLICY_FILE = join(REPO_ROOT, 'manifests', 'base', 'policy.yaml');
export const UNTRUSTED_REVIEW_FILE = join(REPO_ROOT, 'examples', 'untrusted-pod-review.json');
export const WEBHOOK_CONFIGURATION_FILE = join(REPO_ROOT, 'manifests', 'base', 'mutating-webhook.yaml');
export const DEPLOYMENT_FILE = join(REPO_ROOT, 'manifests', 'base', 'deployment.yaml');

/** What the image runs (Dockerfile ENTRYPOINT): the bundled CLI, built by `npm run build` (tools/bundle.ts). */
export const WEBHOOK_DIST_MAIN = join(REPO_ROOT, 'dist', 'cli', 'main.js');
