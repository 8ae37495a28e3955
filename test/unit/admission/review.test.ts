import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildReviewHandler } from '../../../src/admission/review-handler.ts';
import { decodeReview } from '../../../src/admission/review.ts';
import { policyWithRules, UNTRUSTED_TO_GVISOR } from '../../helpers/policy.ts';
import { untrustedPod } from '../../helpers/pods.ts';
import { decodePatch, podReview } from '../../helpers/reviews.ts';

const policy = policyWithRules(UNTRUSTED_TO_GVISOR);
const handler = buildReviewHandler({ policy: () => policy, namespaceLabels: () => ({}), runtimeClasses: () => undefined });
type Answer = { apiVersion: string; kind: string; response: Record<string, unknown> & { uid: string; allowed: boolean; patch?: string } };

async function review(body: unknown, endpoint: 'mutate' | 'validate' = 'mutate'): Promise<Answer> {
  const outcome = await handler(endpoint, body);
  assert.equal(outcome.kind, 'reviewed', JSON.stringify(outcome));
  return (outcome as { body: Answer }).body;
}

describe('AdmissionReview decoding', () => {
  const cases: Array<[string, unknown, string]> = [
    ['a JSON array', [], 'REVIEW_NOT_OBJECT'],
    ['an unknown apiVersion', { apiVersion: 'admission.k8s.io/v2', kind: 'AdmissionReview' }, 'REVIEW_API_VERSION'],
    ['the wrong kind', { apiVersion: 'admission.k8s.io/v1', kind: 'Pod' }, 'REVIEW_KIND'],
    ['no request', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, 'REVIEW_NO_REQUEST'],
    ['an empty uid', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: '' } }, 'REVIEW_NO_UID'],
    [
      'a numeric operation',
      { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'x', operation: 1 } },
      'REVIEW_BAD_FIELD',
    ],
  ];
  for (const [name, body, code] of cases) {
    test(`${name} is refused with ${code}`, () => {
      const result = decodeReview(body);
      assert.equal(result.ok, false);
      assert.equal(!result.ok && result.error.code, code);
    });
  }

  test('the handler answers a malformed review with a 400 outcome, never a throw', async () => {
    const outcome = await handler('mutate', {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: 'u', operation: 'CREATE' },
    });
    assert.equal(outcome.kind, 'bad-request');
    assert.equal(outcome.kind === 'bad-request' && outcome.status, 400);
  });

  test('a CREATE without an object is a 422', async () => {
    const body = podReview(untrustedPod());
    (body.request as Record<string, unknown>).object = null;
    const outcome = await handler('mutate', body);
    assert.equal(outcome.kind === 'bad-request' && outcome.status, 422);
  });
});

