import assert from 'node:assert/strict';
import { POD_UPDATE_CHANGES_GOVERNANCE_CEL } from '../../../src/decision/pod-update.ts';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { renderVapText, runRenderVap } from '../../../src/cli/render-vap-command.ts';
import { compileGlob } from '../../../src/match/glob.ts';
import { buildValidatingAdmissionPolicies, type KubernetesObject } from '../../../src/admission-policies/validating-admission-policy.ts';
import { celGlobList, celImagePattern, celLabelSelector, celMessage, globToRegex } from '../../../src/admission-policies/cel.ts';
import { formatNoSandboxRuntime, formatRuntimeNotAllowed } from '../../../src/decision/messages.ts';
import { parsePolicyDocument } from '../../../src/policy/parse.ts';

const REPO = new URL('../../../', import.meta.url);
const EXAMPLE_POLICY = new URL('manifests/base/policy.yaml', REPO);
/**
 * Every generated manifest shipped in manifests/, with the policy it is generated from. The kustomizations that
 * carry a ConfigMap of a policy install the ValidatingAdmissionPolicies generated from that same policy: the base's
 * through manifests/admission-policy, overlays/kata its own (its policy sends pods to kata-qemu).
 */
const GENERATED: ReadonlyArray<{ policy: string; generated: string; afterMap?: boolean }> = [
  { policy: 'manifests/base/policy.yaml', generated: 'manifests/admission-policy/validating-admission-policy.yaml' },
  { policy: 'manifests/overlays/kata/policy.yaml', generated: 'manifests/overlays/kata/validating-admission-policy.yaml' },
  // The native flavour's run after its MutatingAdmissionPolicy.
  { policy: 'manifests/base/policy.yaml', generated: 'manifests/overlays/native/validating-admission-policy.yaml', afterMap: true },
];
const regenerate = (pair: { policy: string; generated: string; afterMap?: boolean }) =>
  `npx sandbox-admission render vap${pair.afterMap ? ' --after-map' : ''} --policy ${pair.policy} > ${pair.generated}`;
const head = 'apiVersion: sandbox-admission.io/v1alpha1\nkind: SandboxPolicy\nmetadata: {name: t}\n';

function render(text: string, webhookNamespace = 'sandbox-admission'): KubernetesObject[] {
  const parsed = parsePolicyDocument(text, { webhookNamespace });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.error));
  return buildValidatingAdmissionPolicies(parsed.value.document, { webhookNamespace });
}

interface PolicySpec {
  failurePolicy: string;
  matchConstraints: {
    resourceRules: unknown[];
    namespaceSelector: { matchExpressions: Array<{ key: string; operator: string; values: string[] }> };
  };
  matchConditions: Array<{ name: string; expression: string }>;
  variables: Array<{ name: string; expression: string }>;
  validations: Array<{ expression: string; messageExpression: string; reason: string }>;
}

const specOf = (objects: KubernetesObject[], name: string): PolicySpec => {
  const found = objects.find((o) => o.kind === 'ValidatingAdmissionPolicy' && o.metadata.name === name);
  assert.ok(found, `no policy ${name}`);
  return found.spec as unknown as PolicySpec;
};
const variable = (spec: PolicySpec, name: string): string => {
  const found = spec.variables.find((v) => v.name === name);
  assert.ok(found, `no variable ${name}`);
  return found.expression;
};

