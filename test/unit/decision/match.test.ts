import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileGlob } from '../../../src/decision/glob.ts';
import { compileImagePattern, parseImageLocation } from '../../../src/decision/image-ref.ts';
import { compileLabelSelector } from '../../../src/decision/label-selector.ts';
import { policyWithRules } from '../../helpers/policy.ts';
import { applyDecision, decideCreate, untrustedPod } from '../../helpers/pods.ts';

describe('label selectors', () => {
  const select = compileLabelSelector({
    matchLabels: { app: 'web' },
    matchExpressions: [
      { key: 'tier', operator: 'In', values: ['front', 'edge'] },
      { key: 'trusted', operator: 'NotIn', values: ['yes'] },
      { key: 'team', operator: 'Exists' },
      { key: 'legacy', operator: 'DoesNotExist' },
    ],
  });
  test('all terms are ANDed', () => {
    assert.equal(select({ app: 'web', tier: 'edge', team: 'a' }), true);
    assert.equal(select({ app: 'web', tier: 'back', team: 'a' }), false);
    assert.equal(select({ app: 'web', tier: 'edge' }), false);
    assert.equal(select({ app: 'web', tier: 'edge', team: 'a', legacy: '' }), false);
    assert.equal(select({ app: 'web', tier: 'edge', team: 'a', trusted: 'yes' }), false);
  });
  test('NotIn matches when the key is absent; an empty selector matches everything', () => {
    assert.equal(compileLabelSelector({ matchExpressions: [{ key: 'x', operator: 'NotIn', values: ['1'] }] })({}), true);
    assert.equal(compileLabelSelector({})({ anything: 'at-all' }), true);
  });
  test('keys such as __proto__ are ordinary keys', () => {
    assert.equal(compileLabelSelector({ matchLabels: { constructor: 'x' } })({}), false);
    assert.equal(compileLabelSelector({ matchExpressions: [{ key: 'toString', operator: 'Exists' }] })({}), false);
  });
});

describe('globs', () => {
  test('* and ? match whole names; regex characters are literal', () => {
    assert.equal(compileGlob('team-*')('team-a'), true);
    assert.equal(compileGlob('team-*')('my-team-a'), false);
    assert.equal(compileGlob('ci-?')('ci-1'), true);
    assert.equal(compileGlob('ci-?')('ci-12'), false);
    assert.equal(compileGlob('a.b')('axb'), false);
  });
});

describe('image registries', () => {
  test('Docker normalisation of short names', () => {
    assert.deepEqual(parseImageLocation('nginx'), { host: 'docker.io', path: 'library/nginx' });
    assert.deepEqual(parseImageLocation('bitnami/redis:7'), { host: 'docker.io', path: 'bitnami/redis' });
    assert.deepEqual(parseImageLocation('registry.corp:5000/team/app@sha256:abc'), { host: 'registry.corp:5000', path: 'team/app' });
    assert.deepEqual(parseImageLocation('localhost/app:dev'), { host: 'localhost', path: 'app' });
  });
  test('patterns match at segment boundaries, never by raw string prefix', () => {
    const pattern = (p: string) => (image: string) => compileImagePattern(p)(parseImageLocation(image));
    const corp = pattern('registry.corp/');
    assert.equal(corp('registry.corp/team/app:1'), true);
    assert.equal(corp('registry.corp.evil.io/team/app'), false);
    assert.equal(corp('evil.io/registry.corp/app'), false);
    const team = pattern('registry.corp/team');
    assert.equal(team('registry.corp/team/app'), true);
    assert.equal(team('registry.corp/teamster/app'), false);
    assert.equal(pattern('*.corp.example')('eu.corp.example/x'), true);
    assert.equal(pattern('docker.io/library')('nginx'), true);
  });
  test('every spelling of Docker Hub is docker.io, so a rule on docker.io cannot be stepped around', () => {
    const hub = (p: string) => (image: string) => compileImagePattern(p)(parseImageLocation(image));
    for (const image of ['nginx', 'nginx:1.27', 'library/nginx', 'docker.io/nginx', 'docker.io/library/nginx', 'index.docker.io/library/nginx', 'index.docker.io/nginx', 'registry-1.docker.io/library/nginx:1@sha256:abc', 'Registry-1.Docker.IO/nginx']) {
      assert.deepEqual(parseImageLocation(image), { host: 'docker.io', path: 'library/nginx' }, image);
      assert.equal(hub('docker.io')(image), true, image);
      assert.equal(hub('docker.io/library/nginx')(image), true, image);
    }
    for (const pattern of ['index.docker.io', 'registry-1.docker.io/', 'docker.io/library']) assert.equal(hub(pattern)('registry-1.docker.io/library/busybox'), true, pattern);
    assert.equal(hub('docker.io')('docker.io.evil.example/library/nginx'), false);
    assert.equal(hub('docker.io')('registry-2.docker.io/library/nginx'), false);
  });
});

