import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { policyDigest } from '../../../src/policy/policy-digest.ts';
import { parsePolicyDocument } from '../../../src/policy/parse.ts';

const digestOf = (text: string): string => {
  const parsed = parsePolicyDocument(text, { webhookNamespace: 'sandbox-admission' });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.error));
  return policyDigest(parsed.value.document);
};

const POLICY = `apiVersion: sandbox-admission.io/v1alpha1
kind: SandboxPolicy
metadata: {name: digest}
spec:
  exemptNamespaces: [kube-system]
  rules:
    - name: untrusted-apps
      match: {podSelector: {matchLabels: {app: untrusted}}}
      action: sandbox
      runtime: gvisor
`;

// The same document: comments, flow vs block style, quoting, key order.
const REFORMATTED = `# The policy, reformatted.
kind: "SandboxPolicy"   # kind first
apiVersion: sandbox-admission.io/v1alpha1
spec:
  rules:
    - runtime: gvisor
      action: sandbox
      match:
        podSelector:
          matchLabels:
            app: 'untrusted'
      name: untrusted-apps
  exemptNamespaces:
    - kube-system
metadata:
  name: digest
`;

describe('policyDigest', () => {
  test('is 16 hex characters', () => {
    assert.match(digestOf(POLICY), /^[0-9a-f]{16}$/);
  });

  test('formatting, comments and key order do not change it', () => {
    assert.equal(digestOf(REFORMATTED), digestOf(POLICY));
  });

  test('a changed rule does', () => {
    assert.notEqual(digestOf(POLICY.replace('runtime: gvisor', 'runtime: kata')), digestOf(POLICY));
    assert.notEqual(digestOf(POLICY.replace('app: untrusted', 'app: other')), digestOf(POLICY));
  });

  test('list order matters (rules are evaluated in order)', () => {
    assert.notEqual(policyDigest({ a: [1, 2] } as never), policyDigest({ a: [2, 1] } as never));
    assert.equal(policyDigest({ a: 1, b: { c: 2, d: 3 } } as never), policyDigest({ b: { d: 3, c: 2 }, a: 1 } as never));
  });
});
