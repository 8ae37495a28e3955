import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RuntimeClassFacts } from '../../../src/k8s/runtime-class.ts';
import { policyWithRules, UNTRUSTED_TO_GVISOR } from '../../helpers/policy.ts';
import { applyDecision, decideCreate, untrustedPod } from '../../helpers/pods.ts';

const withMode = (mode: string) => policyWithRules(`${UNTRUSTED_TO_GVISOR}      mode: ${mode}\n`);

describe('a pod that asks for a non-sandbox runtime', () => {
  for (const runtime of ['runc', 'my-unknown-class']) {
    test(`enforce rejects runtimeClassName ${runtime}, naming the rule, the runtime and the allowed ones`, () => {
      const decision = decideCreate(withMode('enforce'), untrustedPod({ runtimeClassName: runtime }));
      assert.equal(decision.allowed, false);
      assert.match(
        decision.message!,
        new RegExp(
          `asks for runtimeClassName "${runtime}" but rule "untrusted-apps" requires a sandbox runtime \\(allowed: gvisor, kata\\)`,
        ),
      );
      assert.match(decision.message!, /remove spec\.runtimeClassName/);
      assert.deepEqual(decision.patch, []);
    });
  }

  test('warn admits it unchanged with an admission warning', () => {
    const pod = untrustedPod({ runtimeClassName: 'runc' });
    const decision = decideCreate(withMode('warn'), pod);
    assert.equal(decision.allowed, true);
    assert.deepEqual(decision.patch, []);
    assert.equal(decision.warnings.length, 1);
    assert.match(decision.warnings[0]!, /warn mode.*runtimeClassName "runc"/);
    assert.equal(decision.auditAnnotations.decision, 'would-deny');
  });

  test('audit admits it unchanged with an audit annotation and no warning', () => {
    const decision = decideCreate(withMode('audit'), untrustedPod({ runtimeClassName: 'runc' }));
    assert.equal(decision.allowed, true);
    assert.deepEqual(decision.patch, []);
    assert.deepEqual(decision.warnings, []);
    assert.equal(decision.auditAnnotations.decision, 'would-deny');
    assert.match(decision.auditAnnotations.violations!, /runtimeClassName "runc"/);
  });
});

describe('features the runtime cannot host', () => {
  test('hostNetwork, privileged containers and hostPath volumes are listed by JSON path', () => {
    const pod = untrustedPod({
      hostNetwork: true,
      initContainers: [{ name: 'init', image: 'busybox', securityContext: { privileged: true } }],
      containers: [
        { name: 'a', image: 'nginx' },
        { name: 'b', image: 'nginx', securityContext: { privileged: true } },
      ],
      volumes: [{ name: 'tmp' }, { name: 'host', hostPath: { path: '/var/run' } }],
    });
    const decision = decideCreate(withMode('enforce'), pod);
    assert.equal(decision.allowed, false);
    assert.deepEqual(decision.violations[0]!.paths, [
      'spec.hostNetwork',
      'spec.volumes[1].hostPath',
      'spec.initContainers[0].securityContext.privileged',
      'spec.containers[1].securityContext.privileged',
    ]);
    assert.match(decision.message!, /gVisor \(runtimeClassName "gvisor"\) cannot host spec\.hostNetwork, /);
  });

  test('hostPID, hostIPC and an unmasked procMount are caught too', () => {
    const pod = untrustedPod({
      hostPID: true,
      hostIPC: true,
      containers: [{ name: 'a', image: 'x', securityContext: { procMount: 'Unmasked' } }],
    });
    assert.deepEqual(decideCreate(withMode('enforce'), pod).violations[0]!.paths, [
      'spec.hostPID',
      'spec.hostIPC',
      'spec.containers[0].securityContext.procMount',
    ]);
  });

  test('privileged: false and hostNetwork: false are fine', () => {
    const pod = untrustedPod({ hostNetwork: false, containers: [{ name: 'a', image: 'x', securityContext: { privileged: false } }] });
    assert.equal(decideCreate(withMode('enforce'), pod).allowed, true);
  });

  test('a pod that already names the sandbox is still checked for features', () => {
    const decision = decideCreate(withMode('enforce'), untrustedPod({ runtimeClassName: 'gvisor', hostNetwork: true }));
    assert.equal(decision.allowed, false);
  });

  test('warn mode admits the pod unchanged rather than moving it to a runtime that cannot run it', () => {
    const pod = untrustedPod({ hostNetwork: true });
    const decision = decideCreate(withMode('warn'), pod);
    assert.equal(decision.allowed, true);
    assert.deepEqual(decision.patch, []);
    assert.match(decision.warnings[0]!, /cannot host spec\.hostNetwork/);
  });

  test('a profile decides what it cannot host', () => {
    const lenient = policyWithRules(
      UNTRUSTED_TO_GVISOR,
      `  profiles:
    gvisor: {runtimeClassName: gvisor, unsupported: [hostPort]}
`,
    );
    assert.equal(decideCreate(lenient, untrustedPod({ hostNetwork: true })).allowed, true);
    const decision = decideCreate(
      lenient,
      untrustedPod({ containers: [{ name: 'a', image: 'x', ports: [{ containerPort: 80, hostPort: 8080 }] }] }),
    );
    assert.deepEqual(decision.violations[0]!.paths, ['spec.containers[0].ports[0].hostPort']);
  });
});