describe('rule criteria', () => {
  const policy = policyWithRules(`    - name: not-from-corp
      match:
        namespaces: ["team-*", "sandbox"]
        excludeNamespaces: ["team-infra"]
        namespaceSelector: {matchExpressions: [{key: tier, operator: NotIn, values: [trusted]}]}
        serviceAccounts: ["default", "app-*"]
        images: {notFrom: ["registry.corp/"]}
      action: sandbox
      runtime: kata
`);
  const ns = (name: string, labels: Record<string, string> = {}) => ({ namespace: name, namespaceFacts: { name, labels } });

  test('an image from outside the corporate registry in a matching namespace is sandboxed', () => {
    const decision = decideCreate(policy, untrustedPod({}, {}), ns('team-a'));
    assert.equal(decision.rule, 'not-from-corp');
    assert.equal(applyDecision(untrustedPod({}, {}), decision).spec?.runtimeClassName, 'kata');
  });
  test('all images from the corporate registry: not matched', () => {
    const pod = untrustedPod({ containers: [{ name: 'a', image: 'registry.corp/team/app:1' }] }, {});
    assert.equal(decideCreate(policy, pod, ns('team-a')).source, 'not-governed');
  });
  test('one init container from outside is enough', () => {
    const pod = untrustedPod({ containers: [{ name: 'a', image: 'registry.corp/app' }], initContainers: [{ name: 'i', image: 'busybox' }] }, {});
    assert.equal(decideCreate(policy, pod, ns('team-a')).rule, 'not-from-corp');
  });
  test('namespace glob, exclusion and namespace labels all apply', () => {
    assert.equal(decideCreate(policy, untrustedPod(), ns('other')).source, 'not-governed');
    assert.equal(decideCreate(policy, untrustedPod(), ns('team-infra')).source, 'not-governed');
    assert.equal(decideCreate(policy, untrustedPod(), ns('team-b', { tier: 'trusted' })).source, 'not-governed');
    assert.equal(decideCreate(policy, untrustedPod(), ns('sandbox')).rule, 'not-from-corp');
  });
  test('service account: spec.serviceAccountName, the deprecated serviceAccount, or default', () => {
    assert.equal(decideCreate(policy, untrustedPod({ serviceAccountName: 'app-web' }), ns('team-a')).rule, 'not-from-corp');
    assert.equal(decideCreate(policy, untrustedPod({ serviceAccountName: 'builder' }), ns('team-a')).source, 'not-governed');
    assert.equal(decideCreate(policy, untrustedPod({ serviceAccount: 'builder' }), ns('team-a')).source, 'not-governed');
  });
  test('the namespace comes from the request, not from the object', () => {
    const pod = untrustedPod();
    delete pod.metadata!.namespace;
    assert.equal(decideCreate(policy, pod, ns('team-a')).rule, 'not-from-corp');
  });
  test('label values that are not strings (a YAML number) compare as strings', () => {
    const numeric = policyWithRules(`    - name: v1
      match: {podSelector: {matchLabels: {version: "1"}}}
      action: sandbox
      runtime: gvisor
`);
    const pod = untrustedPod({}, { version: 1 as unknown as string });
    assert.equal(decideCreate(numeric, pod).rule, 'v1');
  });
});

