// Every comment in manifests/ and charts/ that sends the reader to the README (`README, "Node setup"`,
// `README.md, "The webhook configuration"`, `README "Who may call it"`) names a section that exists: a Markdown
// heading, or a paragraph that opens with its name in bold (`**Who may call it.**`), as the README's run-in
// sections do. A reorder or rename of the README then fails here instead of leaving dead pointers behind.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const ROOTS = ['manifests', 'charts'];

function files(dir: string): string[] {
  return readdirSync(join(REPO, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ya?ml|tpl|txt)$/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

// The comment text of a YAML or template file (# lines and Go template comment blocks), line breaks kept.
function comments(text: string): string {
  const lines: string[] = [];
  for (const line of text.split('\n')) {
    const hash = line.match(/(?:^|\s)#\s?(.*)$/);
    if (hash) lines.push(hash[1]!);
  }
  for (const block of text.matchAll(/\{\{-?\s*\/\*([\s\S]*?)\*\/\s*-?\}\}/g)) lines.push(block[1]!);
  return lines.join('\n');
}

/** The README sections a comment points at, quoted after README / README.md (a name may wrap onto the next line). */
export function readmeReferences(text: string): string[] {
  return [...comments(text).matchAll(/README(?:\.md)?,?\s+"([^"]+)"/g)].map((m) => m[1]!.replace(/\s+/g, ' '));
}

export function readmeSections(markdown: string): Set<string> {
  const sections = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    if (fenced) continue;
    const heading = line.match(/^#{1,6}\s+(.+?)\s*$/);
    if (heading) sections.add(heading[1]!);
    const lead = line.match(/^\*\*(.+?)\*\*/);
    if (lead) sections.add(lead[1]!.replace(/[.:]$/, ''));
  }
  return sections;
}

describe('README references in manifests/ and charts/', () => {
  const sections = readmeSections(readFileSync(join(REPO, 'README.md'), 'utf8'));

  it('finds references, across wrapped lines too (the check is not vacuous)', () => {
    assert.deepEqual(readmeReferences('# see README, "The validating\n# backstop" for why\nkey: v # README.md, "Node setup"\n'), [
      'The validating backstop',
      'Node setup',
    ]);
    assert.ok(sections.has('Writing a policy'));
    assert.ok(!sections.has('No such section'));
  });

  for (const root of ROOTS) {
    it(`every README section named in ${root}/ exists`, () => {
      const missing: string[] = [];
      let found = 0;
      for (const file of files(root)) {
        for (const ref of readmeReferences(readFileSync(file, 'utf8'))) {
          found++;
          if (!sections.has(ref)) missing.push(`${file.slice(REPO.length)}: "${ref}"`);
        }
      }
      assert.ok(found > 0, `no README reference in ${root}/ at all`);
      assert.deepEqual(missing, []);
    });
  }
});