describe('require and exempt actions', () => {
  const policy = policyWithRules(`    - name: trusted-ci
      match: {podSelector: {matchLabels: {app: untrusted}}, serviceAccounts: [ci-runner]}
      action: exempt
    - name: must-be-sandboxed
      match: {namespaces: ["team-*"]}
      action: require
      allowedRuntimes: [kata]
`);

  test('require rejects a pod without a sandbox runtime and never mutates', () => {
    const decision = decideCreate(policy, untrustedPod());
    assert.equal(decision.allowed, false);
    assert.match(
      decision.message!,
      /rule "must-be-sandboxed" requires a sandbox runtime and the pod names none; set spec\.runtimeClassName to one of: kata/,
    );
    assert.deepEqual(decision.patch, []);
  });

  test('require admits a pod that already asks for an allowed sandbox, without a patch', () => {
    const decision = decideCreate(policy, untrustedPod({ runtimeClassName: 'kata' }));
    assert.equal(decision.allowed, true);
    assert.deepEqual(decision.patch, []);
  });

  test('an exempt rule earlier in the list wins (first match)', () => {
    const decision = decideCreate(policy, untrustedPod({ serviceAccountName: 'ci-runner' }));
    assert.equal(decision.allowed, true);
    assert.equal(decision.action, 'exempt');
    assert.equal(decision.rule, 'trusted-ci');
    assert.deepEqual(decision.patch, []);
  });
});

describe('cluster RuntimeClass facts', () => {
  const policy = policyWithRules(UNTRUSTED_TO_GVISOR);
  const classes = (list: RuntimeClassFacts[]) => new Map(list.map((c) => [c.name, c]));

  test('a profile whose RuntimeClass is missing rejects with the class name', () => {
    const decision = decideCreate(policy, untrustedPod(), { runtimeClasses: classes([{ name: 'kata', handler: 'kata' }]) });
    assert.equal(decision.allowed, false);
    assert.match(decision.message!, /RuntimeClass "gvisor" \(runtime profile "gvisor"\) does not exist in this cluster/);
  });

  test('a RuntimeClass with handler runc is never a sandbox', () => {
    const decision = decideCreate(policy, untrustedPod({ runtimeClassName: 'gvisor' }), {
      runtimeClasses: classes([{ name: 'gvisor', handler: 'runc' }]),
    });
    assert.equal(decision.allowed, false);
    assert.match(decision.message!, /uses handler "runc", which runs containers on the host kernel/);
  });

  test('a real runsc class is accepted', () => {
    const pod = untrustedPod();
    const decision = decideCreate(policy, pod, { runtimeClasses: classes([{ name: 'gvisor', handler: 'runsc' }]) });
    assert.equal(applyDecision(pod, decision).spec?.runtimeClassName, 'gvisor');
  });
});

