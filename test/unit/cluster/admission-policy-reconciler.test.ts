import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildMutatingAdmissionPolicies } from '../../../src/admission-policies/mutating-admission-policy.ts';
import { buildValidatingAdmissionPolicies } from '../../../src/admission-policies/validating-admission-policy.ts';
import {
  createAdmissionPolicyReconciler,
  parseManagedPolicyKinds,
  type ManagedPolicyKind,
} from '../../../src/cluster/admission-policy-reconciler.ts';
import { FIELD_MANAGER, foreignSpecFields, type LiveObject, type ObjectWriter } from '../../../src/cluster/server-side-apply.ts';
import { parsePolicyDocument } from '../../../src/policy/parse.ts';

const quiet = { info: () => undefined, warn: () => undefined };

/** An in-memory API: apply bumps the resourceVersion only when the content changes, as the API server does. */
function createFakeCluster() {
  const store = new Map<string, LiveObject>();
  let version = 0;
  const key = (o: { kind?: string; metadata?: { name?: string } }) => `${o.kind}/${o.metadata?.name}`;
  const writes: string[] = [];
  const calls = { apply: 0 };
  const writer: ObjectWriter = {
    list: async (_apiVersion, kind, labelSelector) =>
      [...store.values()].filter(
        (o) =>
          o.kind === kind &&
          labelSelector.split(',').every((pair) => {
            const [k, v] = pair.split('=');
            return o.metadata?.labels?.[k!] === v;
          }),
      ),
    apply: async (object) => {
      calls.apply++;
      const old = store.get(key(object));
      const content = JSON.stringify({ ...object, metadata: { ...object.metadata, resourceVersion: undefined } });
      const oldContent =
        old && JSON.stringify({ ...old, metadata: { ...old.metadata, resourceVersion: undefined, managedFields: undefined } });
      if (old && content === oldContent) return old;
      writes.push(`apply ${key(object)}`);
      const next = {
        ...structuredClone(object),
        metadata: {
          ...structuredClone(object.metadata),
          resourceVersion: String(++version),
          managedFields: old?.metadata?.managedFields ?? [],
        },
      } as LiveObject;
      store.set(key(object), next);
      return next;
    },
    replace: async (object) => {
      writes.push(`replace ${key(object)}`);
      const next = {
        ...structuredClone(object),
        metadata: { ...structuredClone(object.metadata), resourceVersion: String(++version), managedFields: [] },
      } as LiveObject;
      store.set(key(object), next);
      return next;
    },
    delete: async (object) => {
      writes.push(`delete ${key(object)}`);
      store.delete(key(object));
    },
  };
  return { store, writer, writes, calls };
}

const document = (yaml: string) => {
  const parsed = parsePolicyDocument(yaml, { webhookNamespace: 'sandbox-admission' });
  assert.ok(parsed.ok);
  return parsed.value.document;
};
const ENFORCE_ONLY = document(`apiVersion: sandbox-admission.io/v1alpha1
kind: SandboxPolicy
metadata: {name: p}
spec:
  namespaceLabels: {enabled: false}
  rules:
    - {name: untrusted, match: {podSelector: {matchLabels: {app: untrusted}}}, action: sandbox, runtime: gvisor}
`);
const WITH_WARN = document(`apiVersion: sandbox-admission.io/v1alpha1
kind: SandboxPolicy
metadata: {name: p}
spec:
  namespaceLabels: {enabled: false}
  rules:
    - {name: untrusted, match: {podSelector: {matchLabels: {app: untrusted}}}, action: sandbox, runtime: gvisor}
    - {name: legacy, match: {namespaces: [legacy]}, action: sandbox, runtime: gvisor, mode: warn}
`);

