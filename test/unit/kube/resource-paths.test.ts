import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resourcePath } from '../../../src/kube/resource-paths.ts';

describe('resourcePath', () => {
  test('cluster-scoped admission policies: the collection and one object', () => {
    assert.equal(
      resourcePath('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicy'),
      '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies',
    );
    assert.equal(
      resourcePath('admissionregistration.k8s.io/v1', 'MutatingAdmissionPolicyBinding', undefined, 'sandbox-admission-enforce'),
      '/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicybindings/sandbox-admission-enforce',
    );
  });

  test('namespaced PolicyReports: in one namespace, across all, and one object', () => {
    assert.equal(resourcePath('wgpolicyk8s.io/v1alpha2', 'PolicyReport'), '/apis/wgpolicyk8s.io/v1alpha2/policyreports');
    assert.equal(
      resourcePath('wgpolicyk8s.io/v1alpha2', 'PolicyReport', 'apps', 'sandbox-admission'),
      '/apis/wgpolicyk8s.io/v1alpha2/namespaces/apps/policyreports/sandbox-admission',
    );
  });

  test('an unknown kind or version says where to add it; a namespace on a cluster-scoped kind is refused', () => {
    assert.throws(
      () => resourcePath('apps/v1', 'Deployment'),
      /no REST path known for apps\/v1 Deployment; add it to src\/kube\/resource-paths\.ts \(known: .*wgpolicyk8s\.io\/v1alpha2 PolicyReport\)/,
    );
    assert.throws(() => resourcePath('admissionregistration.k8s.io/v1beta1', 'ValidatingAdmissionPolicy'), /no REST path known/);
    assert.throws(
      () => resourcePath('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicy', 'default', 'x'),
      /ValidatingAdmissionPolicy is cluster-scoped/,
    );
    assert.throws(() => resourcePath('wgpolicyk8s.io/v1alpha2', 'PolicyReport', undefined, 'x'), /PolicyReport "x" needs a namespace/);
  });
});
