import { isMap, isScalar, isSeq, type LineCounter, type Node, type ParsedNode } from 'yaml';

export interface SourcePosition {
  line: number;
  column: number;
}

/** `spec.rules[0]["a/b"].match` -> ['spec', 'rules', '0', 'a/b', 'match']: the inverse of parse.ts toFieldPath. */
export function parseFieldPath(path: string): string[] | undefined {
  const tokens: string[] = [];
  const re = /(?:^|\.)([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/gy;
  for (let match = re.exec(path); match !== null; match = re.exec(path)) {
    tokens.push(match[1] ?? match[2] ?? (JSON.parse(match[3]!) as string));
    if (re.lastIndex === path.length) return tokens;
  }
  return undefined;
}

/**
 * Where a field path points in the YAML source: the key of the deepest field that exists on the way (a missing
 * field points at its parent, an unknown key at itself), 1-based.
 */
export function findSourcePosition(
  root: ParsedNode | null,
  tokens: readonly string[],
  lineCounter: LineCounter,
): SourcePosition | undefined {
  let node: Node | null = root;
  let offset = root?.range?.[0];
  for (const token of tokens) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === token);
      if (!pair) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = (pair.value as Node | null) ?? null;
    } else if (isSeq(node)) {
      const item = node.items[Number(token)] as Node | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      break;
    }
  }
  if (offset === undefined) return undefined;
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}