describe('AdmissionReview responses', () => {
  test('v1: same uid, allowed, base64 JSONPatch, warnings and audit annotations', async () => {
    const answer = await review(podReview(untrustedPod(), { uid: 'abc-123' }));
    assert.equal(answer.apiVersion, 'admission.k8s.io/v1');
    assert.equal(answer.kind, 'AdmissionReview');
    assert.equal(answer.response.uid, 'abc-123');
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.patchType, 'JSONPatch');
    assert.ok(decodePatch(answer.response).some((op) => (op as { path: string }).path === '/spec/runtimeClassName'));
    assert.equal((answer.response.warnings as string[]).length, 1);
    assert.deepEqual(answer.response.auditAnnotations, { decision: 'sandboxed', rule: 'untrusted-apps' });
  });

  test('v1beta1 is answered in kind', async () => {
    const answer = await review(podReview(untrustedPod(), { apiVersion: 'admission.k8s.io/v1beta1' }));
    assert.equal(answer.apiVersion, 'admission.k8s.io/v1beta1');
    assert.equal(answer.response.patchType, 'JSONPatch');
  });

  test('a denial carries a 403 status with the message and no patch', async () => {
    const answer = await review(podReview(untrustedPod({ runtimeClassName: 'runc' })));
    assert.equal(answer.response.allowed, false);
    assert.equal(answer.response.patch, undefined);
    const status = answer.response.status as { code: number; message: string; reason: string };
    assert.equal(status.code, 403);
    assert.match(status.message, /runtimeClassName "runc"/);
  });

  test('an ordinary pod gets no patch, no warning', async () => {
    const answer = await review(podReview(untrustedPod({}, { app: 'web' })));
    assert.deepEqual(answer.response, { uid: answer.response.uid, allowed: true });
  });

  test('a review of something other than a pod is allowed unchanged', async () => {
    const body = podReview(untrustedPod());
    (body.request as Record<string, unknown>).resource = { group: 'apps', version: 'v1', resource: 'deployments' };
    (body.request as Record<string, unknown>).kind = { group: 'apps', version: 'v1', kind: 'Deployment' };
    assert.deepEqual((await review(body)).response.allowed, true);
  });

  test('dry-run requests get the same decision', async () => {
    const wet = await review(podReview(untrustedPod()));
    const dry = await review(podReview(untrustedPod(), { dryRun: true }));
    assert.deepEqual(dry.response, wet.response);
  });

  test('/validate never patches and denies a governed pod that is not in a sandbox', async () => {
    const denied = await review(podReview(untrustedPod()), 'validate');
    assert.equal(denied.response.allowed, false);
    assert.equal(denied.response.patch, undefined);
    const allowed = await review(podReview(untrustedPod({ runtimeClassName: 'gvisor' })), 'validate');
    assert.equal(allowed.response.allowed, true);
    assert.equal(allowed.response.patch, undefined);
  });

  test('/validate stays silent on warn-mode violations the mutating webhook already reported', async () => {
    const warnPolicy = policyWithRules(`${UNTRUSTED_TO_GVISOR}      mode: warn\n`);
    const warnHandler = buildReviewHandler({ policy: () => warnPolicy, namespaceLabels: () => ({}), runtimeClasses: () => undefined });
    const mutate = await warnHandler('mutate', podReview(untrustedPod({ runtimeClassName: 'runc' })));
    const validate = await warnHandler('validate', podReview(untrustedPod({ runtimeClassName: 'runc' })));
    assert.equal(mutate.kind === 'reviewed' && (mutate.body as Answer).response.warnings !== undefined, true);
    assert.deepEqual(validate.kind === 'reviewed' && (validate.body as Answer).response, {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      allowed: true,
    });
  });

  // The duration is measured once, by the route (reply.elapsedTime): test/integration/admission/server.test.ts.
  test('the log record names uid, namespace, pod, rule, action and runtime', async () => {
    const outcome = await handler('mutate', podReview(untrustedPod()));
    assert.equal(outcome.kind, 'reviewed');
    if (outcome.kind !== 'reviewed') return;
    for (const field of ['uid', 'namespace', 'pod', 'rule', 'action', 'runtime']) assert.ok(field in outcome.log, field);
    assert.equal('durationMs' in outcome.log, false);
    assert.equal(outcome.log.runtime, 'gvisor');
    assert.deepEqual(outcome.metrics, {
      endpoint: 'mutate',
      resource: 'pod',
      rule: 'untrusted-apps',
      runtime: 'gvisor',
      action: 'patched',
      mode: 'enforce',
    });
  });

  test('metric labels say which rule did what, and in which runtime the pod ends up, with values the policy bounds', async () => {
    const labelsOf = async (body: unknown, endpoint: 'mutate' | 'validate' = 'mutate') => {
      const outcome = await handler(endpoint, body);
      assert.equal(outcome.kind, 'reviewed');
      return outcome.kind === 'reviewed' ? { ...outcome.metrics, violations: outcome.violationKinds ?? [] } : undefined;
    };
    const base = { endpoint: 'mutate', resource: 'pod', violations: [] };
    // The backstop patches nothing: a pod already in its sandbox is allowed as it is.
    assert.deepEqual(await labelsOf(podReview(untrustedPod({ runtimeClassName: 'gvisor' })), 'validate'), {
      ...base,
      endpoint: 'validate',
      rule: 'untrusted-apps',
      runtime: 'gvisor',
      action: 'allowed',
      mode: 'enforce',
    });
    // A class the pod's author made up is never a label value: it is `other`.
    assert.deepEqual(await labelsOf(podReview(untrustedPod({ runtimeClassName: 'made-up-by-anyone-1234' }))), {
      ...base,
      rule: 'untrusted-apps',
      runtime: 'other',
      action: 'denied',
      mode: 'enforce',
      violations: ['runtime-not-allowed'],
    });
    assert.deepEqual(await labelsOf(podReview(untrustedPod({}, { app: 'web' }))), {
      ...base,
      rule: 'none',
      runtime: 'none',
      action: 'allowed',
      mode: 'none',
    });
    assert.deepEqual(await labelsOf(podReview(untrustedPod(), { namespace: 'kube-system' })), {
      ...base,
      rule: 'none',
      runtime: 'none',
      action: 'exempt',
      mode: 'none',
    });
    const deployment = podReview(untrustedPod());
    (deployment.request as Record<string, unknown>).resource = { group: 'apps', version: 'v1', resource: 'deployments' };
    assert.deepEqual(await labelsOf(deployment), {
      ...base,
      resource: 'workload',
      rule: 'none',
      runtime: 'none',
      action: 'allowed',
      mode: 'none',
    });
  });

  test('generateName pods (made by controllers) are logged by their prefix', async () => {
    const pod = untrustedPod();
    pod.metadata = { generateName: 'web-7d9f-', labels: { app: 'untrusted' }, ownerReferences: [{ kind: 'ReplicaSet' }] };
    const outcome = await handler('mutate', podReview(pod));
    assert.equal(outcome.kind === 'reviewed' && outcome.log.pod, 'web-7d9f-<generated>');
  });
});

