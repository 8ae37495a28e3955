import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findRuntimeClassProblems } from '../../../src/cluster/runtime-class-report.ts';
import { policyWithRules } from '../../helpers/policy.ts';

test('profiles whose RuntimeClass is missing or runs runc are reported', () => {
  const policy = policyWithRules('    []');
  const classes = new Map([['gvisor', { name: 'gvisor', handler: 'runc' }]]);
  assert.deepEqual(findRuntimeClassProblems(policy, classes), [
    { profile: 'gvisor', runtimeClassName: 'gvisor', problem: 'not-sandbox', handler: 'runc' },
    { profile: 'kata', runtimeClassName: 'kata', problem: 'missing' },
  ]);
  assert.deepEqual(findRuntimeClassProblems(policy, new Map([['gvisor', { name: 'gvisor', handler: 'runsc' }], ['kata', { name: 'kata', handler: 'kata-qemu' }]])), []);
});
