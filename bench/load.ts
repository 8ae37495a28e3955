import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createReadStream, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { createHistogram } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { createCertificateAuthority, createServingCertificate } from '../src/tls/certificates.ts';

/**
 * The load-test machinery: certificates in a temp dir, a server as a child process on a free loopback port
 * (killed whatever happens to the parent), a CA-verifying probe, autocannon over keep-alive TLS with
 * microsecond latency percentiles, the child's RSS sampled during the run, and the child's log read back.
 */

export const LOOPBACK = '127.0.0.1';

export interface Certificates {
  caPem: string;
  certFile: string;
  keyFile: string;
}

/** A throwaway CA and a serving certificate for 127.0.0.1 and localhost, written into `dir`. */
export function writeCertificates(dir: string): Certificates {
  const now = new Date();
  const ca = createCertificateAuthority({ commonName: 'sandbox-admission-bench-ca', validityDays: 1, now });
  const serving = createServingCertificate(ca, {
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ipAddresses: [LOOPBACK],
    validityDays: 1,
    now,
  });
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  writeFileSync(certFile, serving.certPem, { mode: 0o600 });
  writeFileSync(keyFile, serving.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'ca.crt'), ca.certPem);
  return { caPem: ca.certPem, certFile, keyFile };
}

// Every child still running when this process leaves is killed, however it leaves.
const liveChildren = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

export interface Memory {
  rssMiB: number;
  /** VmHWM: the peak RSS since the process started. */
  hwmMiB: number;
}

export interface ServerProcess {
  name: string;
  pid: number;
  port: number;
  logFile: string;
  /** Why the process ended early, if it did; undefined while it runs as it should. */
  exitProblem(): string | undefined;
  memory(): Memory | undefined;
  /** utime + stime of the server process (all its threads) from /proc/<pid>/stat, in seconds; NaN when unreadable. */
  cpuSeconds(): number;
  /** ms from spawn to the ready log line (polled every 10 ms), and the server's CPU seconds by then. */
  startup: { readyMs: number; cpuSeconds: number };
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null when killed by a signal). */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Start `node <args>` (or `options.executable <args>`) with stdout and stderr into `logFile`, and wait until a log
 * line with `readyMessage` names the port it listens on (servers are started with --port 0, so no port is ever
 * guessed or raced for). `options.readPort` reads the port from such a line when it is not JSON with a `port`.
 */
