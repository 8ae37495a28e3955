import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkEphemeralContainers } from '../../../src/decision/ephemeral-containers.ts';
import { guardNamespaceLabels } from '../../../src/decision/namespace-guard.ts';
import { evaluatePodTemplate } from '../../../src/decision/pod-template.ts';
import { flagRuntimeClass } from '../../../src/decision/runtime-class-check.ts';
import { policyWithRules, UNTRUSTED_TO_GVISOR } from '../../helpers/policy.ts';
import { untrustedPod } from '../../helpers/pods.ts';

const policy = policyWithRules(UNTRUSTED_TO_GVISOR, '  namespaceLabels: {allowedGroups: [platform-admins], allowedUsers: [alice]}\n');
const RUNTIME = 'sandbox-admission.io/runtime';
const MODE = 'sandbox-admission.io/mode';
const dev = { username: 'bob', groups: ['developers', 'system:authenticated'] };

describe('namespace label guard', () => {
  const update = (oldLabels: Record<string, string>, labels: Record<string, string>, requester = dev) =>
    guardNamespaceLabels({ operation: 'UPDATE', labels, oldLabels, requester, policy });

  test('removing the runtime label is refused for a developer, naming who may', () => {
    const verdict = update({ [RUNTIME]: 'gvisor' }, {});
    assert.equal(verdict.allowed, false);
    assert.match(verdict.message!, /removing sandbox-admission\.io\/runtime=gvisor is not allowed/);
    assert.match(verdict.message!, /Only group platform-admins, user alice/);
  });
  test('switching the runtime to another profile is refused', () => {
    assert.equal(update({ [RUNTIME]: 'gvisor' }, { [RUNTIME]: 'kata' }).allowed, false);
  });
  test('weakening the mode is refused; an absent mode counts as the default (enforce)', () => {
    assert.equal(update({ [RUNTIME]: 'gvisor' }, { [RUNTIME]: 'gvisor', [MODE]: 'warn' }).allowed, false);
    assert.equal(update({ [RUNTIME]: 'gvisor', [MODE]: 'warn' }, { [RUNTIME]: 'gvisor', [MODE]: 'audit' }).allowed, false);
    assert.equal(update({ [RUNTIME]: 'gvisor', [MODE]: 'warn' }, { [RUNTIME]: 'gvisor' }).allowed, true);
  });
  test('an unreadable mode counts as enforce, so replacing it with warn is a weakening', () => {
    assert.equal(update({ [RUNTIME]: 'gvisor', [MODE]: 'strict' }, { [RUNTIME]: 'gvisor', [MODE]: 'warn' }).allowed, false);
  });
  test('a mode value naming an Object.prototype member cannot be used as a stepping stone', () => {
    for (const trick of ['toString', 'constructor', 'valueOf', 'hasOwnProperty']) {
      // Reads as enforce, so setting it is no weakening...
      assert.equal(update({ [RUNTIME]: 'gvisor' }, { [RUNTIME]: 'gvisor', [MODE]: trick }).allowed, true, trick);
      // ...and leaving it for audit is one.
      assert.equal(update({ [RUNTIME]: 'gvisor', [MODE]: trick }, { [RUNTIME]: 'gvisor', [MODE]: 'audit' }).allowed, false, trick);
    }
  });

  test('adding a runtime label or strengthening is open to anyone; unrelated labels are free', () => {
    assert.equal(update({}, { [RUNTIME]: 'gvisor' }).allowed, true);
    assert.equal(update({ [RUNTIME]: 'gvisor', [MODE]: 'audit' }, { [RUNTIME]: 'gvisor', [MODE]: 'enforce' }).allowed, true);
    assert.equal(update({ [RUNTIME]: 'gvisor', team: 'a' }, { [RUNTIME]: 'gvisor', team: 'b' }).allowed, true);
  });
  test('allowed groups and users may weaken, and it is recorded', () => {
    const byGroup = update({ [RUNTIME]: 'gvisor' }, {}, { username: 'carol', groups: ['platform-admins'] });
    assert.equal(byGroup.allowed, true);
    assert.equal(byGroup.auditAnnotations.decision, 'namespace-labels-weakened');
    assert.equal(update({ [RUNTIME]: 'gvisor' }, {}, { username: 'alice', groups: [] }).allowed, true);
  });
  test('a new namespace may not start in a weaker mode, unless an admin creates it', () => {
    assert.equal(
      guardNamespaceLabels({
        operation: 'CREATE',
        labels: { [RUNTIME]: 'gvisor', [MODE]: 'audit' },
        oldLabels: undefined,
        requester: dev,
        policy,
      }).allowed,
      false,
    );
    assert.equal(
      guardNamespaceLabels({ operation: 'CREATE', labels: { [RUNTIME]: 'gvisor' }, oldLabels: undefined, requester: dev, policy }).allowed,
      true,
    );
    assert.equal(
      guardNamespaceLabels({
        operation: 'CREATE',
        labels: { [MODE]: 'warn' },
        oldLabels: undefined,
        requester: { username: 'x', groups: ['platform-admins'] },
        policy,
      }).allowed,
      true,
    );
  });
  test('by default only system:masters may weaken', () => {
    const defaults = policyWithRules('    []');
    assert.equal(
      guardNamespaceLabels({
        operation: 'UPDATE',
        labels: {},
        oldLabels: { [RUNTIME]: 'kata' },
        requester: { username: 'admin', groups: ['system:masters'] },
        policy: defaults,
      }).allowed,
      true,
    );
    assert.equal(
      guardNamespaceLabels({ operation: 'UPDATE', labels: {}, oldLabels: { [RUNTIME]: 'kata' }, requester: dev, policy: defaults }).allowed,
      false,
    );
  });
});