function setup(kinds: ManagedPolicyKind[], initial = ENFORCE_ONLY) {
  const cluster = createFakeCluster();
  let doc = initial;
  let leading = true;
  const reconciler = createAdmissionPolicyReconciler({
    kinds: new Set(kinds),
    desired: () => [
      ...(kinds.includes('validating') ? buildValidatingAdmissionPolicies(doc, { webhookNamespace: 'sandbox-admission' }) : []),
      ...(kinds.includes('mutating') ? buildMutatingAdmissionPolicies(doc, { webhookNamespace: 'sandbox-admission' }) : []),
    ],
    writer: cluster.writer,
    isLeader: () => leading,
    log: quiet,
    intervalMs: 60_000,
  });
  return {
    ...cluster,
    reconciler,
    setDocument: (d: typeof doc) => {
      doc = d;
    },
    setLeading: (v: boolean) => {
      leading = v;
    },
  };
}

describe('createAdmissionPolicyReconciler', () => {
  it('creates what the policy renders, then writes nothing while it is unchanged', async () => {
    const t = setup(['validating', 'mutating']);
    const first = await t.reconciler.reconcile();
    assert.equal(
      first?.changes.every((c) => c.action === 'created'),
      true,
    );
    assert.equal(first?.changes.length, 8);
    const versions = [...t.store.values()].map((o) => o.metadata?.resourceVersion);
    t.writes.length = 0;
    const applies = t.calls.apply;
    const second = await t.reconciler.reconcile();
    assert.deepEqual(second, { changes: [], unchanged: 8 });
    assert.deepEqual(t.writes, []);
    // Nothing written by anyone since, and the same rendering: not even sent (the periodic check is two lists).
    assert.equal(t.calls.apply, applies);
    assert.deepEqual(
      [...t.store.values()].map((o) => o.metadata?.resourceVersion),
      versions,
    );
  });

  it('follows a policy change: updates, adds the new pair, deletes the pair no rule needs any more (binding first)', async () => {
    const t = setup(['validating']);
    await t.reconciler.reconcile();
    t.setDocument(WITH_WARN);
    const grown = await t.reconciler.reconcile();
    assert.ok(grown?.changes.some((c) => c.name === 'sandbox-admission-warn' && c.action === 'created'));
    assert.ok(grown?.changes.some((c) => c.name === 'sandbox-admission-enforce' && c.action === 'updated'));
    t.setDocument(ENFORCE_ONLY);
    t.writes.length = 0;
    await t.reconciler.reconcile();
    const deletes = t.writes.filter((w) => w.startsWith('delete'));
    assert.deepEqual(deletes.slice(0, 2).sort(), [
      'delete ValidatingAdmissionPolicyBinding/sandbox-admission-runtime-class-warn',
      'delete ValidatingAdmissionPolicyBinding/sandbox-admission-warn',
    ]);
    assert.deepEqual(deletes.slice(2).sort(), [
      'delete ValidatingAdmissionPolicy/sandbox-admission-runtime-class-warn',
      'delete ValidatingAdmissionPolicy/sandbox-admission-warn',
    ]);
    assert.ok(![...t.store.keys()].some((k) => k.includes('-warn')));
  });

  it('touches only the managed kinds', async () => {
    const t = setup(['validating']);
    t.store.set('MutatingAdmissionPolicy/sandbox-admission-sandbox', {
      kind: 'MutatingAdmissionPolicy',
      metadata: {
        name: 'sandbox-admission-sandbox',
        labels: { 'app.kubernetes.io/name': 'sandbox-admission', 'app.kubernetes.io/component': 'mutating-admission-policy' },
      },
    });
    await t.reconciler.reconcile();
    assert.ok(t.store.has('MutatingAdmissionPolicy/sandbox-admission-sandbox'));
    assert.ok(!t.writes.some((w) => w.includes('Mutating')));
  });

  it('recreates a deleted object and replaces one another manager added spec fields to', async () => {
    const t = setup(['validating']);
    await t.reconciler.reconcile();
    t.store.delete('ValidatingAdmissionPolicyBinding/sandbox-admission-enforce');
    const vap = t.store.get('ValidatingAdmissionPolicy/sandbox-admission-enforce')!;
    // An edit by another manager: a new resourceVersion, and fields only it owns.
    vap.metadata!.resourceVersion = 'edited';
    vap.metadata!.managedFields = [
      { manager: FIELD_MANAGER, operation: 'Apply', fieldsV1: { 'f:spec': { 'f:validations': {} } } },
      {
        manager: 'kubectl-edit',
        operation: 'Update',
        fieldsV1: { 'f:spec': { 'f:matchConditions': { 'k:{"name":"nothing"}': { '.': {}, 'f:name': {} } } } },
      },
    ];
    t.writes.length = 0;
    const result = await t.reconciler.reconcile();
    assert.deepEqual(result?.changes.map((c) => `${c.action} ${c.kind}/${c.name}`).sort(), [
      'created ValidatingAdmissionPolicyBinding/sandbox-admission-enforce',
      'repaired ValidatingAdmissionPolicy/sandbox-admission-enforce',
    ]);
    assert.ok(t.writes.includes('replace ValidatingAdmissionPolicy/sandbox-admission-enforce'));
  });

  it('writes nothing when not leading', async () => {
    const t = setup(['validating', 'mutating']);
    t.setLeading(false);
    assert.equal(await t.reconciler.reconcile(), undefined);
    assert.deepEqual(t.writes, []);
  });

  it('never rejects: a failed write is retried at the next reconcile', async () => {
    const t = setup(['validating']);
    const apply = t.writer.apply;
    t.writer.apply = async () => {
      throw Object.assign(new Error('forbidden'), { code: 403 });
    };
    assert.equal(await t.reconciler.reconcile(), undefined);
    t.writer.apply = apply;
    assert.equal((await t.reconciler.reconcile())?.changes.length, 6);
  });
});

