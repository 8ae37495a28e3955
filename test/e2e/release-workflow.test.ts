// .github/workflows/ linted by the real actionlint (built from its Go module, test/e2e/harness/build-tools.sh), and
// the release workflow held to what a release must do: on a version tag, both architectures, an SBOM, the image
// and the chart pushed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { resolveTools } from './harness/tools.ts';

const tools = resolveTools(['actionlint', 'shellcheck']);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const WORKFLOWS = join(REPO, '.github/workflows');

type Step = { uses?: string; run?: string; with?: Record<string, unknown> };
type Workflow = { on: { push: { tags: string[] } }; jobs: Record<string, { steps: Step[]; needs?: string }> };

describe('.github/workflows', { skip: tools.skip ?? false }, () => {
  it('actionlint finds nothing in any workflow', () => {
    const files = readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f));
    assert.ok(files.includes('release.yml'));
    // shellcheck (Debian's, from the cache) on every run: script; -pyflakes=: no Python steps, whatever is on PATH.
    const r = spawnSync(
      tools.paths!.actionlint,
      ['-no-color', `-shellcheck=${tools.paths!.shellcheck}`, '-pyflakes=', ...files.map((f) => join(WORKFLOWS, f))],
      {
        encoding: 'utf8',
        cwd: REPO,
      },
    );
    assert.equal(r.status, 0, `actionlint:\n${r.stdout}${r.stderr}`);
  });

  it('actionlint is a real check: it refuses a workflow with a mistake', () => {
    // A step output of a step that does not exist.
    const broken = readFileSync(join(WORKFLOWS, 'release.yml'), 'utf8').replace(
      'steps.build.outputs.digest',
      'steps.nosuch.outputs.digest',
    );
    assert.match(broken, /steps\.nosuch\./);
    const r = spawnSync(tools.paths!.actionlint, ['-no-color', `-shellcheck=${tools.paths!.shellcheck}`, '-pyflakes=', '-'], {
      encoding: 'utf8',
      input: broken,
      cwd: REPO,
    });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /property "nosuch" is not defined/);
  });

  it('shellcheck runs on the run: scripts: an unquoted variable is reported', () => {
    const broken = readFileSync(join(WORKFLOWS, 'release.yml'), 'utf8').replace('>> "$GITHUB_OUTPUT"', '>> $GITHUB_OUTPUT');
    assert.match(broken, />> \$GITHUB_OUTPUT/);
    const r = spawnSync(tools.paths!.actionlint, ['-no-color', `-shellcheck=${tools.paths!.shellcheck}`, '-pyflakes=', '-'], {
      encoding: 'utf8',
      input: broken,
      cwd: REPO,
    });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /SC2086/);
  });

  it('release.yml: on a version tag, linux/amd64 and linux/arm64 images with an SBOM, then the chart as an OCI artifact', () => {
    const wf = parse(readFileSync(join(WORKFLOWS, 'release.yml'), 'utf8')) as Workflow;
    assert.deepEqual(wf.on.push.tags, ['v*.*.*']);
    const build = wf.jobs['image']!.steps.find((s) => s.uses?.startsWith('docker/build-push-action@'));
    assert.ok(build);
    assert.deepEqual(String(build.with?.['platforms']).split(','), ['linux/amd64', 'linux/arm64']);
    assert.equal(build.with?.['push'], true);
    assert.equal(build.with?.['sbom'], true);
    assert.equal(build.with?.['file'], 'Dockerfile');
    const chart = wf.jobs['chart']!;
    assert.equal(chart.needs, 'image');
    const script = chart.steps.map((s) => s.run ?? '').join('\n');
    assert.match(script, /helm package charts\/sandbox-admission/);
    assert.match(script, /helm push .* "oci:\/\//);
    // The chart's helm is the one the tests use: built from tools/helm.
    assert.match(script, /go build[\s\S]*helm\.sh\/helm\/v4\/cmd\/helm/);
  });
});
