import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileMatch } from '../../../src/match/compile-match.ts';
import { compileGlob } from '../../../src/match/glob.ts';
import { compileImagePattern, parseImageLocation } from '../../../src/match/image-ref.ts';
import { compileLabelSelector } from '../../../src/match/label-selector.ts';
import { buildMatchSubject } from '../../../src/match/match-subject.ts';
import type { MatchSpec } from '../../../src/match/types.ts';
import type { Pod } from '../../../src/k8s/pod.ts';
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
    const pod = untrustedPod(
      { containers: [{ name: 'a', image: 'registry.corp/app' }], initContainers: [{ name: 'i', image: 'busybox' }] },
      {},
    );
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

describe('compileMatch over buildMatchSubject(namespace, namespaceLabels, pod)', () => {
  const pod: Pod = {
    metadata: { labels: { app: 'web', tier: 1 as unknown as string } },
    spec: {
      serviceAccountName: 'runner-7',
      containers: [{ name: 'a', image: 'registry.corp/team/app:1' }],
      ephemeralContainers: [{ name: 'dbg', image: 'busybox' }],
    },
  };
  // The namespace is not in the pod's metadata: it comes from the request, as for controller-made pods.
  const cases: Array<{ name: string; match: MatchSpec; namespace?: string; labels?: Record<string, string>; pod?: Pod; matches: boolean }> =
    [
      { name: 'an empty match matches everything', match: {}, matches: true },
      { name: 'namespace glob', match: { namespaces: ['team-*'] }, matches: true },
      { name: 'namespace glob, other namespace', match: { namespaces: ['team-*'] }, namespace: 'ci', matches: false },
      { name: 'excluded namespace', match: { excludeNamespaces: ['team-a'] }, matches: false },
      {
        name: 'namespace selector',
        match: { namespaceSelector: { matchLabels: { compliance: 'pci' } } },
        labels: { compliance: 'pci' },
        matches: true,
      },
      { name: 'namespace selector, unlabelled', match: { namespaceSelector: { matchLabels: { compliance: 'pci' } } }, matches: false },
      { name: 'pod selector on a coerced number label', match: { podSelector: { matchLabels: { tier: '1' } } }, matches: true },
      { name: 'service account glob', match: { serviceAccounts: ['runner-*'] }, matches: true },
      {
        name: 'service account defaults to "default"',
        match: { serviceAccounts: ['default'] },
        pod: { spec: { containers: [] } },
        matches: true,
      },
      { name: 'images.from sees every container', match: { images: { from: ['registry.corp/'] } }, matches: true },
      { name: 'images.notFrom sees ephemeral containers', match: { images: { notFrom: ['registry.corp/'] } }, matches: true },
      {
        name: 'images.notFrom with every image trusted',
        match: { images: { notFrom: ['registry.corp/', 'docker.io/library'] } },
        matches: false,
      },
      { name: 'criteria are ANDed', match: { namespaces: ['team-*'], serviceAccounts: ['builder'] }, matches: false },
    ];
  for (const c of cases) {
    test(c.name, () => {
      const subject = buildMatchSubject(c.namespace ?? 'team-a', c.labels ?? {}, c.pod ?? pod);
      assert.equal(compileMatch(c.match)(subject), c.matches);
    });
  }
});
