import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAdmissionPolicyDriftCheck, type GeneratedPolicy } from '../../../src/cluster/admission-policy-drift-check.ts';

function setup(initial: GeneratedPolicy[] | Error) {
  let listed: GeneratedPolicy[] | Error = initial;
  let lists = 0;
  const lines: Array<{ level: string; message: string; data: object }> = [];
  const stale: Array<0 | 1> = [];
  let checked = 0;
  let digest = 'D1';
  const check = createAdmissionPolicyDriftCheck({
    list: async () => {
      lists++;
      if (listed instanceof Error) throw listed;
      return listed;
    },
    expectedDigest: () => digest,
    setStale: (value) => stale.push(value),
    log: {
      info: (data, message) => lines.push({ level: 'info', message, data }),
      warn: (data, message) => lines.push({ level: 'warn', message, data }),
    },
    intervalMs: 60_000,
    onChecked: () => checked++,
  });
  return {
    check,
    checked: () => checked,
    lines,
    stale,
    lists: () => lists,
    setListed: (value: GeneratedPolicy[] | Error) => {
      listed = value;
    },
    setDigest: (value: string) => {
      digest = value;
    },
  };
}

const policies = (digest: string | undefined): GeneratedPolicy[] => [
  { name: 'sandbox-admission-warn', digest },
  { name: 'sandbox-admission-enforce', digest },
];

describe('the drift check of the generated ValidatingAdmissionPolicies', () => {
  it('finds none stale while every digest matches the policy in force', async () => {
    const t = setup(policies('D1'));
    await t.check.check();
    assert.deepEqual(t.check.stale(), []);
    assert.deepEqual(t.stale, [0]);
    assert.equal(t.lines[0]?.message, 'the ValidatingAdmissionPolicies match the policy in force');
  });

  it('names the stale ones, sorted, once the policy in force changes, and warns once per finding', async () => {
    const t = setup(policies('D1'));
    await t.check.check();
    t.setDigest('D2');
    await t.check.check();
    await t.check.check();
    assert.deepEqual(t.check.stale(), ['sandbox-admission-enforce', 'sandbox-admission-warn']);
    assert.deepEqual(t.stale, [0, 1, 1]);
    assert.equal(t.lines.filter((l) => l.level === 'warn').length, 1);
  });

  it('a policy rendered before digests existed is stale', async () => {
    const t = setup(policies(undefined));
    await t.check.check();
    assert.equal(t.check.stale().length, 2);
  });

  it('no generated policies is no finding and no log line', async () => {
    const t = setup([]);
    await t.check.check();
    assert.deepEqual(t.check.stale(), []);
    assert.deepEqual(t.lines, []);
  });

  it('a failed list keeps the last finding, and the same error is logged once', async () => {
    const t = setup(policies('old'));
    await t.check.check();
    t.setListed(Object.assign(new Error('forbidden\nmore'), { code: 403 }));
    await t.check.check();
    await t.check.check();
    assert.equal(t.check.stale().length, 2);
    const failures = t.lines.filter((l) => l.message.startsWith('could not list'));
    assert.equal(failures.length, 1);
    assert.deepEqual(failures[0]?.data, { error: 'HTTP 403: forbidden' });
  });

  it('checks asked for while one runs are folded into one more run', async () => {
    const t = setup(policies('D1'));
    await Promise.all([t.check.check(), t.check.check(), t.check.check()]);
    assert.equal(t.lists(), 2);
  });

  it('tells onChecked after every check that listed the policies (changed or not), never after a failed list', async () => {
    const t = setup(policies('D1'));
    await t.check.check();
    await t.check.check();
    assert.equal(t.checked(), 2);
    t.setListed(new Error('connection refused'));
    await t.check.check();
    assert.equal(t.checked(), 2);
    t.setListed(policies('D0'));
    await t.check.check();
    assert.deepEqual([t.checked(), t.check.stale().length], [3, 2]);
  });
});
