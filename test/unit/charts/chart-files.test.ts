// charts/sandbox-admission/files/ and crds/ hold copies of what manifests/ generates or ships (a chart cannot read
// outside its directory): byte for byte the same, so `helm install` and `kubectl apply -k` install the same CRD,
// policy and generated admission policies. The monitoring component's files too: the chart renders them when
// monitoring.enabled is set.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parse } from 'yaml';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const CHART = join(REPO, 'charts/sandbox-admission');
const COPIES: Record<string, string> = {
  'crds/sandboxpolicy-crd.yaml': 'manifests/base/crd.yaml',
  'files/policy.yaml': 'manifests/base/policy.yaml',
  'files/validating-admission-policy.yaml': 'manifests/admission-policy/validating-admission-policy.yaml',
  'files/validating-admission-policy-after-map.yaml': 'manifests/overlays/native/validating-admission-policy.yaml',
  'files/mutating-admission-policy.yaml': 'manifests/overlays/native/mutating-admission-policy.yaml',
};

/** The resources and generated ConfigMaps' files of a kustomize component, as chart file -> source. */
function componentCopies(component: string, into: string): Record<string, string> {
  const dir = join(REPO, 'manifests/components', component);
  const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as {
    resources?: string[];
    configMapGenerator?: Array<{ files?: string[] }>;
  };
  const files = [...(kustomization.resources ?? []), ...(kustomization.configMapGenerator ?? []).flatMap((g) => g.files ?? [])];
  return Object.fromEntries(files.map((f) => [`${into}/${f}`, `manifests/components/${component}/${f}`]));
}

describe('charts/sandbox-admission/files and crds', () => {
  const copies = { ...COPIES, ...componentCopies('monitoring', 'files/monitoring') };
  for (const [file, source] of Object.entries(copies)) {
    it(`${file} is ${source}`, () => {
      assert.ok(existsSync(join(CHART, file)), 'missing; run: bash charts/sandbox-admission/sync-files.sh');
      assert.equal(
        readFileSync(join(CHART, file), 'utf8'),
        readFileSync(join(REPO, source), 'utf8'),
        'stale; run: bash charts/sandbox-admission/sync-files.sh',
      );
    });
  }

  it('holds nothing else', () => {
    const present = ['files', 'crds']
      .flatMap((d) => readdirSync(join(CHART, d), { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(CHART.length + 1))
      .sort();
    assert.deepEqual(present, Object.keys(copies).sort());
  });

  it('Chart.yaml: version and appVersion are package.json version (the release tags all three alike)', () => {
    const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as { version: string; appVersion: string };
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    assert.equal(chart.version, pkg.version);
    assert.equal(chart.appVersion, pkg.version);
  });
});
