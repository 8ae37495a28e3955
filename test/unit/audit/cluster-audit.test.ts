import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AuditEntry } from '../../../src/audit/audit-pods.ts';
import { auditCluster, ClusterAuditStopped } from '../../../src/audit/cluster-audit.ts';
import { describeApiError, listActivePodPages, listNamespaceLabels, listRuntimeClassFacts } from '../../../src/audit/list-cluster-state.ts';
import { policyWithRules, UNTRUSTED_TO_GVISOR } from '../../helpers/policy.ts';
import { fakeApis, fakeNamespace, fakePod, sampleCluster } from './fake-apis.ts';

const POLICY = policyWithRules(UNTRUSTED_TO_GVISOR, '  namespaceLabels: {enabled: true}\n');

describe('listing the cluster page by page', () => {
  test('pods come in pages of `limit`, each request carrying the previous continue token and the phase selector', async () => {
    const apis = fakeApis(sampleCluster());
    const pages: string[][] = [];
    for await (const page of listActivePodPages(apis.core, { pageSize: 3 })) pages.push(page.map((p) => p.metadata!.name!));
    assert.deepEqual(pages, [['sandboxed', 'bare', 'hostnet'], ['web', 'dns', 'plain'], ['vm']]);
    assert.deepEqual(
      apis.calls.map((c) => c.params),
      [
        { limit: 3, fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' },
        { limit: 3, fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed', _continue: '3' },
        { limit: 3, fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed', _continue: '6' },
      ],
    );
  });

  test('the default page is 500 pods, and finished pods are dropped even if the server ignores the selector', async () => {
    const cluster = sampleCluster();
    const apis = fakeApis(cluster);
    apis.core.listPodForAllNamespaces = async () => ({ items: cluster.pods, metadata: {} });
    const names: string[] = [];
    for await (const page of listActivePodPages(apis.core)) names.push(...page.map((p) => p.metadata!.name!));
    assert.ok(!names.includes('finished') && !names.includes('crashed'));
    assert.equal(names.length, 7);
    const recorder = fakeApis(cluster);
    for await (const _ of listActivePodPages(recorder.core)) void _;
    assert.equal(recorder.calls[0]!.params.limit, 500);
  });

  test('one namespace lists that namespace only', async () => {
    const apis = fakeApis(sampleCluster());
    const names: string[] = [];
    for await (const page of listActivePodPages(apis.core, { namespace: 'labelled' })) names.push(...page.map((p) => p.metadata!.name!));
    assert.deepEqual(names, ['plain', 'vm']);
    assert.equal(apis.calls[0]!.method, 'listNamespacedPod');
    assert.equal(apis.calls[0]!.params.namespace, 'labelled');
  });

  test('namespaces and RuntimeClasses are paginated too, keeping names, labels and class facts', async () => {
    const apis = fakeApis(sampleCluster());
    const labels = await listNamespaceLabels(apis.core, { pageSize: 2 });
    assert.deepEqual([...labels.keys()], ['apps', 'kube-system', 'labelled']);
    assert.equal(labels.get('labelled')!['sandbox-admission.io/runtime'], 'kata');
    const classes = await listRuntimeClassFacts(apis.node, { pageSize: 1 });
    assert.deepEqual(
      [...classes.values()],
      [
        { name: 'gvisor', handler: 'runsc' },
        { name: 'kata', handler: 'kata' },
      ],
    );
    assert.deepEqual(
      apis.calls.map((c) => `${c.method}:${String(c.params._continue ?? '')}`),
      ['listNamespace:', 'listNamespace:2', 'listRuntimeClass:', 'listRuntimeClass:1'],
    );
  });

  test('a single namespace is read, not listed; a missing one has no labels', async () => {
    const apis = fakeApis(sampleCluster());
    assert.deepEqual([...(await listNamespaceLabels(apis.core, { namespace: 'labelled' })).keys()], ['labelled']);
    assert.deepEqual([...(await listNamespaceLabels(apis.core, { namespace: 'gone' })).keys()], []);
    assert.deepEqual(
      apis.calls.map((c) => c.method),
      ['readNamespace', 'readNamespace'],
    );
  });

  test('API errors read as one line with the status and the server message', () => {
    assert.equal(
      describeApiError(
        Object.assign(new Error('HTTP-Code: 403\nMessage: ...\nBody: ...'), {
          code: 403,
          body: JSON.stringify({ message: 'pods is forbidden: User "x" cannot list resource "pods"' }),
        }),
      ),
      'API server answered 403: pods is forbidden: User "x" cannot list resource "pods"',
    );
    assert.equal(
      describeApiError(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } })),
      'fetch failed (ECONNREFUSED)',
    );
  });
});

describe('auditCluster', () => {
  test('judges every active pod with its namespace labels and the cluster classes, whatever the page size', async () => {
    for (const pageSize of [1, 2, 500]) {
      const entries: AuditEntry[] = [];
      const summary = await auditCluster(fakeApis(sampleCluster()), { policy: POLICY, pageSize, onEntry: (e) => entries.push(e) });
      assert.deepEqual(
        entries.map((e) => `${e.namespace}/${e.pod}:${e.finding ? e.violations.map((v) => v.kind).join('+') : 'ok'}`),
        [
          'apps/sandboxed:ok',
          'apps/bare:no-sandbox-runtime',
          'apps/hostnet:unsupported-feature',
          'labelled/plain:no-sandbox-runtime',
          'labelled/vm:ok',
        ],
        `page size ${pageSize}`,
      );
      assert.equal(summary.scanned, 7);
      assert.equal(summary.governed, 5);
      assert.deepEqual(summary.findingsByMode, { enforce: 2, warn: 1, audit: 0 });
    }
  });

  test('a namespace created after the namespace list is read once, so its labels still apply', async () => {
    const cluster = sampleCluster();
    const apis = fakeApis(cluster);
    const listNamespace = apis.core.listNamespace;
    apis.core.listNamespace = async (params) => {
      const page = await listNamespace(params);
      cluster.namespaces.push(fakeNamespace('late', { 'sandbox-admission.io/runtime': 'gvisor' }));
      cluster.pods.push(fakePod('late', 'a'), fakePod('late', 'b'));
      return page;
    };
    const entries: AuditEntry[] = [];
    await auditCluster(apis, { policy: POLICY, onEntry: (e) => entries.push(e) });
    assert.deepEqual(
      entries.filter((e) => e.namespace === 'late').map((e) => [e.pod, e.rule, e.finding]),
      [
        ['a', 'namespace-label', true],
        ['b', 'namespace-label', true],
      ],
    );
    assert.deepEqual(
      apis.calls.filter((c) => c.method === 'readNamespace').map((c) => c.params.name),
      ['late'],
    );
  });

  test('an API error is thrown to the caller', async () => {
    const apis = fakeApis(sampleCluster());
    apis.failNext('listPodForAllNamespaces', Object.assign(new Error('gone'), { code: 410 }));
    await assert.rejects(auditCluster(apis, { policy: POLICY }), { code: 410 });
  });

  test('a stop request ends the audit after the current page', async () => {
    const apis = fakeApis(sampleCluster());
    let pages = 0;
    await assert.rejects(auditCluster(apis, { policy: POLICY, pageSize: 2, stopRequested: () => ++pages >= 2 }), ClusterAuditStopped);
    assert.equal(apis.calls.filter((c) => c.method === 'listPodForAllNamespaces').length, 2);
  });
});
