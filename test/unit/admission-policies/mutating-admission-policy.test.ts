import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { sep } from 'node:path';
import { describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { buildMutatingAdmissionPolicies, MAP_LIMITS } from '../../../src/admission-policies/mutating-admission-policy.ts';
import { buildValidatingAdmissionPolicies, type KubernetesObject } from '../../../src/admission-policies/validating-admission-policy.ts';
import { celValue } from '../../../src/admission-policies/cel.ts';
import { renderVapText, runRenderVap } from '../../../src/cli/render-vap-command.ts';
import { parsePolicyDocument } from '../../../src/policy/parse.ts';
import { POLICY_DIGEST_ANNOTATION, policyDigest } from '../../../src/policy/policy-digest.ts';

const REPO = new URL('../../../', import.meta.url);
const EXAMPLE_POLICY = readFileSync(new URL('manifests/base/policy.yaml', REPO), 'utf8');
/** Every generated MutatingAdmissionPolicy shipped in manifests/, with the policy it is generated from. */
const GENERATED: ReadonlyArray<{ policy: string; generated: string }> = [
  { policy: 'manifests/base/policy.yaml', generated: 'manifests/overlays/native/mutating-admission-policy.yaml' },
];
const head = 'apiVersion: sandbox-admission.io/v1alpha1\nkind: SandboxPolicy\nmetadata: {name: t}\n';

function documentOf(text: string) {
  const parsed = parsePolicyDocument(text, { webhookNamespace: 'sandbox-admission' });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.error));
  return parsed.value.document;
}
const build = (text: string) => buildMutatingAdmissionPolicies(documentOf(text), { webhookNamespace: 'sandbox-admission' });

interface MapSpec {
  failurePolicy: string;
  reinvocationPolicy: string;
  matchConstraints: { resourceRules: unknown[] } & Record<string, unknown>;
  matchConditions: Array<{ name: string; expression: string }>;
  variables: Array<{ name: string; expression: string }>;
  mutations: Array<{ patchType: string; jsonPatch: { expression: string } }>;
}
const mapSpec = (objects: KubernetesObject[]): MapSpec =>
  objects.find((o) => o.kind === 'MutatingAdmissionPolicy')!.spec as unknown as MapSpec;
const patchOf = (objects: KubernetesObject[]): string => mapSpec(objects).mutations[0]!.jsonPatch.expression;

describe('render map: the checked-in manifests', () => {
  for (const pair of GENERATED) {
    test(`${pair.generated} is what the generator makes of ${pair.policy}`, () => {
      const rendered = renderVapText(
        readFileSync(new URL(pair.policy, REPO), 'utf8'),
        { webhookNamespace: 'sandbox-admission', output: 'yaml' },
        'map',
      );
      assert.ok(rendered.ok);
      assert.ok(
        readFileSync(new URL(pair.generated, REPO), 'utf8') === rendered.text,
        `${pair.generated} is out of date with ${pair.policy} (or with the generator); regenerate it:\n  npx sandbox-admission render map --policy ${pair.policy} > ${pair.generated}`,
      );
    });
  }

  test('every mutating-admission-policy.yaml under manifests/ is in the list above and installed by its kustomization', () => {
    const files = (readdirSync(new URL('manifests/', REPO), { recursive: true }) as string[]).map(
      (f) => `manifests/${f.split(sep).join('/')}`,
    );
    assert.deepEqual(files.filter((f) => f.endsWith('/mutating-admission-policy.yaml')).sort(), GENERATED.map((p) => p.generated).sort());
    for (const pair of GENERATED) {
      const dir = pair.generated.slice(0, pair.generated.lastIndexOf('/'));
      const kustomization = parse(readFileSync(new URL(`${dir}/kustomization.yaml`, REPO), 'utf8')) as { resources?: string[] };
      assert.ok(kustomization.resources?.includes('mutating-admission-policy.yaml'), `${dir}/kustomization.yaml does not install it`);
    }
  });
});

