import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { createSyncedInformer } from '../../../src/cluster/synced-informer.ts';
import type { ApiRequest, KubeObject } from '../../../src/kube/api-client.ts';
import { createFakeKubeApiClient, createWatchChannel, kubeApiError, type WatchChannel } from '../helpers/fake-kube-api-client.ts';

const PATH = '/api/v1/namespaces';
const silent = { info: () => undefined, warn: () => undefined };
const ns = (name: string, rv: string, labels: Record<string, string> = {}): KubeObject => ({
  metadata: { name, resourceVersion: rv, labels, managedFields: [{ manager: 'kubectl' }] },
});

/**
 * A fake API holding `objects` (listed `limit` at a time, at list resourceVersion `rv`), whose watches are the
 * channels given, in order; once they run out, a watch stays open without events.
 */
function fakeApi(objects: () => KubeObject[], rv: () => string, channels: WatchChannel[] = []) {
  const idle = createWatchChannel();
  const client = createFakeKubeApiClient(
    (request: ApiRequest) => {
      const all = objects();
      const start = request.query?.continue ? Number(request.query.continue) : 0;
      const end = start + Number(request.query?.limit ?? all.length);
      return { items: all.slice(start, end), metadata: { resourceVersion: rv(), ...(end < all.length ? { continue: String(end) } : {}) } };
    },
    (_path, _query, signal, onConnected) => (channels.shift() ?? idle).stream(signal, onConnected),
  );
  return client;
}

const labelsInformer = (client: ReturnType<typeof fakeApi>, retryMs = 5) =>
  createSyncedInformer<KubeObject, Record<string, string>>(client, PATH, {
    resource: 'namespaces',
    log: silent,
    transform: (o) => o.metadata?.labels ?? {},
    retryMs,
    pageSize: 2,
    watchTimeoutSeconds: () => 300,
  });

