import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AuditEntry } from '../../../src/audit/audit-pods.ts';
import { auditCluster, ClusterAuditStopped } from '../../../src/audit/cluster-audit.ts';
import { describeApiError, listActivePodPages, listNamespaceLabels, listRuntimeClassFacts } from '../../../src/audit/list-cluster-state.ts';
import { policyWithRules, UNTRUSTED_TO_GVISOR } from '../../helpers/policy.ts';
import { kubeApiError } from '../helpers/fake-kube-api-client.ts';
import { ALL_PODS_PATH, fakeApis, fakeNamespace, fakePod, NAMESPACES_PATH, RUNTIME_CLASSES_PATH, sampleCluster } from './fake-apis.ts';

const POLICY = policyWithRules(UNTRUSTED_TO_GVISOR, '  namespaceLabels: {enabled: true}\n');

describe('listing the cluster page by page', () => {
  test('pods come in pages of `limit`, each request carrying the previous continue token and the phase selector', async () => {
    const apis = fakeApis(sampleCluster());
    const pages: string[][] = [];
    for await (const page of listActivePodPages(apis, { pageSize: 3 })) pages.push(page.map((p) => p.metadata!.name!));
    assert.deepEqual(pages, [['sandboxed', 'bare', 'hostnet'], ['web', 'dns', 'plain'], ['vm']]);
    const query = (token: string | undefined) => ({
      limit: 3,
      fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed',
      continue: token,
    });
    assert.deepEqual(apis.requests, [
      { method: 'GET', path: ALL_PODS_PATH, query: query(undefined) },
      { method: 'GET', path: ALL_PODS_PATH, query: query('3') },
      { method: 'GET', path: ALL_PODS_PATH, query: query('6') },
    ]);
  });

  test('the default page is 500 pods, and finished pods are dropped even if the server ignores the selector', async () => {
    const cluster = sampleCluster();
    const apis = fakeApis(cluster, { ignoreFieldSelector: true });
    const names: string[] = [];
    for await (const page of listActivePodPages(apis)) names.push(...page.map((p) => p.metadata!.name!));
    assert.ok(!names.includes('finished') && !names.includes('crashed'));
    assert.equal(names.length, 7);
    assert.equal(apis.requests[0]!.query?.limit, 500);
  });

  test('one namespace lists that namespace only', async () => {
    const apis = fakeApis(sampleCluster());
    const names: string[] = [];
    for await (const page of listActivePodPages(apis, { namespace: 'labelled' })) names.push(...page.map((p) => p.metadata!.name!));
    assert.deepEqual(names, ['plain', 'vm']);
    assert.deepEqual(
      apis.requests.map((r) => `${r.method} ${r.path}`),
      ['GET /api/v1/namespaces/labelled/pods'],
    );
  });

  test('namespaces and RuntimeClasses are paginated too, keeping names, labels and class facts', async () => {
    const apis = fakeApis(sampleCluster());
    const labels = await listNamespaceLabels(apis, { pageSize: 2 });
    assert.deepEqual([...labels.keys()], ['apps', 'kube-system', 'labelled']);
    assert.equal(labels.get('labelled')!['sandbox-admission.io/runtime'], 'kata');
    const classes = await listRuntimeClassFacts(apis, { pageSize: 1 });
    assert.deepEqual(
      [...classes.values()],
      [
        { name: 'gvisor', handler: 'runsc' },
        { name: 'kata', handler: 'kata' },
      ],
    );
    assert.deepEqual(
      apis.requests.map((r) => `${r.path}?limit=${r.query?.limit}&continue=${r.query?.continue ?? ''}`),
      [
        `${NAMESPACES_PATH}?limit=2&continue=`,
        `${NAMESPACES_PATH}?limit=2&continue=2`,
        `${RUNTIME_CLASSES_PATH}?limit=1&continue=`,
        `${RUNTIME_CLASSES_PATH}?limit=1&continue=1`,
      ],
    );
  });

  test('a single namespace is read, not listed; a missing one has no labels', async () => {
    const apis = fakeApis(sampleCluster());
    assert.deepEqual([...(await listNamespaceLabels(apis, { namespace: 'labelled' })).keys()], ['labelled']);
    assert.deepEqual([...(await listNamespaceLabels(apis, { namespace: 'gone' })).keys()], []);
    assert.deepEqual(
      apis.requests.map((r) => `${r.method} ${r.path}`),
      ['GET /api/v1/namespaces/labelled', 'GET /api/v1/namespaces/gone'],
    );
  });

  test('API errors read as one line with the status and the server message', () => {
    assert.equal(
      describeApiError(kubeApiError(403, 'pods is forbidden: User "x" cannot list resource "pods"')),
      'API server answered 403: pods is forbidden: User "x" cannot list resource "pods"',
    );
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
    const request = apis.request;
    apis.request = async <T>(sent: Parameters<typeof request>[0]): Promise<T> => {
      const answer = await request<T>(sent);
      if (sent.path === NAMESPACES_PATH) {
        cluster.namespaces.push(fakeNamespace('late', { 'sandbox-admission.io/runtime': 'gvisor' }));
        cluster.pods.push(fakePod('late', 'a'), fakePod('late', 'b'));
      }
      return answer;
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
      apis.requests.filter((r) => r.path.startsWith(`${NAMESPACES_PATH}/`)).map((r) => r.path),
      ['/api/v1/namespaces/late'],
    );
  });

  test('an API error is thrown to the caller', async () => {
    const apis = fakeApis(sampleCluster());
    apis.failNext(ALL_PODS_PATH, kubeApiError(410, 'the continue token is too old'));
    await assert.rejects(auditCluster(apis, { policy: POLICY }), { code: 410 });
  });

  test('a stop request ends the audit after the current page', async () => {
    const apis = fakeApis(sampleCluster());
    let pages = 0;
    await assert.rejects(auditCluster(apis, { policy: POLICY, pageSize: 2, stopRequested: () => ++pages >= 2 }), ClusterAuditStopped);
    assert.equal(apis.requestsTo(ALL_PODS_PATH).length, 2);
  });
});