describe('render map: shape', () => {
  const objects = build(EXAMPLE_POLICY);

  test('one MutatingAdmissionPolicy (v1, JSONPatch, IfNeeded, fail closed) and its binding', () => {
    assert.deepEqual(
      objects.map((o) => `${o.apiVersion} ${o.kind}/${o.metadata.name}`),
      [
        'admissionregistration.k8s.io/v1 MutatingAdmissionPolicy/sandbox-admission-sandbox',
        'admissionregistration.k8s.io/v1 MutatingAdmissionPolicyBinding/sandbox-admission-sandbox',
      ],
    );
    const spec = mapSpec(objects);
    assert.equal(spec.failurePolicy, 'Fail');
    assert.equal(spec.reinvocationPolicy, 'IfNeeded');
    assert.deepEqual(
      spec.mutations.map((m) => m.patchType),
      ['JSONPatch'],
    );
    assert.deepEqual(objects[1]!.spec, { policyName: 'sandbox-admission-sandbox' });
    assert.equal(objects[0]!.metadata.labels?.['app.kubernetes.io/component'], 'mutating-admission-policy');
  });

  test('the same match constraints (CREATE only), mirror-pod condition and governing-rule variables as the ValidatingAdmissionPolicies', () => {
    const vap = buildValidatingAdmissionPolicies(documentOf(EXAMPLE_POLICY), { webhookNamespace: 'sandbox-admission' })[0]!
      .spec as unknown as MapSpec;
    const spec = mapSpec(objects);
    // decide() mutates only a CREATE; the validating policies also judge the UPDATEs that change images or labels.
    const [vapRule] = vap.matchConstraints.resourceRules as Array<Record<string, unknown>>;
    assert.deepEqual(spec.matchConstraints, { ...vap.matchConstraints, resourceRules: [{ ...vapRule, operations: ['CREATE'] }] });
    assert.deepEqual(vapRule?.['operations'], ['CREATE', 'UPDATE']);
    assert.deepEqual(spec.matchConditions, vap.matchConditions.slice(0, 1));
    assert.deepEqual(
      vap.matchConditions.map((c) => c.name),
      ['not-a-mirror-pod-from-its-node', 'create-or-image-or-label-change'],
    );
    const shared = ['namespaceLabels', 'podLabels', 'matchedRule', 'ruleMode', 'labelMode', 'rule', 'mode', 'runtimeClassName'];
    for (const name of shared) {
      assert.equal(spec.variables.find((v) => v.name === name)?.expression, vap.variables.find((v) => v.name === name)?.expression, name);
    }
  });

  test('deterministic, and carries the digest of its policy (the same as the validating ones) and what it cannot know', () => {
    assert.deepEqual(build(EXAMPLE_POLICY), objects);
    const digest = objects[0]!.metadata.annotations?.[POLICY_DIGEST_ANNOTATION];
    assert.equal(digest, policyDigest(documentOf(EXAMPLE_POLICY)));
    const vap = buildValidatingAdmissionPolicies(documentOf(EXAMPLE_POLICY), { webhookNamespace: 'sandbox-admission' });
    assert.equal(vap[0]!.metadata.annotations?.[POLICY_DIGEST_ANNOTATION], digest);
    assert.equal(objects[0]!.metadata.annotations?.['sandbox-admission.io/limits'], MAP_LIMITS);
    assert.match(MAP_LIMITS, /RuntimeClass/);
    // A change of content changes the digest; comments and formatting do not.
    const edited = EXAMPLE_POLICY.replace('app: untrusted', 'app: other');
    assert.notEqual(build(edited)[0]!.metadata.annotations?.[POLICY_DIGEST_ANNOTATION], digest);
    assert.equal(build(`# a comment\n${EXAMPLE_POLICY}`)[0]!.metadata.annotations?.[POLICY_DIGEST_ANNOTATION], digest);
  });

  test('every operation is guarded by "not already there", and nothing is patched when the pod is not to be sandboxed', () => {
    const patch = patchOf(objects);
    assert.ok(patch.startsWith('!variables.sandbox ? [] :'), patch.slice(0, 60));
    // Affinity by index into every term (two equal terms are two terms), never `indexOf`.
    assert.match(patch, /nodeSelectorTerms\.transformList\(i, t, /);
    assert.doesNotMatch(patch, /indexOf/);
    assert.match(patch, /t\.matchExpressions\.exists\(e, e\.key == "sandbox\.gke\.io\/runtime"/);
    assert.match(patch, /!object\.spec\.tolerations\.exists\(e, /);
    assert.match(
      patch,
      /"sandbox-admission\.io\/rule" in object\.metadata\.annotations && object\.metadata\.annotations\["sandbox-admission\.io\/rule"\] == /,
    );
    assert.match(
      patch,
      /variables\.runtimeClassName == "" \? \[JSONPatch\{op: "add", path: "\/spec\/runtimeClassName", value: variables\.targetClass\}\] : \[\]/,
    );
    // Values are typed: the API server's type check refuses map literals of mixed value types.
    assert.match(patch, /value: Object\.spec\.tolerations\{key: "sandbox\.gke\.io\/runtime", operator: "Equal"/);
  });

  test("the profile is the rule's when the pod names no class, the class's own when it names an allowed one, none otherwise", () => {
    const text = `${head}spec:
  namespaceLabels: {enabled: false}
  rules:
    - {name: a, match: {namespaces: [x]}, action: sandbox, runtime: kata, allowedRuntimes: [kata]}
    - {name: b, match: {namespaces: [y]}, action: sandbox, runtime: gvisor}
    - {name: c, match: {namespaces: [z]}, action: require}
    - {name: d, match: {namespaces: [w]}, action: exempt}
`;
    const spec = mapSpec(build(text));
    const profile = spec.variables.find((v) => v.name === 'profile')!.expression;
    assert.equal(
      profile,
      [
        'variables.rule == "a" ? (variables.runtimeClassName == "" ? "kata" : variables.runtimeClassName in ["kata"] ? {"gvisor": "gvisor", "kata": "kata"}[variables.runtimeClassName] : "") :',
        'variables.rule == "b" ? (variables.runtimeClassName == "" ? "gvisor" : variables.runtimeClassName in ["gvisor", "kata"] ? {"gvisor": "gvisor", "kata": "kata"}[variables.runtimeClassName] : "") :',
        '""',
      ].join('\n'),
    );
    // Without namespace labels the annotation is the rule's name, with no namespace-label fallback.
    assert.doesNotMatch(patchOf(build(text)), /namespace-label/);
  });

  test('a toleration an earlier one of the profile covers is only added when that one is not', () => {
    const text = `${head}spec:
  profiles:
    kata:
      runtimeClassName: kata
      tolerations:
        - {key: k, operator: Exists}
        - {key: k, operator: Equal, value: v, effect: NoSchedule}
  rules:
    - {name: a, match: {namespaces: [x]}, action: sandbox, runtime: kata}
`;
    const patch = patchOf(build(text));
    // With no tolerations at all only the first is added (decide's planTolerations on an empty list).
    assert.match(patch, /path: "\/spec\/tolerations", value: \[Object\.spec\.tolerations\{key: "k", operator: "Exists"\}\]\}/);
    // The second is appended only when no existing one covers it and the first was not added.
    assert.match(patch, /&& !\(!object\.spec\.tolerations\.exists/);
  });

  test('a policy with no sandbox rule and no namespace labels never patches', () => {
    const spec = mapSpec(build(`${head}spec:\n  namespaceLabels: {enabled: false}\n  rules:\n    - {name: r, action: require}\n`));
    assert.equal(spec.variables.find((v) => v.name === 'profile')!.expression, '""');
  });
});

describe('celValue', () => {
  test('typed objects name the field type of every level; maps without a type are literals', () => {
    assert.equal(
      celValue({ nodeAffinity: { terms: [{ key: 'k', values: ['a'] }] }, n: 60 }, 'Object.spec.affinity'),
      'Object.spec.affinity{nodeAffinity: Object.spec.affinity.nodeAffinity{terms: [Object.spec.affinity.nodeAffinity.terms{key: "k", values: ["a"]}]}, n: 60}',
    );
    assert.equal(celValue({ 'a/b': 'c', d: '"' }), '{"a/b": "c", "d": "\\""}');
    assert.equal(celValue([true, null, 1]), '[true, null, 1]');
  });
});

describe('render map: the command', () => {
  test('prints the header and both objects; an invalid policy exits 2', () => {
    let out = '';
    let err = '';
    const file = new URL('manifests/base/policy.yaml', REPO).pathname;
    assert.equal(
      runRenderVap(
        { policy: file, webhookNamespace: 'sandbox-admission', output: 'yaml' },
        (t) => (out += t),
        (t) => (err += t),
        'map',
      ),
      0,
    );
    assert.match(out, /^# MutatingAdmissionPolicy generated from SandboxPolicy "example" by `sandbox-admission render map`\./);
    assert.deepEqual(
      parseAllDocuments(out).map((d) => (d.toJS() as KubernetesObject).kind),
      ['MutatingAdmissionPolicy', 'MutatingAdmissionPolicyBinding'],
    );
    assert.equal(err, '');
    const json = renderVapText(EXAMPLE_POLICY, { webhookNamespace: 'sandbox-admission', output: 'json' }, 'map');
    assert.ok(json.ok);
    assert.equal((JSON.parse(json.text) as { items: unknown[] }).items.length, 2);
    const bad = renderVapText(
      `${head}spec:\n  rules:\n    - {name: r, action: sandbox, runtime: nosuch}\n`,
      { webhookNamespace: 'x', output: 'yaml' },
      'map',
    );
    assert.equal(bad.ok, false);
  });
});