describe('createSyncedInformer (list, then watch)', () => {
  it('lists every page, keeps what transform keeps, then watches from the list resourceVersion with bookmarks', async () => {
    const client = fakeApi(
      () => [ns('a', '1', { x: '1' }), ns('b', '2'), ns('c', '3')],
      () => '40',
    );
    const informer = labelsInformer(client);
    assert.equal(informer.synced(), false);
    await informer.start();
    await sleep(5);
    assert.equal(informer.synced(), true);
    assert.deepEqual(informer.cache.get('a'), { x: '1' }, 'only the labels are kept');
    assert.equal(informer.cache.list().length, 3);
    assert.deepEqual(
      client.requests.map((r) => r.query),
      [{ limit: 2 }, { limit: 2, continue: '2' }],
    );
    assert.deepEqual(client.watches, [{ path: PATH, query: { resourceVersion: '40', allowWatchBookmarks: true, timeoutSeconds: 300 } }]);
    await informer.stop();
  });

  it('applies added, modified and deleted objects; a bookmark moves only the resourceVersion; a closed watch resumes from the last one', async () => {
    const first = createWatchChannel();
    const client = fakeApi(
      () => [ns('a', '1')],
      () => '10',
      [first],
    );
    const informer = labelsInformer(client);
    let changes = 0;
    informer.onChange(() => changes++);
    await informer.start();
    await first.push({ type: 'ADDED', object: ns('b', '11', { team: 'x' }) });
    await first.push({ type: 'MODIFIED', object: ns('a', '12', { team: 'y' }) });
    await first.push({ type: 'DELETED', object: ns('b', '13') });
    await first.push({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '20' } } });
    assert.deepEqual(informer.cache.get('a'), { team: 'y' });
    assert.equal(informer.cache.get('b'), undefined);
    assert.equal(changes, 4, 'the list and three changes; a bookmark is none');
    await first.end();
    await sleep(20);
    assert.equal(client.watches.length, 2);
    assert.equal(client.watches[1]!.query.resourceVersion, '20', 'watched again from the bookmark');
    assert.equal(client.requests.length, 1, 'no list again after a watch the server ended');
    assert.equal(informer.synced(), true);
    await informer.stop();
  });

  it('lists again when the watch says its resourceVersion expired (an ERROR event with code 410)', async () => {
    const first = createWatchChannel();
    let names = ['a'];
    const client = fakeApi(
      () => names.map((n, i) => ns(n, String(i))),
      () => (names.length === 1 ? '5' : '50'),
      [first],
    );
    const informer = labelsInformer(client);
    await informer.start();
    names = ['b', 'c'];
    await first.push({ type: 'ERROR', object: { kind: 'Status', code: 410, message: 'too old resource version: 5 (40)' } as never });
    await sleep(20);
    assert.deepEqual(informer.cache.list().length, 2);
    assert.equal(informer.cache.get('a'), undefined, 'the relist replaced the cache');
    assert.equal(client.watches.at(-1)!.query.resourceVersion, '50');
    await informer.stop();
  });

  it('lists again when the server refuses the watch itself with 410 Gone, instead of watching that version again', async () => {
    let names = ['a'];
    let watchCalls = 0;
    const idle = createWatchChannel();
    const client = createFakeKubeApiClient(
      () => ({ items: names.map((n, i) => ns(n, String(i))), metadata: { resourceVersion: names.length === 1 ? '5' : '50' } }),
      (_path, query, signal, onConnected) => {
        watchCalls++;
        if (query.resourceVersion === '5')
          return { [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(kubeApiError(410, 'too old resource version: 5 (40)')) }) };
        return idle.stream(signal, onConnected);
      },
    );
    const informer = labelsInformer(client as ReturnType<typeof fakeApi>);
    await informer.start();
    names = ['b', 'c'];
    await sleep(50);
    assert.equal(client.watches.at(-1)!.query.resourceVersion, '50', 'watched from the new list, not from 5 again');
    assert.equal(watchCalls, 2);
    assert.deepEqual(informer.cache.list().length, 2);
    assert.equal(informer.synced(), true);
    await informer.stop();
  });

  it('restarts the list from the first page when a continue token expires mid-list', async () => {
    const client = fakeApi(
      () => [ns('a', '1'), ns('b', '2'), ns('c', '3')],
      () => '9',
    );
    client.failNext(PATH, undefined);
    let calls = 0;
    const failing = createFakeKubeApiClient(
      (request) => {
        calls++;
        if (calls === 2) throw kubeApiError(410, 'The provided continue parameter is too old');
        return client.request(request);
      },
      (_p, _q, signal, onConnected) => createWatchChannel().stream(signal, onConnected),
    );
    const informer = createSyncedInformer<KubeObject, string>(failing, PATH, {
      resource: 'namespaces',
      log: silent,
      transform: (o) => o.metadata?.name ?? '',
      pageSize: 2,
      retryMs: 5,
    });
    await informer.start();
    await sleep(20);
    assert.deepEqual(
      failing.requests.map((r) => r.query),
      [{ limit: 2 }, { limit: 2, continue: '2' }, { limit: 2 }, { limit: 2, continue: '2' }],
    );
    assert.deepEqual(informer.cache.list().sort(), ['a', 'b', 'c']);
    assert.equal(informer.synced(), true);
    await informer.stop();
  });

  it('a failed first list: start() resolves, not synced; the retry syncs it', async () => {
    const client = fakeApi(
      () => [ns('a', '1')],
      () => '3',
    );
    client.failNext(PATH, kubeApiError(403, 'namespaces is forbidden'));
    const warnings: string[] = [];
    const informer = createSyncedInformer<KubeObject, unknown>(client, PATH, {
      resource: 'namespaces',
      log: { info: () => undefined, warn: (_d, m) => warnings.push(m) },
      transform: (o) => o,
      retryMs: 5,
    });
    await informer.start();
    assert.equal(informer.synced(), false);
    await sleep(40);
    assert.equal(informer.synced(), true);
    assert.deepEqual(warnings, ['watch failed; cache not ready until it resyncs']);
    await informer.stop();
  });

  it('a broken watch is not synced until a watch runs again, without listing again', async () => {
    const first = createWatchChannel();
    const second = createWatchChannel();
    const client = fakeApi(
      () => [ns('a', '1')],
      () => '3',
      [first, second],
    );
    const informer = labelsInformer(client, 30);
    await informer.start();
    await first.push({ type: 'ADDED', object: ns('b', '4') });
    await first.fail(new Error('socket hang up'));
    assert.equal(informer.synced(), false);
    await sleep(60);
    assert.equal(informer.synced(), true, 'synced again once the new watch is accepted, before any event');
    await second.push({ type: 'ADDED', object: ns('c', '5') });
    assert.equal(client.watches[1]!.query.resourceVersion, '4');
    assert.equal(client.requests.length, 1);
    assert.ok(informer.cache.get('c'));
    await informer.stop();
  });

  it('stop() ends the watch and any retry; nothing runs after it', async () => {
    const client = fakeApi(
      () => [],
      () => '1',
    );
    const informer = labelsInformer(client);
    await informer.start();
    await informer.stop();
    const before = client.requests.length + client.watches.length;
    await sleep(30);
    assert.equal(client.requests.length + client.watches.length, before);
    assert.equal(informer.synced(), false);
  });
});
