import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { policyWithRules } from '../../helpers/policy.ts';
import { applyDecision, decideCreate, untrustedPod } from '../../helpers/pods.ts';

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
    const soft =
      policyWithRules(`    - {name: try-it, match: {podSelector: {matchLabels: {sandbox: try}}}, action: sandbox, runtime: gvisor, mode: audit}
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
    const warnRule = policyWithRules(
      `    - {name: w, match: {podSelector: {matchLabels: {app: untrusted}}}, action: sandbox, runtime: kata, mode: warn}\n`,
    );
    assert.equal(
      decideCreate(warnRule, untrustedPod(), inNs({ 'sandbox-admission.io/runtime': 'gvisor', 'sandbox-admission.io/mode': 'warn' })).rule,
      'w',
    );
    assert.equal(decideCreate(warnRule, untrustedPod(), inNs({ 'sandbox-admission.io/runtime': 'gvisor' })).rule, 'namespace-label');
  });

  test('mode label values that name Object.prototype members are unreadable, hence enforce', () => {
    for (const value of ['toString', 'constructor', 'valueOf', '__proto__']) {
      const decision = decideCreate(
        policy,
        untrustedPod({ runtimeClassName: 'runc' }, {}),
        inNs({ 'sandbox-admission.io/runtime': 'gvisor', 'sandbox-admission.io/mode': value }),
      );
      assert.equal(decision.allowed, false, value);
    }
  });

  test('sandbox-admission.io/mode=warn turns rejections into warnings', () => {
    const decision = decideCreate(
      policy,
      untrustedPod({ runtimeClassName: 'runc' }, {}),
      inNs({ 'sandbox-admission.io/runtime': 'gvisor', 'sandbox-admission.io/mode': 'warn' }),
    );
    assert.equal(decision.allowed, true);
    assert.equal(decision.mode, 'warn');
    assert.equal(decision.warnings.length, 1);
  });

  test('an unknown mode value falls back to enforce, never to something weaker', () => {
    const decision = decideCreate(
      policy,
      untrustedPod({ runtimeClassName: 'runc' }, {}),
      inNs({ 'sandbox-admission.io/runtime': 'gvisor', 'sandbox-admission.io/mode': 'off' }),
    );
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