describe('namespace-label policy', () => {
  const policy = policyWithRules(`    - name: untrusted-apps
      match: {podSelector: {matchLabels: {app: untrusted}}}
      action: sandbox
      runtime: gvisor
`);
  const inNs = (labels: Record<string, string>) => ({ namespace: 'governed', namespaceFacts: { name: 'governed', labels } });

  test('sandbox-admission.io/runtime=kata sandboxes every pod of the namespace into kata', () => {
    const pod = untrustedPod({}, { app: 'web' });
    const decision = decideCreate(policy, pod, inNs({ 'sandbox-admission.io/runtime': 'kata' }));
    assert.equal(decision.source, 'namespace-label');
    assert.equal(applyDecision(pod, decision).spec?.runtimeClassName, 'kata');
    assert.match(decision.warnings[0]!, /label sandbox-admission\.io\/runtime=kata on namespace "governed"/);
  });

  test('a matching policy rule takes precedence over the namespace label', () => {
    const decision = decideCreate(policy, untrustedPod(), inNs({ 'sandbox-admission.io/runtime': 'kata' }));
    assert.equal(decision.rule, 'untrusted-apps');
  });

  test('the namespace label is a floor: an exempt or softer rule the pod matches does not weaken it', () => {
    const soft = policyWithRules(`    - {name: try-it, match: {podSelector: {matchLabels: {sandbox: try}}}, action: sandbox, runtime: gvisor, mode: audit}
    - {name: ci, match: {serviceAccounts: [ci-*]}, action: exempt}
    - {name: strict-kata, match: {podSelector: {matchLabels: {tier: secret}}}, action: require, allowedRuntimes: [kata]}
`);
    const enforced = inNs({ 'sandbox-admission.io/runtime': 'gvisor' });
    const audited = decideCreate(soft, untrustedPod({ runtimeClassName: 'runc' }, { sandbox: 'try' }), enforced);
    assert.equal(audited.allowed, false);
    assert.equal(audited.source, 'namespace-label');
    assert.equal(decideCreate(soft, untrustedPod({ serviceAccountName: 'ci-runner' }, {}), enforced).source, 'namespace-label');
    // A rule at least as strict still decides how (here: only kata).
    const strict = decideCreate(soft, untrustedPod({ runtimeClassName: 'gvisor' }, { tier: 'secret' }), enforced);
    assert.equal(strict.rule, 'strict-kata');
    assert.equal(strict.allowed, false);
    // Without a namespace label the soft rules apply as written.
    assert.equal(decideCreate(soft, untrustedPod({ runtimeClassName: 'runc' }, { sandbox: 'try' }), inNs({})).allowed, true);
  });

  test('a rule as strict as a warn-mode label decides; a stricter label overrides a warn rule', () => {
    const warnRule = policyWithRules(`    - {name: w, match: {podSelector: {matchLabels: {app: untrusted}}}, action: sandbox, runtime: kata, mode: warn}\n`);
    assert.equal(decideCreate(warnRule, untrustedPod(), inNs({ 'sandbox-admission.io/runtime': 'gvisor', 'sandbox-admission.io/mode': 'warn' })).rule, 'w');
    assert.equal(decideCreate(warnRule, untrustedPod(), inNs({ 'sandbox-admission.io/runtime': 'gvisor' })).rule, 'namespace-label');
  });

  test('mode label values that name Object.prototype members are unreadable, hence enforce', () => {
    for (const value of ['toString', 'constructor', 'valueOf', '__proto__']) {
      const decision = decideCreate(policy, untrustedPod({ runtimeClassName: 'runc' }, {}), inNs({ 'sandbox-admission.io/runtime': 'gvisor', 'sandbox-admission.io/mode': value }));
      assert.equal(decision.allowed, false, value);
    }
  });

  test('sandbox-admission.io/mode=warn turns rejections into warnings', () => {
    const decision = decideCreate(policy, untrustedPod({ runtimeClassName: 'runc' }, {}), inNs({ 'sandbox-admission.io/runtime': 'gvisor', 'sandbox-admission.io/mode': 'warn' }));
    assert.equal(decision.allowed, true);
    assert.equal(decision.mode, 'warn');
    assert.equal(decision.warnings.length, 1);
  });

  test('an unknown mode value falls back to enforce, never to something weaker', () => {
    const decision = decideCreate(policy, untrustedPod({ runtimeClassName: 'runc' }, {}), inNs({ 'sandbox-admission.io/runtime': 'gvisor', 'sandbox-admission.io/mode': 'off' }));
    assert.equal(decision.allowed, false);
  });

  test('an unknown profile in the label rejects (fail closed) with a message naming the label', () => {
    const decision = decideCreate(policy, untrustedPod({}, {}), inNs({ 'sandbox-admission.io/runtime': 'gvsior' }));
    assert.equal(decision.allowed, false);
    assert.match(decision.message!, /asks for runtime profile "gvsior", which the policy does not define \(known: gvisor, kata\)/);
  });

  test('namespaceLabels.enabled=false ignores the labels', () => {
    const off = policyWithRules('    []', '  namespaceLabels: {enabled: false}\n');
    assert.equal(decideCreate(off, untrustedPod(), inNs({ 'sandbox-admission.io/runtime': 'kata' })).source, 'not-governed');
  });
});