describe('render vap: the checked-in manifests', () => {
  for (const pair of GENERATED) {
    test(`${pair.generated} is what the generator makes of ${pair.policy}`, () => {
      const rendered = renderVapText(readFileSync(new URL(pair.policy, REPO), 'utf8'), {
        webhookNamespace: 'sandbox-admission',
        output: 'yaml',
        afterMap: pair.afterMap === true,
      });
      assert.ok(rendered.ok, JSON.stringify(!rendered.ok && rendered.errors));
      const checkedIn = readFileSync(new URL(pair.generated, REPO), 'utf8');
      assert.ok(
        checkedIn === rendered.text,
        `${pair.generated} is out of date with ${pair.policy} (or with the generator); regenerate it:\n  ${regenerate(pair)}`,
      );
    });
  }

  test('every generated manifest and every policy under manifests/ is in the list above, and each generated one is installed', () => {
    const files = (readdirSync(new URL('manifests/', REPO), { recursive: true }) as string[])
      .map((f) => `manifests/${f.split(sep).join('/')}`)
      .sort();
    const generated = files.filter((f) => f.endsWith('/validating-admission-policy.yaml'));
    const policies = files.filter((f) => f.endsWith('/policy.yaml'));
    assert.deepEqual(
      generated,
      GENERATED.map((p) => p.generated).sort(),
      'a validating-admission-policy.yaml that no test compares with its policy (add it to GENERATED)',
    );
    assert.deepEqual(
      policies,
      [...new Set(GENERATED.map((p) => p.policy))].sort(),
      'a policy.yaml without its generated ValidatingAdmissionPolicies (generate them, install them, add the pair to GENERATED)',
    );
    // Generated but not listed in its directory's kustomization would never reach a cluster.
    for (const pair of GENERATED) {
      const dir = pair.generated.slice(0, pair.generated.lastIndexOf('/'));
      const kustomization = parse(readFileSync(new URL(`${dir}/kustomization.yaml`, REPO), 'utf8')) as { resources?: string[] };
      assert.ok(
        kustomization.resources?.includes('validating-admission-policy.yaml'),
        `${dir}/kustomization.yaml does not install validating-admission-policy.yaml`,
      );
    }
  });
});

/** After the per-mode pod checks: the one that keeps the profiles' RuntimeClass objects sandboxes (issue 10, item 4). */
const RUNTIME_CLASS_OBJECTS = [
  'ValidatingAdmissionPolicy/sandbox-admission-runtime-classes',
  'ValidatingAdmissionPolicyBinding/sandbox-admission-runtime-classes',
];