describe('what each endpoint reviews', () => {
  const review = (
    resource: { group: string; version: string; resource: string },
    kind: string,
    object: unknown,
    extra: Record<string, unknown> = {},
  ) => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u-1',
      kind: { group: resource.group, version: resource.version, kind },
      resource,
      namespace: 'team-a',
      operation: 'CREATE',
      userInfo: { username: 'bob', groups: [] },
      object,
      ...extra,
    },
  });
  const guarded = policyWithRules(UNTRUSTED_TO_GVISOR);
  const h = buildReviewHandler({ policy: () => guarded, namespaceLabels: () => ({}), runtimeClasses: () => undefined });
  const answer = async (endpoint: 'mutate' | 'validate', body: unknown) => {
    const outcome = await h(endpoint, body);
    assert.equal(outcome.kind, 'reviewed');
    return (outcome as { body: Answer }).body.response;
  };

  test('a Namespace UPDATE that drops the runtime label is denied at /validate, ignored at /mutate', async () => {
    const body = review(
      { group: '', version: 'v1', resource: 'namespaces' },
      'Namespace',
      { metadata: { name: 'team-a', labels: {} } },
      {
        operation: 'UPDATE',
        oldObject: { metadata: { name: 'team-a', labels: { 'sandbox-admission.io/runtime': 'gvisor' } } },
      },
    );
    assert.equal((await answer('validate', body)).allowed, false);
    assert.equal((await answer('mutate', body)).allowed, true);
  });

  test('weakening a namespace asks RBAC (SubjectAccessReview) with the full identity, only when the policy lists do not allow it', async () => {
    const asked: Array<{ requester: unknown; namespace: string }> = [];
    let grant: boolean | 'throw' = false;
    const rh = buildReviewHandler({
      policy: () => guarded,
      namespaceLabels: () => ({}),
      runtimeClasses: () => undefined,
      mayWeakenNamespace: async (requester, namespace) => {
        asked.push({ requester, namespace });
        if (grant === 'throw') throw new Error('apiserver unavailable');
        return grant;
      },
    });
    const userInfo = {
      username: 'eks-admin',
      uid: 'u-9',
      groups: ['eks:admins', 'system:authenticated'],
      extra: { accessKeyId: ['AKIA'] },
    };
    const weaken = (user: Record<string, unknown>) =>
      review(
        { group: '', version: 'v1', resource: 'namespaces' },
        'Namespace',
        { metadata: { name: 'team-a', labels: {} } },
        {
          operation: 'UPDATE',
          name: 'team-a',
          userInfo: user,
          oldObject: { metadata: { name: 'team-a', labels: { 'sandbox-admission.io/runtime': 'gvisor' } } },
        },
      );
    const outcome = async (user: Record<string, unknown>) => ((await rh('validate', weaken(user))) as { body: Answer }).body.response;
    const denied = await outcome(userInfo);
    assert.equal(denied.allowed, false);
    assert.match(
      (denied.status as { message: string }).message,
      /or whoever RBAC grants the verb "weaken" on namespacelabels\.sandbox-admission\.io/,
    );
    assert.deepEqual(asked, [{ requester: userInfo, namespace: 'team-a' }]);
    grant = true;
    assert.equal((await outcome(userInfo)).allowed, true);
    grant = 'throw';
    const failed = await outcome(userInfo);
    assert.equal(failed.allowed, false, 'a failed check refuses');
    assert.match((failed.status as { message: string }).message, /could not be made just now/);
    // system:masters is in the policy's list: no question asked. Strengthening never asks either.
    asked.length = 0;
    assert.equal((await outcome({ username: 'root', groups: ['system:masters'] })).allowed, true);
    const strengthen = review(
      { group: '', version: 'v1', resource: 'namespaces' },
      'Namespace',
      { metadata: { name: 'team-a', labels: { 'sandbox-admission.io/runtime': 'gvisor' } } },
      {
        operation: 'UPDATE',
        name: 'team-a',
        oldObject: { metadata: { name: 'team-a', labels: {} } },
      },
    );
    assert.equal(((await rh('validate', strengthen)) as { body: Answer }).body.response.allowed, true);
    assert.deepEqual(asked, []);
  });

  test('a pod UPDATE that makes it governed while on runc is refused at /validate (kubectl set image, an init container, a label); others pass (issue 10, item 1)', async () => {
    const imagePolicy = policyWithRules(
      `    - {name: outside, match: {images: {notFrom: [registry.corp/]}}, action: require}\n    - {name: untrusted-apps, match: {podSelector: {matchLabels: {app: untrusted}}}, action: sandbox, runtime: gvisor}\n`,
    );
    const uh = buildReviewHandler({ policy: () => imagePolicy, namespaceLabels: () => ({}), runtimeClasses: () => undefined });
    const update = async (
      old: ReturnType<typeof untrustedPod>,
      next: ReturnType<typeof untrustedPod>,
      endpoint: 'mutate' | 'validate' = 'validate',
    ) =>
      (
        (await uh(
          endpoint,
          review({ group: '', version: 'v1', resource: 'pods' }, 'Pod', next, { operation: 'UPDATE', oldObject: old }),
        )) as { body: Answer }
      ).body.response;
    const corp = untrustedPod(
      { containers: [{ name: 'c', image: 'registry.corp/app:1' }], initContainers: [{ name: 'i', image: 'registry.corp/init:1' }] },
      { app: 'web' },
    );
    const setImage = structuredClone(corp);
    setImage.spec!.containers![0]!.image = 'docker.io/evil/app:1';
    const refused = await update(corp, setImage);
    assert.equal(refused.allowed, false);
    assert.match(
      (refused.status as { message: string }).message,
      /^sandbox-admission denied this pod: rule "outside" requires a sandbox runtime/,
    );
    const initImage = structuredClone(corp);
    initImage.spec!.initContainers![0]!.image = 'quay.io/evil/init:1';
    assert.equal((await update(corp, initImage)).allowed, false);
    const labelled = structuredClone(corp);
    labelled.metadata!.labels = { app: 'untrusted' };
    assert.equal((await update(corp, labelled)).allowed, false, 'a label that makes a runc pod governed');
    // Unrelated changes: another corp image, tolerations, annotations; the same attack on a sandboxed pod; /mutate never.
    const corpImage = structuredClone(corp);
    corpImage.spec!.containers![0]!.image = 'registry.corp/app:2';
    assert.equal((await update(corp, corpImage)).allowed, true);
    const tolerated = structuredClone(corp);
    tolerated.spec!.tolerations = [{ key: 'k', operator: 'Exists' }];
    tolerated.metadata!.annotations = { note: 'x' };
    assert.equal((await update(corp, tolerated)).allowed, true);
    const sandboxed = untrustedPod(
      { runtimeClassName: 'gvisor', containers: [{ name: 'c', image: 'registry.corp/app:1' }] },
      { app: 'web' },
    );
    const sandboxedSetImage = structuredClone(sandboxed);
    sandboxedSetImage.spec!.containers![0]!.image = 'docker.io/evil/app:1';
    assert.equal((await update(sandboxed, sandboxedSetImage)).allowed, true);
    assert.equal((await update(corp, setImage, 'mutate')).allowed, true);
  });

  test('pods/ephemeralcontainers is checked at /validate', async () => {
    const old = untrustedPod({ runtimeClassName: 'gvisor' });
    const next = structuredClone(old);
    next.spec!.ephemeralContainers = [{ name: 'dbg', image: 'busybox', securityContext: { privileged: true } }];
    const body = review({ group: '', version: 'v1', resource: 'pods' }, 'Pod', next, {
      operation: 'UPDATE',
      subResource: 'ephemeralcontainers',
      oldObject: old,
    });
    const response = await answer('validate', body);
    assert.equal(response.allowed, false);
    assert.match((response.status as { message: string }).message, /ephemeral container "dbg"/);
  });

  test('an ephemeral container whose image makes the pod governed is refused; a pod that was already in breach can still be debugged', async () => {
    const imagePolicy = policyWithRules(`    - {name: outside, match: {images: {notFrom: [registry.corp/]}}, action: require}\n`);
    const ih = buildReviewHandler({ policy: () => imagePolicy, namespaceLabels: () => ({}), runtimeClasses: () => undefined });
    const corpOnly = untrustedPod({ containers: [{ name: 'c', image: 'registry.corp/app:1' }] }, {});
    const debugged = structuredClone(corpOnly);
    debugged.spec!.ephemeralContainers = [{ name: 'dbg', image: 'docker.io/evil/tool' }];
    const body = review({ group: '', version: 'v1', resource: 'pods' }, 'Pod', debugged, {
      operation: 'UPDATE',
      subResource: 'ephemeralcontainers',
      oldObject: corpOnly,
    });
    const outcome = await ih('validate', body);
    const response = (outcome as { body: Answer }).body.response;
    assert.equal(response.allowed, false);
    assert.match(
      (response.status as { message: string }).message,
      /denied this ephemeral container: with it the pod .*rule "outside" requires a sandbox runtime/,
    );
    const legacy = untrustedPod({ containers: [{ name: 'c', image: 'docker.io/legacy' }] }, {});
    const legacyDebugged = structuredClone(legacy);
    legacyDebugged.spec!.ephemeralContainers = [{ name: 'dbg', image: 'busybox' }];
    const again = await ih(
      'validate',
      review({ group: '', version: 'v1', resource: 'pods' }, 'Pod', legacyDebugged, {
        operation: 'UPDATE',
        subResource: 'ephemeralcontainers',
        oldObject: legacy,
      }),
    );
    assert.equal((again as { body: Answer }).body.response.allowed, true);
  });

  test('namespaces/status and namespaces/finalize updates are guarded like the namespace itself', async () => {
    for (const subResource of ['status', 'finalize']) {
      const body = review(
        { group: '', version: 'v1', resource: 'namespaces' },
        'Namespace',
        { metadata: { name: 'team-a', labels: {} } },
        {
          operation: 'UPDATE',
          subResource,
          oldObject: { metadata: { name: 'team-a', labels: { 'sandbox-admission.io/runtime': 'gvisor' } } },
        },
      );
      assert.equal((await answer('validate', body)).allowed, false, subResource);
    }
  });

  test('a Deployment is judged by its template at /validate and never patched', async () => {
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: { template: { metadata: { labels: { app: 'untrusted' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } },
    };
    const response = await answer('validate', review({ group: 'apps', version: 'v1', resource: 'deployments' }, 'Deployment', deployment));
    assert.equal(response.allowed, true);
    assert.equal(response.patch, undefined);
    assert.match((response.warnings as string[])[0]!, /pods of Deployment\/web will run in gVisor/);
  });

  test('a RuntimeClass switched to runc is admitted with a warning and an audit finding', async () => {
    const response = await answer(
      'validate',
      review(
        { group: 'node.k8s.io', version: 'v1', resource: 'runtimeclasses' },
        'RuntimeClass',
        { metadata: { name: 'gvisor' }, handler: 'runc' },
        { namespace: '' },
      ),
    );
    assert.equal(response.allowed, true);
    assert.equal((response.auditAnnotations as Record<string, string>).finding, 'runtime-class-not-sandbox');
    const flagged = review(
      { group: 'node.k8s.io', version: 'v1', resource: 'runtimeclasses' },
      'RuntimeClass',
      { metadata: { name: 'gvisor' }, handler: 'runc' },
      { namespace: '' },
    );
    const outcome = await h('validate', flagged);
    assert.equal(outcome.kind, 'reviewed');
    if (outcome.kind !== 'reviewed') return;
    // Counted as a violation of its kind, labelled by the profile the class serves.
    assert.deepEqual(outcome.violationKinds, ['runtime-class-not-sandbox']);
    assert.equal(outcome.metrics.runtime, 'gvisor');
    assert.equal(outcome.metrics.resource, 'runtime-class');
  });
});
