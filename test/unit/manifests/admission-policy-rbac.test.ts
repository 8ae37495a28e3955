// The RBAC that lets the leader write the generated admission policies names every object the generators can
// produce, and nothing else: a name missing here would be refused in the cluster, an extra one is a wider grant.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { buildMutatingAdmissionPolicies } from '../../../src/admission-policies/mutating-admission-policy.ts';
import { buildValidatingAdmissionPolicies } from '../../../src/admission-policies/validating-admission-policy.ts';
import { parsePolicyDocument } from '../../../src/policy/parse.ts';

const read = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');
type Rule = { resources: string[]; resourceNames?: string[]; verbs: string[] };
const rulesOf = (path: string): Rule[] =>
  parseAllDocuments(read(path))
    .map((d) => d.toJS() as { kind: string; rules?: Rule[] })
    .filter((d) => d.kind === 'ClusterRole')
    .flatMap((d) => d.rules ?? []);

// Namespace labels on: every mode is reachable, so every name the generator has is rendered.
const EVERY_MODE = parsePolicyDocument(
  `apiVersion: sandbox-admission.io/v1alpha1
kind: SandboxPolicy
metadata: {name: all}
spec:
  namespaceLabels: {enabled: true}
  rules:
    - {name: a, match: {podSelector: {matchLabels: {app: a}}}, action: sandbox, runtime: gvisor}
`,
  { webhookNamespace: 'sandbox-admission' },
);

test('the validating grant names exactly the objects render vap can produce, for every verb but list', () => {
  assert.ok(EVERY_MODE.ok);
  const names = [
    ...new Set(
      buildValidatingAdmissionPolicies(EVERY_MODE.value.document, { webhookNamespace: 'sandbox-admission' }).map((o) => o.metadata!.name!),
    ),
  ].sort();
  assert.equal(names.length, 7);
  const rules = rulesOf('manifests/components/manage-validating-admission-policies/rbac.yaml');
  const named = rules.find((r) => r.resourceNames)!;
  assert.deepEqual([...named.resourceNames!].sort(), names);
  assert.deepEqual(named.verbs, ['create', 'patch', 'update', 'delete']);
  const unnamed = rules.filter((r) => !r.resourceNames && r.resources.some((x) => x.startsWith('validatingadmission')));
  assert.deepEqual(
    unnamed.flatMap((r) => r.verbs),
    ['list'],
  );
});

test('the mutating grant names exactly the object render map produces', () => {
  assert.ok(EVERY_MODE.ok);
  const names = [
    ...new Set(
      buildMutatingAdmissionPolicies(EVERY_MODE.value.document, { webhookNamespace: 'sandbox-admission' }).map((o) => o.metadata!.name!),
    ),
  ];
  const rules = rulesOf('manifests/components/manage-mutating-admission-policies/rbac.yaml');
  assert.deepEqual(rules.find((r) => r.resourceNames)!.resourceNames, names);
  assert.deepEqual(
    rules.filter((r) => !r.resourceNames).flatMap((r) => r.verbs),
    ['list'],
  );
});

test('each flavour that ships generated policies manages them; the native flavour both kinds; base none', () => {
  const uses = (path: string, component: string) => read(path).includes(`components/${component}`);
  for (const path of [
    'manifests/kustomization.yaml',
    'manifests/overlays/cert-manager/kustomization.yaml',
    'manifests/overlays/gke-sandbox/kustomization.yaml',
    'manifests/overlays/kata/kustomization.yaml',
    'manifests/overlays/native/kustomization.yaml',
  ])
    assert.ok(uses(path, 'manage-validating-admission-policies'), path);
  assert.ok(uses('manifests/overlays/native/kustomization.yaml', 'manage-mutating-admission-policies'));
  assert.ok(!read('manifests/base/kustomization.yaml').includes('manage-'));
  // cert-manager's args replace the base's (and the component's): it repeats the flag.
  assert.match(read('manifests/overlays/cert-manager/deployment.yaml'), /--manage-admission-policies=validating/);
});