describe("render vap: the profiles' RuntimeClasses stay sandboxes without the webhook (issue 10, item 4)", () => {
  const objects = render(readFileSync(EXAMPLE_POLICY, 'utf8'));
  test("RuntimeClass CREATE and UPDATE: a profile's class with a host-kernel handler is refused", () => {
    const spec = specOf(objects, 'sandbox-admission-runtime-classes');
    assert.deepEqual(spec.matchConstraints.resourceRules, [
      {
        apiGroups: ['node.k8s.io'],
        apiVersions: ['v1'],
        operations: ['CREATE', 'UPDATE'],
        resources: ['runtimeclasses'],
        scope: 'Cluster',
      },
    ]);
    assert.equal(
      spec.validations[0]!.expression,
      '!(object.metadata.name in ["gvisor", "kata"]) || !((has(object.handler) ? object.handler : "") in ["runc", "crun", "youki", ""])',
    );
    const binding = objects.find(
      (o) => o.kind === 'ValidatingAdmissionPolicyBinding' && o.metadata.name === 'sandbox-admission-runtime-classes',
    );
    assert.deepEqual(binding?.spec, { policyName: 'sandbox-admission-runtime-classes', validationActions: ['Deny'] });
  });
  test('pods: evaluated once per RuntimeClass as params; a governed pod on a host-kernel class is refused, CREATE and UPDATE', () => {
    // One mechanism: the per-mode checks (sandbox-admission-runtime-class-<mode>, issue 11), with the pod policies' match.
    const handlers = objects.find(
      (o) => o.kind === 'ValidatingAdmissionPolicy' && o.metadata.name === 'sandbox-admission-runtime-class-enforce',
    )!;
    assert.deepEqual(handlers.spec['paramKind'], { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass' });
    const spec = specOf(objects, 'sandbox-admission-runtime-class-enforce');
    assert.deepEqual(spec.matchConstraints, specOf(objects, 'sandbox-admission-enforce').matchConstraints);
    assert.deepEqual(spec.matchConditions, specOf(objects, 'sandbox-admission-enforce').matchConditions);
    assert.match(spec.validations[0]!.expression, /params\.metadata\.name != variables\.runtimeClassName/);
    assert.match(spec.validations[0]!.messageExpression!, /uses handler/);
    const binding = objects.find(
      (o) => o.kind === 'ValidatingAdmissionPolicyBinding' && o.metadata.name === 'sandbox-admission-runtime-class-enforce',
    );
    assert.deepEqual(binding?.spec, {
      policyName: 'sandbox-admission-runtime-class-enforce',
      validationActions: ['Deny'],
      paramRef: { selector: {}, parameterNotFoundAction: 'Allow' },
    });
    assert.equal(
      objects.some((o) => o.metadata.name === 'sandbox-admission-runtime-class-handlers'),
      false,
    );
  });
});

describe('render vap: shape', () => {
  const objects = render(readFileSync(EXAMPLE_POLICY, 'utf8'));

  test('one policy and one binding per mode, one RuntimeClass check per mode, then the RuntimeClass objects; bindings carry the mode as validation actions', () => {
    assert.deepEqual(
      objects.map((o) => `${o.kind}/${o.metadata.name}`),
      [
        'ValidatingAdmissionPolicy/sandbox-admission-enforce',
        'ValidatingAdmissionPolicyBinding/sandbox-admission-enforce',
        'ValidatingAdmissionPolicy/sandbox-admission-warn',
        'ValidatingAdmissionPolicyBinding/sandbox-admission-warn',
        'ValidatingAdmissionPolicy/sandbox-admission-audit',
        'ValidatingAdmissionPolicyBinding/sandbox-admission-audit',
        'ValidatingAdmissionPolicy/sandbox-admission-runtime-class-enforce',
        'ValidatingAdmissionPolicyBinding/sandbox-admission-runtime-class-enforce',
        'ValidatingAdmissionPolicy/sandbox-admission-runtime-class-warn',
        'ValidatingAdmissionPolicyBinding/sandbox-admission-runtime-class-warn',
        'ValidatingAdmissionPolicy/sandbox-admission-runtime-class-audit',
        'ValidatingAdmissionPolicyBinding/sandbox-admission-runtime-class-audit',
        ...RUNTIME_CLASS_OBJECTS,
      ],
    );
    for (const o of objects) assert.equal(o.apiVersion, 'admissionregistration.k8s.io/v1');
    const bindings = Object.fromEntries(
      objects.filter((o) => o.kind === 'ValidatingAdmissionPolicyBinding').map((o) => [o.metadata.name, o.spec]),
    );
    assert.deepEqual(bindings['sandbox-admission-enforce'], { policyName: 'sandbox-admission-enforce', validationActions: ['Deny'] });
    assert.deepEqual(bindings['sandbox-admission-warn'], { policyName: 'sandbox-admission-warn', validationActions: ['Warn', 'Audit'] });
    assert.deepEqual(bindings['sandbox-admission-audit'], { policyName: 'sandbox-admission-audit', validationActions: ['Audit'] });
    // The RuntimeClass checks: every RuntimeClass is a param, and none at all means nothing to check.
    assert.deepEqual(bindings['sandbox-admission-runtime-class-warn'], {
      policyName: 'sandbox-admission-runtime-class-warn',
      paramRef: { selector: {}, parameterNotFoundAction: 'Allow' },
      validationActions: ['Warn', 'Audit'],
    });
  });

  test('the RuntimeClass check refuses a governed pod whose allowed class runs a host-kernel handler, in its own mode', () => {
    const spec = specOf(objects, 'sandbox-admission-runtime-class-enforce') as PolicySpec & { paramKind: unknown };
    assert.deepEqual(spec.paramKind, { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass' });
    assert.equal(
      spec.validations[0]!.expression,
      'variables.mode != "enforce" || !(variables.runtimeClassName in variables.allowed) || params.metadata.name != variables.runtimeClassName || !(params.handler in ["runc", "crun", "youki", ""])',
    );
    assert.equal(
      spec.validations[0]!.messageExpression,
      `"sandbox-admission denied this pod: " + ${JSON.stringify('RuntimeClass "')} + params.metadata.name + ${JSON.stringify('" uses handler "')} + params.handler + ${JSON.stringify('", which runs containers on the host kernel and is not a sandbox; a cluster admin must point it at runsc or kata')}`,
    );
    // Only what it needs: no feature paths, no messages of the main policy.
    assert.deepEqual(
      spec.variables.map((v) => v.name),
      ['namespaceLabels', 'podLabels', 'matchedRule', 'ruleMode', 'labelMode', 'rule', 'mode', 'allowed', 'runtimeClassName'],
    );
  });

  test('pods CREATE, and UPDATE when images or labels change; fail closed, exempt namespaces and the webhook namespace excluded by name', () => {
    const spec = specOf(objects, 'sandbox-admission-enforce');
    assert.equal(spec.failurePolicy, 'Fail');
    assert.deepEqual(spec.matchConstraints.resourceRules, [
      { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'], scope: 'Namespaced' },
    ]);
    assert.deepEqual(spec.matchConditions[1], { name: 'create-or-image-or-label-change', expression: POD_UPDATE_CHANGES_GOVERNANCE_CEL });
    assert.deepEqual(spec.matchConstraints.namespaceSelector.matchExpressions, [
      {
        key: 'kubernetes.io/metadata.name',
        operator: 'NotIn',
        values: ['kube-system', 'kube-public', 'kube-node-lease', 'sandbox-admission'],
      },
    ]);
  });

  test('mirror pods are skipped only when the requester is a node', () => {
    const [condition] = specOf(objects, 'sandbox-admission-enforce').matchConditions;
    assert.equal(condition?.name, 'not-a-mirror-pod-from-its-node');
    assert.match(condition!.expression, /"kubernetes\.io\/config\.mirror" in object\.metadata\.annotations/);
    assert.match(condition!.expression, /request\.userInfo\.username\.startsWith\("system:node:"\)/);
    assert.match(condition!.expression, /"system:nodes" in request\.userInfo\.groups/);
  });

  test('each policy checks only its own mode, and says so in its message', () => {
    for (const [mode, prefix] of [
      ['enforce', 'sandbox-admission denied this pod: '],
      ['warn', 'sandbox-admission (warn mode, admitted unchanged): '],
      ['audit', 'sandbox-admission (audit mode, admitted unchanged): '],
    ]) {
      assert.deepEqual(specOf(objects, `sandbox-admission-${mode}`).validations, [
        {
          expression: `variables.mode != "${mode}" || size(variables.violations) == 0`,
          messageExpression: `"${prefix}" + variables.violations.join("; ")`,
          reason: 'Forbidden',
        },
      ]);
    }
  });

  test('the YAML output parses back to the same objects, and JSON is a v1 List of them', () => {
    const yaml = renderVapText(readFileSync(EXAMPLE_POLICY, 'utf8'), { webhookNamespace: 'sandbox-admission', output: 'yaml' });
    assert.ok(yaml.ok);
    assert.match(yaml.text, /^# ValidatingAdmissionPolicies generated from SandboxPolicy "example"/);
    assert.deepEqual(
      parseAllDocuments(yaml.text).map((d) => d.toJS()),
      objects,
    );
    const json = renderVapText(readFileSync(EXAMPLE_POLICY, 'utf8'), { webhookNamespace: 'sandbox-admission', output: 'json' });
    assert.ok(json.ok);
    assert.deepEqual(JSON.parse(json.text), { apiVersion: 'v1', kind: 'List', items: objects });
  });

  test('enforce-only rules without namespace labels: exactly a policy and its binding, no label logic', () => {
    const only = render(
      `${head}spec:\n  namespaceLabels: {enabled: false}\n  rules:\n    - {name: r, action: require, match: {namespaces: [a]}}\n`,
    );
    assert.deepEqual(
      only.map((o) => `${o.kind}/${o.metadata.name}`),
      [
        'ValidatingAdmissionPolicy/sandbox-admission-enforce',
        'ValidatingAdmissionPolicyBinding/sandbox-admission-enforce',
        'ValidatingAdmissionPolicy/sandbox-admission-runtime-class-enforce',
        'ValidatingAdmissionPolicyBinding/sandbox-admission-runtime-class-enforce',
        ...RUNTIME_CLASS_OBJECTS,
      ],
    );
    const spec = specOf(only, 'sandbox-admission-enforce');
    assert.equal(
      spec.variables.some((v) => v.name === 'namespaceLabels'),
      false,
    );
    assert.equal(variable(spec, 'mode'), 'variables.rule in ["r"] ? "enforce" :\n""');
    assert.equal(variable(spec, 'governedBy'), '"rule \\"" + variables.rule + "\\""');
  });

  test('a rule in warn mode adds the warn pair only', () => {
    const objects = render(`${head}spec:\n  namespaceLabels: {enabled: false}\n  rules:\n    - {name: r, action: require, mode: warn}\n`);
    assert.deepEqual(
      objects.map((o) => o.metadata.name),
      [
        'sandbox-admission-enforce',
        'sandbox-admission-enforce',
        'sandbox-admission-warn',
        'sandbox-admission-warn',
        'sandbox-admission-runtime-class-enforce',
        'sandbox-admission-runtime-class-enforce',
        'sandbox-admission-runtime-class-warn',
        'sandbox-admission-runtime-class-warn',
        'sandbox-admission-runtime-classes',
        'sandbox-admission-runtime-classes',
      ],
    );
  });

  test('exemptNamespaces replace the defaults; names that cannot be namespaces are dropped; --webhook-namespace is added', () => {
    const objects = render(`${head}spec:\n  exemptNamespaces: [ops, "team-*", Bad_Name, kube-system]\n  rules: []\n`, 'platform-admission');
    assert.deepEqual(specOf(objects, 'sandbox-admission-enforce').matchConstraints.namespaceSelector.matchExpressions[0]!.values, [
      'ops',
      'kube-system',
      'platform-admission',
    ]);
  });
});

describe('render vap: first match, modes and allowed runtimes', () => {
  const objects = render(`${head}spec:
  rules:
    - name: platform
      match: {namespaces: [team-platform]}
      action: exempt
    - name: teams
      match: {namespaces: ["team-*"]}
      action: sandbox
      runtime: kata
      allowedRuntimes: [kata]
    - name: untrusted
      match: {podSelector: {matchLabels: {app: untrusted}}}
      action: sandbox
      runtime: gvisor
      mode: warn
    - name: everything-else
      action: require
      mode: audit
    - name: never-reached
      match: {namespaces: [x]}
      action: require
`);
  const spec = specOf(objects, 'sandbox-admission-enforce');

  test('rules are tried in policy order and the chain stops at a rule that matches everything', () => {
    assert.equal(
      variable(spec, 'matchedRule'),
      [
        'request.namespace == "team-platform" ? "platform" :',
        'request.namespace.matches("(?s)^(?:team-.*)$") ? "teams" :',
        '"app" in variables.podLabels && variables.podLabels["app"] == "untrusted" ? "untrusted" :',
        '"everything-else"',
      ].join('\n'),
    );
  });

  test('an exempt rule has no mode, so it shields the pod; rules after it keep theirs', () => {
    assert.deepEqual(variable(spec, 'ruleMode').split('\n'), [
      'variables.matchedRule in ["teams", "never-reached"] ? "enforce" :',
      'variables.matchedRule in ["untrusted"] ? "warn" :',
      'variables.matchedRule in ["everything-else"] ? "audit" :',
      '""',
    ]);
    const labelMode = variable(spec, 'labelMode').split('\n');
    assert.match(labelMode[0]!, /^!\("sandbox-admission\.io\/runtime" in variables\.namespaceLabels\) \? "" :$/);
    assert.equal(
      labelMode.at(-1),
      'variables.namespaceLabels["sandbox-admission.io/mode"] in ["warn", "audit"] ? variables.namespaceLabels["sandbox-admission.io/mode"] : "enforce"',
    );
  });

  test('the namespace label is a floor: it governs when it is stricter than the matched rule (or none matched)', () => {
    assert.match(
      variable(spec, 'rule'),
      /^variables\.labelMode != "" && \(variables\.labelMode == "enforce" \? 2 .*\) > \(variables\.ruleMode == "enforce" \? 2 .*\) \? "" : variables\.matchedRule$/,
    );
    assert.equal(variable(spec, 'mode'), 'variables.rule != "" ? variables.ruleMode : variables.labelMode');
  });

  test('allowedRuntimes narrow the classes; every profile otherwise, in policy order', () => {
    assert.equal(variable(spec, 'allowed'), 'variables.rule in ["teams"] ? ["kata"] :\n["gvisor", "kata"]');
  });

  test('the namespace label default mode is the policy default', () => {
    const objects = render(`${head}spec:\n  namespaceLabels: {defaultMode: warn}\n  rules: []\n`);
    assert.match(
      variable(specOf(objects, 'sandbox-admission-enforce'), 'labelMode'),
      /!\("sandbox-admission\.io\/mode" in variables\.namespaceLabels\) \? "warn" :/,
    );
  });
});

describe('render vap: globs', () => {
  test('plain names compare exactly; globs become one anchored, escaped regex', () => {
    assert.equal(celGlobList('request.namespace', ['prod']), 'request.namespace == "prod"');
    assert.equal(celGlobList('request.namespace', ['a', 'b']), 'request.namespace in ["a", "b"]');
    assert.equal(
      celGlobList('request.namespace', ['prod', 'team-*', 'ci-?', 'a.b+c*']),
      'request.namespace == "prod" || request.namespace.matches("(?s)^(?:team-.*|ci-.|a\\\\.b\\\\+c.*)$")',
    );
  });

  test('regex metacharacters, quotes and backslashes stay literal', () => {
    assert.equal(globToRegex('a.b|c(d)[e]{f}^g$h+i\\j*'), 'a\\.b\\|c\\(d\\)\\[e\\]\\{f\\}\\^g\\$h\\+i\\\\j.*');
    assert.equal(celGlobList('x', ['q"uote*']), 'x.matches("(?s)^(?:q\\"uote.*)$")');
  });

  test("the generated regex accepts exactly what the decision's glob matcher accepts", () => {
    const patterns = ['team-*', 'ci-?', 'a.b*', '*x*', 'x+y?', '(paren)*', 'back\\slash*', '*'];
    const names = [
      'team-',
      'team-a',
      'team',
      'ci-1',
      'ci-12',
      'a.b',
      'axb',
      'a.bc',
      'x',
      'yxy',
      'x+y1',
      'xxy1',
      '(paren)',
      'paren',
      'back\\slash',
      'backslash',
      '',
      'multi\nline',
    ];
    for (const pattern of patterns) {
      // RE2's leading (?s) is JavaScript's s flag.
      const regex = new RegExp(`^(?:${globToRegex(pattern)})$`, 's');
      const decision = compileGlob(pattern);
      for (const name of names) assert.equal(regex.test(name), decision(name), `${pattern} vs ${JSON.stringify(name)}`);
    }
  });
});

describe('render vap: label selectors and images', () => {
  test('each operator, with NotIn and DoesNotExist true for an absent key', () => {
    assert.equal(celLabelSelector('L', {}), 'true');
    assert.equal(
      celLabelSelector('L', {
        matchLabels: { app: 'web' },
        matchExpressions: [
          { key: 'tier', operator: 'In', values: ['a', 'b'] },
          { key: 'stage', operator: 'NotIn', values: ['dev'] },
          { key: 'example.com/x', operator: 'Exists' },
          { key: 'legacy', operator: 'DoesNotExist' },
        ],
      }),
      '"app" in L && L["app"] == "web" && "tier" in L && L["tier"] in ["a", "b"] && (!("stage" in L) || !(L["stage"] in ["dev"])) && "example.com/x" in L && !("legacy" in L)',
    );
  });

  test('image patterns: host in lower case, wildcard hosts, index.docker.io, whole path segments', () => {
    assert.equal(celImagePattern('r', 'Registry.Corp/'), 'r[0] == "registry.corp"');
    assert.equal(celImagePattern('r', 'registry.corp/Team/'), 'r[0] == "registry.corp" && (r[1] == "Team" || r[1].startsWith("Team/"))');
    assert.equal(celImagePattern('r', '*.corp.example'), 'r[0].endsWith(".corp.example")');
    assert.equal(
      celImagePattern('r', 'index.docker.io/library'),
      'r[0] == "docker.io" && (r[1] == "library" || r[1].startsWith("library/"))',
    );
  });

  test('a rule with images normalises references once, from every container list', () => {
    const spec = specOf(
      render(`${head}spec:\n  rules:\n    - {name: r, action: require, match: {images: {notFrom: [registry.corp/]}}}\n`),
      'sandbox-admission-enforce',
    );
    const images = variable(spec, 'images');
    for (const list of ['initContainers', 'containers', 'ephemeralContainers'])
      assert.ok(images.includes(`object.spec.${list}.map(`), list);
    assert.deepEqual(spec.variables.map((v) => v.name).slice(0, 6), [
      'namespaceLabels',
      'images',
      'imageNames',
      'imageFirstSegments',
      'imageHostPaths',
      'imageRefs',
    ]);
    assert.equal(variable(spec, 'matchedRule'), 'variables.imageRefs.exists(ref, !(ref[0] == "registry.corp")) ? "r" :\n""');
  });

  test('no image rule, no image variables (they cost CEL budget)', () => {
    const spec = specOf(render(readFileSync(EXAMPLE_POLICY, 'utf8')), 'sandbox-admission-enforce');
    assert.equal(
      spec.variables.some((v) => v.name.startsWith('image')),
      false,
    );
  });
});

describe('render vap: unsupported features', () => {
  test('profiles with the same list share one check; a profile without one has none', () => {
    const spec = specOf(
      render(`${head}spec:\n  profiles:\n    plain: {runtimeClassName: plain}\n  rules: []\n`),
      'sandbox-admission-enforce',
    );
    const unsupported = variable(spec, 'unsupported');
    assert.match(unsupported, /^variables\.runtimeClassName in \["gvisor", "kata"\] \? \(/);
    assert.equal(unsupported.includes('"plain"'), false);
    assert.ok(unsupported.endsWith('\n[]'));
    assert.equal(unsupported.includes('hostPort'), false, 'hostPort is not in the built-in lists');
  });

  test('hostPort and user namespaces when a profile lists them', () => {
    const spec = specOf(
      render(`${head}spec:\n  profiles:\n    kata: {runtimeClassName: kata, unsupported: [hostPort, userNamespace]}\n  rules: []\n`),
      'sandbox-admission-enforce',
    );
    const unsupported = variable(spec, 'unsupported');
    assert.match(unsupported, /variables\.runtimeClassName == "kata" \? \(/);
    assert.match(unsupported, /has\(object\.spec\.hostUsers\) && !object\.spec\.hostUsers \? \["spec\.hostUsers"\]/);
    assert.match(
      unsupported,
      /c\.ports\.transformList\(j, p, has\(p\.hostPort\) && p\.hostPort != 0, "spec\.containers\[" \+ string\(i\) \+ "\]\.ports\[" \+ string\(j\) \+ "\]\.hostPort"\)/,
    );
  });

  test('no profile with a list: no feature variable and no feature message', () => {
    const spec = specOf(
      render(`${head}spec:\n  profiles:\n    gvisor: {runtimeClassName: gvisor}\n    kata: {runtimeClassName: kata}\n  rules: []\n`),
      'sandbox-admission-enforce',
    );
    assert.equal(
      spec.variables.some((v) => v.name === 'unsupported'),
      false,
    );
    assert.equal(variable(spec, 'violations').includes('cannot host'), false);
  });
});

describe("render vap: the decision's words", () => {
  test('celMessage turns each slot into its expression and the text around it into literals', () => {
    assert.equal(
      celMessage(formatNoSandboxRuntime, { governedBy: 'variables.by', allowed: 'variables.allowed.join(", ")' }),
      'variables.by + " requires a sandbox runtime and the pod names none; set spec.runtimeClassName to one of: " + variables.allowed.join(", ")',
    );
  });
  test("the CEL message evaluates to the decision's sentence", () => {
    const values: Record<string, string> = { rc: 'runc', by: 'rule "r"', allowed: 'gvisor, kata' };
    const expression = celMessage(
      (p: { asked: string; governedBy: string; allowed: string }) => formatRuntimeNotAllowed({ ...p, mutates: false }),
      {
        asked: 'rc',
        governedBy: 'by',
        allowed: 'allowed',
      },
    );
    // A string concatenation of JSON literals and names: evaluate it with the names bound.
    const evaluated = expression
      .split(' + ')
      .map((term) => (term.startsWith('"') ? (JSON.parse(term) as string) : values[term]))
      .join('');
    assert.equal(evaluated, formatRuntimeNotAllowed({ asked: 'runc', governedBy: 'rule "r"', allowed: 'gvisor, kata', mutates: false }));
  });
});

describe('render vap: the command', () => {
  test('prints YAML, or every policy error with exit code 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'render-vap-'));
    try {
      const good = join(dir, 'good.yaml');
      const bad = join(dir, 'bad.yaml');
      writeFileSync(good, readFileSync(EXAMPLE_POLICY, 'utf8'));
      writeFileSync(bad, `${head}spec:\n  rules:\n    - {name: r, action: sandbox, runtime: nosuch}\n`);
      let out = '';
      let err = '';
      assert.equal(
        runRenderVap(
          { policy: good, webhookNamespace: 'sandbox-admission', output: 'yaml' },
          (t) => (out += t),
          (t) => (err += t),
        ),
        0,
      );
      assert.equal(out, readFileSync(new URL(GENERATED[0]!.generated, REPO), 'utf8'));
      assert.equal(err, '');
      out = '';
      assert.equal(
        runRenderVap(
          { policy: bad, webhookNamespace: 'sandbox-admission', output: 'yaml' },
          (t) => (out += t),
          (t) => (err += t),
        ),
        2,
      );
      assert.equal(out, '');
      assert.match(err, /bad\.yaml: POLICY_REFERENCE at spec\.rules\[0\]\.runtime \(line 6, column 34\): no runtime profile "nosuch"/);
      err = '';
      assert.equal(
        runRenderVap(
          { policy: join(dir, 'missing.yaml'), webhookNamespace: 'sandbox-admission', output: 'yaml' },
          (t) => (out += t),
          (t) => (err += t),
        ),
        2,
      );
      assert.match(err, /missing\.yaml: POLICY_READ/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
