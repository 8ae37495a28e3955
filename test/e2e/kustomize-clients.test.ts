// Every flavour of manifests/ rendered by the oldest kubectl the README supports (built from its Go module,
// tools/kubectl-oldest, test/e2e/harness/build-tools.sh), object for object what the kubectl the suite runs renders.
// Older clients embed older kustomize: kubectl 1.32's (kustomize 5.5) crashed on the cert-manager overlay's
// multi-document delete patch, which is why every delete patch in manifests/ is a document of its own.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { resolveBinaries } from './harness/binaries.ts';
import { renderKustomization, type Manifest } from './harness/manifests.ts';
import { resolveTools } from './harness/tools.ts';

const bins = resolveBinaries();
const tools = resolveTools(['kubectl-oldest']);
const FLAVOURS = ['base', '.', 'overlays/cert-manager', 'overlays/gke-sandbox', 'overlays/kata', 'overlays/native'];
const id = (o: Manifest) => `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;

describe('manifests/ with the oldest supported kubectl', { skip: bins.skip ?? tools.skip ?? false }, () => {
  it('is the release the README names', () => {
    const r = spawnSync(tools.paths!['kubectl-oldest'], ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const v = JSON.parse(r.stdout) as { clientVersion: { gitVersion: string }; kustomizeVersion: string };
    process.stderr.write(`[kustomize-clients] kubectl ${v.clientVersion.gitVersion}, kustomize ${v.kustomizeVersion}\n`);
    assert.match(v.clientVersion.gitVersion, /^v1\.34\./);
  });

  for (const flavour of FLAVOURS) {
    it(`kubectl kustomize ${flavour === '.' ? 'manifests/' : `manifests/${flavour}`} renders what the current kubectl renders`, () => {
      const old = renderKustomization(tools.paths!['kubectl-oldest'], flavour);
      const current = renderKustomization(bins.binaries!.kubectl, flavour);
      assert.deepEqual(new Map(old.map((o) => [id(o), o])), new Map(current.map((o) => [id(o), o])));
    });
  }
});
