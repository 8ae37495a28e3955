// bin/sandbox-admission.js picks what to run: the sources in a clone, even beside a dist/ that an earlier
// `npm run build` (or a benchmark run) left behind and that may be stale; the bundle only where there are no sources.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { makeTempDir } from '../../helpers/temp-dir.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

function packageWith(parts: { src: boolean; dist: boolean }): string {
  const root = makeTempDir('bin-entry-');
  mkdirSync(join(root, 'bin'));
  copyFileSync(join(REPO, 'bin', 'sandbox-admission.js'), join(root, 'bin', 'sandbox-admission.js'));
  copyFileSync(join(REPO, 'package.json'), join(root, 'package.json'));
  const entry = (file: string, said: string) => {
    mkdirSync(join(root, file, '..'), { recursive: true });
    writeFileSync(join(root, file), `export function runCli() { process.stdout.write(${JSON.stringify(said)}); }\n`);
  };
  if (parts.src) entry('src/cli/main.ts', 'sources');
  if (parts.dist) entry('dist/cli/main.js', 'bundle');
  return join(root, 'bin', 'sandbox-admission.js');
}

const run = (bin: string) => execFileSync(process.execPath, [bin], { encoding: 'utf8' });

describe('bin/sandbox-admission.js', () => {
  it('runs the sources in a clone, even with a dist/ beside them', () => {
    assert.equal(run(packageWith({ src: true, dist: true })), 'sources');
    assert.equal(run(packageWith({ src: true, dist: false })), 'sources');
  });

  it('runs the bundle where the sources are not shipped', () => {
    assert.equal(run(packageWith({ src: false, dist: true })), 'bundle');
  });
});
