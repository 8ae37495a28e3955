import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

/** The folder of a source file under src/ ("main", "match", ...); a file at the top is its own room. */
function roomOf(file: string): string {
  const rel = relative(SRC, file);
  const first = rel.split('/')[0]!;
  return rel.includes('/') ? first : rel;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** room -> rooms it imports from (relative imports only). */
export function buildFolderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of sourceFiles(SRC)) {
    const from = roomOf(file);
    const edges = graph.get(from) ?? new Set<string>();
    graph.set(from, edges);
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
      const to = roomOf(resolve(dirname(file), spec!));
      if (to !== from) edges.add(to);
    }
  }
  return graph;
}

function findCycle(graph: Map<string, Set<string>>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined;
    if (state.get(node) === 'open') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

test('the folders of src/ import each other without a cycle', () => {
  assert.deepEqual(findCycle(buildFolderGraph()), undefined);
});

test('the cycle finder finds a cycle', () => {
  const graph = new Map([
    ['policy', new Set(['match'])],
    ['match', new Set(['decision'])],
    ['decision', new Set(['policy'])],
  ]);
  assert.deepEqual(findCycle(graph), ['policy', 'match', 'decision', 'policy']);
});

test('matching depends on nothing but k8s types: policy and decision depend on it', () => {
  const graph = buildFolderGraph();
  assert.deepEqual([...(graph.get('match') ?? [])].sort(), ['k8s']);
  assert.ok(graph.get('policy')?.has('match'));
  assert.ok(graph.get('decision')?.has('match'));
});

test('src/ never reaches into test/: what it ships stands on its own', () => {
  const offenders = sourceFiles(SRC).filter((file) => /['"/](?:\.\.\/)+test\/|test\/fixtures/.test(readFileSync(file, 'utf8')));
  assert.deepEqual(
    offenders.map((f) => relative(SRC, f)),
    [],
  );
});
