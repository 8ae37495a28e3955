import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findRuntimeClassProblems } from '../../../src/cluster/runtime-class-monitor.ts';
import { policyWithRules } from '../../helpers/policy.ts';

test('profiles whose RuntimeClass is missing or runs runc are reported', () => {
  const policy = policyWithRules('    []');
  const classes = new Map([['gvisor', { name: 'gvisor', handler: 'runc' }]]);
  assert.deepEqual(findRuntimeClassProblems(policy, classes), [
    { profile: 'gvisor', runtimeClassName: 'gvisor', problem: 'not-sandbox', handler: 'runc' },
    { profile: 'kata', runtimeClassName: 'kata', problem: 'missing' },
  ]);
  assert.deepEqual(
    findRuntimeClassProblems(
      policy,
      new Map([
        ['gvisor', { name: 'gvisor', handler: 'runsc' }],
        ['kata', { name: 'kata', handler: 'kata-qemu' }],
      ]),
    ),
    [],
  );
});

test('the monitor reports changes only, and nothing without cluster facts', async () => {
  const { startRuntimeClassMonitor } = await import('../../../src/cluster/runtime-class-monitor.ts');
  const policy = policyWithRules('    []');
  let classes: Map<string, { name: string; handler: string }> | undefined;
  const seen: unknown[] = [];
  const monitor = startRuntimeClassMonitor({
    policy: () => policy,
    runtimeClasses: () => classes,
    intervalMs: 5,
    onChange: (p) => seen.push(p.map((x) => x.profile)),
  });
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(seen, []);
  classes = new Map([['gvisor', { name: 'gvisor', handler: 'runsc' }]]);
  await new Promise((r) => setTimeout(r, 30));
  classes = new Map([
    ['gvisor', { name: 'gvisor', handler: 'runsc' }],
    ['kata', { name: 'kata', handler: 'kata' }],
  ]);
  await new Promise((r) => setTimeout(r, 30));
  monitor.stop();
  assert.deepEqual(seen, [['kata'], []]);
  assert.deepEqual(monitor.problems(), []);
});