describe('ephemeral containers (kubectl debug)', () => {
  const sandboxed = untrustedPod({ runtimeClassName: 'gvisor' });
  const withDebug = (securityContext: object, name = 'debugger') => {
    const pod = structuredClone(sandboxed);
    pod.spec!.ephemeralContainers = [{ name, image: 'busybox', securityContext }];
    return pod;
  };

  test('a privileged debug container on a sandboxed pod is refused by name', () => {
    const verdict = checkEphemeralContainers(withDebug({ privileged: true }), sandboxed, policy);
    assert.equal(verdict.allowed, false);
    assert.match(verdict.message!, /ephemeral container "debugger" \(securityContext\.privileged\)/);
  });
  test('an ordinary debug container is fine', () => {
    assert.equal(checkEphemeralContainers(withDebug({}), sandboxed, policy).allowed, true);
  });
  test('only newly added containers are judged', () => {
    const old = withDebug({ privileged: true }, 'earlier');
    const next = structuredClone(old);
    next.spec!.ephemeralContainers!.push({ name: 'second', image: 'busybox' });
    assert.equal(checkEphemeralContainers(next, old, policy).allowed, true);
  });
  test("a pod outside any sandbox profile is not this check's business", () => {
    const runc = untrustedPod({ ephemeralContainers: [{ name: 'd', image: 'x', securityContext: { privileged: true } }] });
    assert.equal(checkEphemeralContainers(runc, undefined, policy).allowed, true);
  });
});

describe('pod templates (early feedback)', () => {
  const deployment = (spec: object, labels = { app: 'untrusted' }) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'team-a' },
    spec: {
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'nginx' }], ...spec } },
    },
  });
  const evaluate = (object: Record<string, unknown>, operation = 'CREATE', oldObject?: Record<string, unknown>) =>
    evaluatePodTemplate({ operation, object, oldObject, namespace: 'team-a', namespaceFacts: { name: 'team-a', labels: {} }, policy });

  test('a template whose pods would be rejected is rejected with the pod message, naming the workload', () => {
    const verdict = evaluate(deployment({ runtimeClassName: 'runc' }));
    assert.equal(verdict.allowed, false);
    assert.match(
      verdict.message!,
      /^sandbox-admission: the pods of Deployment\/web would be rejected: the pod asks for runtimeClassName "runc"/,
    );
  });
  test('a template that will be sandboxed is admitted unchanged with a warning saying what its pods get', () => {
    const verdict = evaluate(deployment({}));
    assert.equal(verdict.allowed, true);
    assert.ok(!('patch' in verdict) || (verdict as { patch: unknown[] }).patch === undefined);
    assert.match(verdict.warnings[0]!, /pods of Deployment\/web will run in gVisor \(runtimeClassName gvisor\)/);
  });
  test('an UPDATE that leaves the template alone is never blocked', () => {
    const old = deployment({ runtimeClassName: 'runc' });
    const next = structuredClone(old);
    (next.metadata as Record<string, unknown>).labels = { changed: 'yes' };
    assert.equal(evaluate(next, 'UPDATE', old).allowed, true);
    const changed = structuredClone(old);
    (changed.spec.template.spec as Record<string, unknown>).hostNetwork = true;
    assert.equal(evaluate(changed, 'UPDATE', old).allowed, false);
  });
  test('CronJob templates are reached through jobTemplate', () => {
    const cron = {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'nightly' },
      spec: {
        schedule: '@daily',
        jobTemplate: {
          spec: {
            template: { metadata: { labels: { app: 'untrusted' } }, spec: { hostPID: true, containers: [{ name: 'c', image: 'x' }] } },
          },
        },
      },
    };
    assert.match(evaluate(cron).message!, /CronJob\/nightly would be rejected: .*spec\.hostPID/);
  });
});

describe('RuntimeClass edits', () => {
  test('a profile class switched to runc is admitted but flagged', () => {
    const verdict = flagRuntimeClass({ metadata: { name: 'gvisor' }, handler: 'runc' }, policy);
    assert.equal(verdict.allowed, true);
    assert.equal(verdict.action, 'flag-runtime-class');
    assert.match(verdict.warnings[0]!, /RuntimeClass "gvisor" \(runtime profile "gvisor"\) now uses handler "runc"/);
    assert.equal(verdict.auditAnnotations.finding, 'runtime-class-not-sandbox');
  });
  test('sandbox handlers and unrelated classes pass quietly', () => {
    assert.deepEqual(flagRuntimeClass({ metadata: { name: 'gvisor' }, handler: 'runsc' }, policy).warnings, []);
    assert.deepEqual(flagRuntimeClass({ metadata: { name: 'runc' }, handler: 'runc' }, policy).warnings, []);
  });
});
