// promtool, built from its Go module by build-promtool.sh when the version-keyed cache lacks it.
import { fileURLToPath } from 'node:url';
import { isExecutable, resolveBuilt, type BuildScript } from './binaries.ts';

const PROMTOOL: BuildScript<'promtool'> = {
  script: fileURLToPath(new URL('./build-promtool.sh', import.meta.url)),
  names: ['promtool'],
  present: (p) => isExecutable(p.promtool),
  what: 'promtool',
  // Cold: a few minutes of compiling on 2 cores (every service-discovery SDK Prometheus links in).
  buildTimeoutMs: 30 * 60 * 1000,
};

/** promtool's path, or a skip reason (only off CI, only when Go is missing and nothing is cached). */
export function resolvePromtool(): { promtool: string; skip?: undefined } | { promtool?: undefined; skip: string } {
  const r = resolveBuilt(PROMTOOL);
  return r.skip !== undefined ? { skip: r.skip } : { promtool: r.paths.promtool };
}