describe('scheduling taken from the cluster RuntimeClass', () => {
  const kataClass = {
    name: 'kata',
    handler: 'kata',
    nodeSelector: { 'katacontainers.io/kata-runtime': 'true' },
    tolerations: [{ key: 'kata', operator: 'Exists', effect: 'NoSchedule' }],
  };
  const kataRule = policyWithRules(`    - {name: to-kata, action: sandbox, runtime: kata}\n`);
  const classes = new Map<string, RuntimeClassFacts>([
    ['kata', kataClass],
    ['gvisor', { name: 'gvisor', handler: 'runsc', nodeSelector: { pool: 'gvisor' } }],
  ]);

  test('a profile without nodeSelector or tolerations takes both from its RuntimeClass', () => {
    const pod = untrustedPod();
    const out = applyDecision(pod, decideCreate(kataRule, pod, { runtimeClasses: classes }));
    assert.deepEqual(out.spec?.nodeSelector, { 'katacontainers.io/kata-runtime': 'true' });
    assert.deepEqual(out.spec?.tolerations, kataClass.tolerations);
  });

  test('a RuntimeClass nodeSelector that contradicts the pod is refused with our message', () => {
    const decision = decideCreate(kataRule, untrustedPod({ nodeSelector: { 'katacontainers.io/kata-runtime': 'false' } }), {
      runtimeClasses: classes,
    });
    assert.equal(decision.allowed, false);
    assert.match(decision.message!, /is "false" but runtime profile "kata" needs "true"/);
  });

  test('what the profile sets wins, field by field (gvisor sets tolerations, not nodeSelector)', () => {
    const pod = untrustedPod();
    const out = applyDecision(pod, decideCreate(policyWithRules(UNTRUSTED_TO_GVISOR), pod, { runtimeClasses: classes }));
    assert.deepEqual(out.spec?.nodeSelector, { pool: 'gvisor' });
    assert.deepEqual(
      out.spec?.tolerations?.map((t) => t.key),
      ['sandbox.gke.io/runtime'],
    );
  });

  test('without cluster facts (CLI, local runs) nothing is guessed', () => {
    const pod = untrustedPod();
    assert.equal(applyDecision(pod, decideCreate(kataRule, pod)).spec?.nodeSelector, undefined);
  });
});

describe('malformed pods (manifests, direct callers) never yield a patch that cannot apply', () => {
  const policy = policyWithRules(UNTRUSTED_TO_GVISOR);
  const shapes: Array<[string, (pod: ReturnType<typeof untrustedPod>) => void]> = [
    [
      'annotations as an array',
      (p) => {
        (p.metadata as Record<string, unknown>).annotations = ['x'];
      },
    ],
    [
      'metadata labels kept, annotations null',
      (p) => {
        (p.metadata as Record<string, unknown>).annotations = null;
      },
    ],
    [
      'nodeSelector as an array',
      (p) => {
        (p.spec as Record<string, unknown>).nodeSelector = ['x'];
      },
    ],
    [
      'tolerations as an object',
      (p) => {
        (p.spec as Record<string, unknown>).tolerations = { key: 'x' };
      },
    ],
    [
      'affinity as an array',
      (p) => {
        (p.spec as Record<string, unknown>).affinity = [];
      },
    ],
    [
      'nodeSelectorTerms holding a string',
      (p) => {
        p.spec!.affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: ['x' as never] } } };
      },
    ],
  ];
  for (const [name, breakIt] of shapes) {
    test(name, () => {
      const pod = untrustedPod();
      breakIt(pod);
      const decision = decideCreate(policy, pod);
      assert.equal(applyDecision(pod, decision).spec?.runtimeClassName, 'gvisor');
    });
  }

  test('a governed pod without a spec object is refused, not planned into', () => {
    const pod = untrustedPod();
    delete pod.spec;
    const decision = decideCreate(policy, pod);
    assert.equal(decision.allowed, false);
    assert.equal(decision.violations[0]!.kind, 'malformed-pod');
  });
});
