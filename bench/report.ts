import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism, release, totalmem } from 'node:os';

/** Markdown tables, so the summary reads in a terminal and pastes into bench/RESULTS.md as it is. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>, align: readonly ('l' | 'r')[] = []): string {
  // A `|` inside a cell (a regular expression's name in a profile) would end the cell.
  const line = (cells: readonly string[]): string => `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
  const rule = header.map((_, i) => ((align[i] ?? 'l') === 'r' ? '---:' : '---'));
  return [line(header), line(rule), ...rows.map(line)].join('\n');
}

/** 3 significant figures, thousands separated: 1,234,000 / 12.3 / 0.456. */
export function num(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (Math.abs(value) >= 10 ** digits) return Math.round(value).toLocaleString('en-US');
  return Number(value.toPrecision(digits)).toLocaleString('en-US', { maximumSignificantDigits: digits });
}

/** A duration in ns shown in the unit that reads best. */
export function duration(ns: number): string {
  if (ns < 1_000) return `${num(ns)} ns`;
  if (ns < 1_000_000) return `${num(ns / 1_000)} µs`;
  if (ns < 1_000_000_000) return `${num(ns / 1_000_000)} ms`;
  return `${num(ns / 1_000_000_000)} s`;
}

export interface Machine {
  date: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  kernel: string;
}

export function describeMachine(): Machine {
  let cpuModel = 'unknown';
  try {
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpuModel;
  } catch {
    // Not Linux: the model stays unknown.
  }
  return {
    date: new Date().toISOString(),
    cpus: availableParallelism(),
    cpuModel,
    memoryGiB: totalmem() / 1024 ** 3,
    node: process.version,
    kernel: release(),
  };
}

/** p-th percentile (0-100) of unsorted numbers, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Replace the section under `heading` (a `## ` line) in bench/RESULTS.md with `section`, or append it. */
export function writeResultsSection(heading: string, section: string): void {
  const resultsPath = join(import.meta.dirname, 'RESULTS.md');
  const results = readFileSync(resultsPath, 'utf8');
  // The section's own heading at the start of a line, not a mention of it.
  const found = results.indexOf(`\n${heading}\n`);
  const start = found === -1 ? -1 : found + 1;
  const next = start === -1 ? -1 : results.indexOf('\n## ', start + 1);
  const updated =
    start === -1
      ? `${results.trimEnd()}\n\n${section}`
      : `${results.slice(0, start)}${section}${next === -1 ? '' : results.slice(next + 1)}`;
  writeFileSync(resultsPath, updated);
}
