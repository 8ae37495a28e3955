// Where the suite's release and packaging tools are (helm, actionlint and its shellcheck, the oldest supported kubectl), building them
// with build-tools.sh when the version-keyed cache lacks them. Same policy as binaries.ts: a failure under CI throws;
// off CI without Go (and nothing cached) the tests that need them are skipped, loudly.
import { fileURLToPath } from 'node:url';
import { type BuildScript, isExecutable, resolveBuilt } from './binaries.ts';

const NAMES = ['helm', 'actionlint', 'kubectl-oldest', 'shellcheck'] as const;
export type ToolName = (typeof NAMES)[number];

/**
 * The tools, or a skip reason; only `needed` must be there (a test of the chart does not wait for kubectl to build),
 * but a missing one builds them all. Use as: `const tools = resolveTools(['helm']); describe('x', { skip: tools.skip ?? false }, ...)`.
 */
export function resolveTools(
  needed: readonly ToolName[],
): { paths: Record<ToolName, string>; skip?: undefined } | { paths?: undefined; skip: string } {
  const script: BuildScript<ToolName> = {
    script: fileURLToPath(new URL('./build-tools.sh', import.meta.url)),
    names: NAMES,
    present: (p) => needed.every((n) => isExecutable(p[n])),
    what: needed.join('/'),
    // Cold: a few minutes each on 2 cores; far more on a shared machine.
    buildTimeoutMs: 60 * 60 * 1000,
  };
  return resolveBuilt(script);
}