export async function startServer(
  name: string,
  args: readonly string[],
  logFile: string,
  readyMessage: string,
  options: {
    timeoutMs?: number;
    cpus?: string;
    env?: Record<string, string>;
    executable?: string;
    readPort?: (line: string) => number | undefined;
    /**
     * Have the kernel send this signal to the server when the benchmark dies (setpriv --pdeathsig), for a server
     * that cannot import bench/parent-guard.ts: a program other than Node (KILL unless given), or the compiled
     * webhook (TERM: its own graceful shutdown).
     */
    deathSignal?: 'TERM' | 'KILL';
  } = {},
): Promise<ServerProcess> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const fd = openSync(logFile, 'w');
  const env = { ...process.env, NODE_ENV: 'production', ...options.env };
  const executable = options.executable ?? process.execPath;
  // taskset and setpriv exec the server in place, so the child's pid is the server's own (for /proc/<pid>/stat and
  // signals).
  const deathSignal = options.deathSignal ?? (options.executable ? 'KILL' : undefined);
  const guarded = deathSignal ? ['setpriv', '--pdeathsig', deathSignal, '--', executable] : [executable];
  const argv = options.cpus ? ['taskset', '-c', options.cpus, ...guarded, ...args] : [...guarded, ...args];
  const [command, ...commandArgs] = argv as [string, ...string[]];
  const spawnedAt = performance.now();
  const child = spawn(command, commandArgs, { stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  liveChildren.add(child);
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let stopping = false;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      liveChildren.delete(child);
      resolve(code);
    });
  });
  const describeExit = (): string => `${name} exited (code ${exit?.code}, signal ${exit?.signal}); last log lines:\n${tail(logFile, 15)}`;
  const deadline = Date.now() + timeoutMs;
  let port: number | undefined;
  while (port === undefined) {
    if (exit) throw new Error(describeExit());
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not report "${readyMessage}" within ${timeoutMs} ms; last log lines:\n${tail(logFile, 15)}`);
    }
    port = findPort(logFile, readyMessage, options.readPort ?? readJsonPort);
    if (port === undefined) await sleep(10);
  }
  const readyMs = performance.now() - spawnedAt;
  const pid = child.pid!;
  return {
    name,
    pid,
    port,
    logFile,
    startup: { readyMs, cpuSeconds: readCpuSeconds(pid) },
    exitProblem: () => (exit && !stopping ? describeExit() : undefined),
    memory: () => readMemory(pid),
    cpuSeconds: () => readCpuSeconds(pid),
    stop: async (graceMs = 10_000) => {
      stopping = true;
      if (exit) return exit.code;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

function findPort(logFile: string, readyMessage: string, readPort: (line: string) => number | undefined): number | undefined {
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.includes(readyMessage)) continue;
    const port = readPort(line);
    if (port !== undefined) return port;
  }
  return undefined;
}

function readJsonPort(line: string): number | undefined {
  try {
    const port = (JSON.parse(line) as { port?: unknown }).port;
    if (typeof port === 'number' && port > 0) return port;
  } catch {
    // Not JSON (a stray stderr line): keep looking.
  }
  return undefined;
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** VmRSS and VmHWM from /proc (Linux); undefined when the process is gone or /proc is not there. */
export function readMemory(pid: number): Memory | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMiB: kib('VmRSS') / 1024, hwmMiB: kib('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ): 100 on every Linux build the benchmark runs on. */
const USER_HZ = 100;

/** utime + stime (fields 14 and 15 of /proc/<pid>/stat) in seconds: CPU the process used, whatever else ran. */
export function readCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return NaN;
  }
}

/** The 1-minute load average (/proc/loadavg), printed next to every figure: on a shared machine it explains them. */
export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'n/a';
  }
}

export interface ProbeAnswer {
  status: number;
  body: string;
  ms: number;
}

/** One POST over TLS that verifies the server certificate against the CA, as the API server does with caBundle. */
export function post(
  port: number,
  path: string,
  body: string,
  options: { ca: string; agent?: Agent; method?: 'GET' | 'POST' },
): Promise<ProbeAnswer> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(
      {
        host: LOOPBACK,
        port,
        path,
        method: options.method ?? 'POST',
        ca: options.ca,
        agent: options.agent ?? false,
        headers: options.method === 'GET' ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`probe of ${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

export interface HandshakeProbe {
  requests: number;
  /** Median ms of a bare TLS handshake (tls.connect to secureConnect, CA-verified, no session resumption). */
  handshakeMs: number;
  /** Median ms per POST when each one opens a new TLS connection. */
  newConnectionMs: number;
  /** Median ms per POST on one kept-alive connection. */
  keepAliveMs: number;
}

/** Sequential requests, one at a time: the price of a TLS handshake next to a request on a warm connection. */
export async function probeHandshake(port: number, body: string, ca: string, count: number): Promise<HandshakeProbe> {
  const handshakes: number[] = [];
  for (let i = 0; i < count; i++) handshakes.push(await handshake(port, ca));
  const fresh: number[] = [];
  for (let i = 0; i < count; i++) {
    // maxCachedSessions 0: no TLS session resumption, like a new API server connection after an idle timeout.
    const agent = new Agent({ keepAlive: false, maxCachedSessions: 0 });
    const answer = await post(port, '/mutate', body, { ca, agent });
    if (answer.status !== 200) throw new Error(`handshake probe got HTTP ${answer.status}`);
    fresh.push(answer.ms);
    agent.destroy();
  }
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const warm: number[] = [];
  try {
    await post(port, '/mutate', body, { ca, agent });
    for (let i = 0; i < count; i++) {
      const answer = await post(port, '/mutate', body, { ca, agent });
      if (answer.status !== 200) throw new Error(`keep-alive probe got HTTP ${answer.status}`);
      warm.push(answer.ms);
    }
  } finally {
    agent.destroy();
  }
  return { requests: count, handshakeMs: median(handshakes), newConnectionMs: median(fresh), keepAliveMs: median(warm) };
}

function handshake(port: number, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect({ host: LOOPBACK, port, ca, servername: 'localhost' }, () => {
      const ms = performance.now() - started;
      socket.end();
      resolve(ms);
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error('TLS handshake timed out')));
    socket.on('error', reject);
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

export interface LoadBody {
  kind: string;
  body: string;
}

export interface LoadResult {
  connections: number;
  seconds: number;
  /** Completed 2xx responses per second. */
  reqPerSec: number;
  /** Latency of 2xx responses, ms, measured per response with microsecond resolution. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  completed: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  /** RSS of the server sampled every 200 ms during the run. */
  rssBeforeMiB: number;
  rssPeakMiB: number;
  rssAfterMiB: number;
  throughputMiBPerSec: number;
  /** Server CPU (utime + stime) during the run divided by the answers completed, µs; independent of the client's share. */
  cpuUsPerRequest: number;
  /** /proc/loadavg (1, 5, 15 min) when the run ended. */
  loadAverage: string;
}

/**
 * autocannon against `https://127.0.0.1:<port><path>`: `connections` keep-alive TLS connections, each sending
 * the bodies in turn (one request in flight per connection, as the API server does), for `seconds`.
 */
export async function runLoad(
  server: ServerProcess,
  path: string,
  bodies: readonly LoadBody[],
  connections: number,
  seconds: number,
  /** Requests per second over all connections; absent: each connection sends as soon as it has its answer. */
  rate?: number,
): Promise<LoadResult> {
  const latencyUs = createHistogram({ lowest: 1, highest: 60_000_000, figures: 3 });
  const rssBefore = server.memory()?.rssMiB ?? NaN;
  const cpuBefore = server.cpuSeconds();
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    const m = server.memory();
    if (m && m.rssMiB > rssPeak) rssPeak = m.rssMiB;
  }, 200);
  try {
    const result = await new Promise<autocannon.Result>((resolve, reject) => {
      const instance = autocannon(
        {
          url: `https://${LOOPBACK}:${server.port}${path}`,
          connections,
          pipelining: 1,
          duration: seconds,
          ...(rate ? { overallRate: rate } : {}),
          timeout: 10,
          requests: bodies.map((b) => ({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body: b.body })),
        },
        (error: unknown, res: autocannon.Result) =>
          error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(res),
      );
      instance.on('response', (_client, statusCode, _bytes, responseTime) => {
        if (statusCode >= 200 && statusCode < 300) latencyUs.record(Math.max(1, Math.round(responseTime * 1000)));
      });
    });
    const cpuAfter = server.cpuSeconds();
    const after = server.memory();
    if (after && after.rssMiB > rssPeak) rssPeak = after.rssMiB;
    const ms = (p: number): number => latencyUs.percentile(p) / 1000;
    const statusCodes: Record<string, number> = {};
    for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stat.count ?? 0;
    return {
      connections,
      seconds: result.duration,
      reqPerSec: latencyUs.count / result.duration,
      p50: ms(50),
      p90: ms(90),
      p99: ms(99),
      max: latencyUs.max / 1000,
      completed: latencyUs.count,
      errors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      statusCodes,
      rssBeforeMiB: rssBefore,
      rssPeakMiB: rssPeak,
      rssAfterMiB: after?.rssMiB ?? NaN,
      throughputMiBPerSec: result.throughput.total / result.duration / 1048576,
      cpuUsPerRequest: ((cpuAfter - cpuBefore) * 1e6) / latencyUs.count,
      loadAverage: loadAverage(),
    };
  } finally {
    clearInterval(sampler);
  }
}

export interface LogSummary {
  lines: number;
  decisions: number;
  /** Lines at error or fatal level (pino labels), or that are not JSON at all (a crash trace). */
  problems: string[];
  /** Server-side durationMs of each decision, by pod name (the kind of request). */
  durationsByPod: Map<string, number[]>;
}

/** Read the webhook's JSON log from byte `start` to the current end. */
export async function readLog(logFile: string, start: number): Promise<{ summary: LogSummary; end: number }> {
  const end = statSync(logFile).size;
  const summary: LogSummary = { lines: 0, decisions: 0, problems: [], durationsByPod: new Map() };
  if (end <= start) return { summary, end };
  const lines = createInterface({ input: createReadStream(logFile, { start, end: end - 1 }), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line === '') continue;
    summary.lines++;
    let record: { level?: unknown; msg?: unknown; pod?: unknown; durationMs?: unknown };
    try {
      record = JSON.parse(line) as typeof record;
    } catch {
      if (summary.problems.length < 20) summary.problems.push(line);
      continue;
    }
    if (record.level === 'error' || record.level === 'fatal' || record.level === 50 || record.level === 60) {
      if (summary.problems.length < 20) summary.problems.push(line.slice(0, 500));
    }
    if (record.msg === 'admission decision') {
      summary.decisions++;
      if (typeof record.pod === 'string' && typeof record.durationMs === 'number') {
        const list = summary.durationsByPod.get(record.pod) ?? [];
        list.push(record.durationMs);
        summary.durationsByPod.set(record.pod, list);
      }
    }
  }
  return { summary, end };
}
