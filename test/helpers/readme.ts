import assert from 'node:assert/strict';

/** The backticked names in the first column of the table under `heading`. */
export function tableNames(markdown: string, heading: string): string[] {
  const start = markdown.indexOf(`\n${heading}\n`);
  assert.notEqual(start, -1, `README has no "${heading}"`);
  const rows = markdown.slice(start + heading.length + 2).split('\n');
  const table = rows.slice(rows.findIndex((l) => l.startsWith('|')));
  const body = table
    .slice(
      0,
      table.findIndex((l) => !l.startsWith('|')),
    )
    .slice(2);
  return body.flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]!));
}
