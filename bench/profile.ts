import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from './paths.ts';

/**
 * Read the V8 CPU profile a server wrote with `--cpu-prof` and say where its time went: self time by area
 * (TLS and sockets, JSON, the webhook's own modules, each dependency, GC, idle) and the hottest functions.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** Self time by area, busiest first; `share` is of the non-idle time. */
  areas: Array<{ area: string; ms: number; share: number }>;
  functions: Array<{ name: string; where: string; area: string; ms: number; share: number }>;
}

export function findProfile(dir: string): string | undefined {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  return file ? join(dir, file) : undefined;
}

export function summarizeProfile(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // Each sample's time is the gap to the next one (V8's own convention for the last sample: no time).
  for (let i = 0; i < samples.length; i++) {
    const next = deltas[i + 1] ?? 0;
    selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + Math.max(0, next));
  }
  const areas = new Map<string, number>();
  const functions = new Map<string, { name: string; where: string; area: string; us: number }>();
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const area = areaOf(node);
    areas.set(area, (areas.get(area) ?? 0) + us);
    if (area !== 'idle') busyUs += us;
    const name = node.callFrame.functionName || '(anonymous)';
    const where = node.callFrame.url ? `${shorten(node.callFrame.url)}:${node.callFrame.lineNumber + 1}` : '';
    const key = `${name}@${where}`;
    const entry = functions.get(key) ?? { name, where, area, us: 0 };
    entry.us += us;
    functions.set(key, entry);
  }
  const share = (us: number): number => (busyUs > 0 ? (us / busyUs) * 100 : 0);
  return {
    file,
    totalMs: (profile.endTime - profile.startTime) / 1000,
    areas: [...areas].map(([area, us]) => ({ area, ms: us / 1000, share: area === 'idle' ? NaN : share(us) })).sort((a, b) => b.ms - a.ms),
    functions: [...functions.values()]
      .filter((f) => f.area !== 'idle')
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, area: f.area, ms: f.us / 1000, share: share(f.us) })),
  };
}

/** Which part of the process a frame belongs to. Native frames without a URL are named by V8. */
function areaOf(node: ProfileNode): string {
  const { functionName, url } = node.callFrame;
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(program)') return 'V8/native (program)';
  if (url === '') {
    // Native StreamBase writes on a TLS socket encrypt the record and send it, synchronously.
    if (/^write(Utf8String|Latin1String|AsciiString|Ucs2String|Buffer|v)$/.test(functionName)) return 'socket write (TLS encrypt + send)';
    if (functionName.startsWith('RegExp:')) return 'regular expressions';
    if (/^(JSON\.)?(parse|stringify)$/.test(functionName)) return 'JSON parse/stringify';
    return 'native builtins';
  }
  if (url.startsWith('node:internal/tls') || url.startsWith('node:tls') || url.startsWith('node:_tls') || url.includes('crypto'))
    return 'node: TLS/crypto';
  if (url.startsWith('node:internal/http') || url.startsWith('node:_http') || url.startsWith('node:http')) return 'node: HTTP';
  if (
    url.startsWith('node:internal/stream') ||
    url.startsWith('node:internal/streams') ||
    url.startsWith('node:stream') ||
    url.startsWith('node:net') ||
    url.startsWith('node:internal/net')
  )
    return 'node: streams/net';
  if (url.startsWith('node:internal/modules') || url.startsWith('node:internal/deps/amaro')) return 'node: module loading (start-up)';
  if (url.startsWith('node:')) return 'node: other';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `dep: ${pkg[1]}`;
  if (url.includes('/src/')) return `src: ${url.slice(url.indexOf('/src/') + 5).split('/')[0]}`;
  return 'other';
}

function shorten(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  return path.startsWith(REPO_ROOT) ? relative(REPO_ROOT, path) : path;
}