describe('foreignSpecFields', () => {
  it('finds fields only another manager owns, not those both own or ours as a whole', () => {
    const managed = [
      {
        manager: FIELD_MANAGER,
        operation: 'Apply',
        fieldsV1: {
          'f:metadata': { 'f:labels': {} },
          'f:spec': {
            'f:failurePolicy': {},
            'f:validations': {},
            'f:matchConditions': { 'k:{"name":"a"}': { '.': {}, 'f:name': {}, 'f:expression': {} } },
          },
        },
      },
      // The install's own kubectl apply of the same values: co-owned, not drift.
      {
        manager: 'kubectl',
        operation: 'Apply',
        fieldsV1: { 'f:spec': { 'f:failurePolicy': {}, 'f:matchConditions': { 'k:{"name":"a"}': { 'f:expression': {} } } } },
      },
      {
        manager: 'kubectl-edit',
        operation: 'Update',
        fieldsV1: {
          'f:metadata': { 'f:labels': { 'f:extra': {} } },
          'f:spec': { 'f:matchConditions': { 'k:{"name":"b"}': { '.': {}, 'f:name': {} } }, 'f:auditAnnotations': {} },
        },
      },
    ];
    assert.deepEqual(foreignSpecFields(managed), ['f:spec/f:auditAnnotations', 'f:spec/f:matchConditions/k:{"name":"b"}/f:name']);
    assert.deepEqual(foreignSpecFields(managed.slice(0, 2)), []);
    assert.deepEqual(foreignSpecFields(undefined), []);
  });
});

describe('parseManagedPolicyKinds', () => {
  it('reads none, one kind or both, comma-separated or repeated', () => {
    assert.deepEqual([...parseManagedPolicyKinds([])], []);
    assert.deepEqual([...parseManagedPolicyKinds(['none'])], []);
    assert.deepEqual([...parseManagedPolicyKinds(['validating,mutating'])], ['validating', 'mutating']);
    assert.deepEqual([...parseManagedPolicyKinds(['validating', 'mutating'])], ['validating', 'mutating']);
    assert.throws(() => parseManagedPolicyKinds(['validating,bogus']), /takes none, validating or mutating, got "bogus"/);
    assert.throws(() => parseManagedPolicyKinds(['none,validating']), /cannot be combined/);
  });
});
