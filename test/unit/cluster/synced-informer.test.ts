import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { KubeConfig, type Informer, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import { createSyncedInformer, type InformerFactory } from '../../../src/cluster/synced-informer.ts';

/** An informer whose start() emits an error for every entry of `failures` that is true, in turn. */
function fakeInformer(failures: boolean[]) {
  const handlers = new Map<string, Array<(arg: unknown) => void>>();
  const calls = { starts: 0, stops: 0 };
  const informer = {
    on: (verb: string, cb: (arg: unknown) => void) => handlers.set(verb, [...(handlers.get(verb) ?? []), cb]),
    off: () => undefined,
    start: async () => {
      const fail = failures[calls.starts++] ?? false;
      // client-node reports a failed list through 'error' and still resolves start().
      if (fail) for (const cb of handlers.get('error') ?? []) cb(new Error('list failed'));
    },
    stop: async () => {
      calls.stops++;
    },
    get: () => undefined,
    list: () => [],
  };
  const factory = (() => informer as unknown as Informer<KubernetesObject> & ObjectCache<KubernetesObject>) as unknown as InformerFactory;
  const emit = (verb: string, arg: unknown) => {
    for (const cb of handlers.get(verb) ?? []) cb(arg);
  };
  return { factory, calls, emit };
}

const silent = { info: () => undefined, warn: () => undefined };
const list = async () => ({ items: [] });

describe('createSyncedInformer', () => {
  it('is synced after a start without errors', async () => {
    const fake = fakeInformer([false]);
    const informer = createSyncedInformer(new KubeConfig(), '/api/v1/namespaces', list, {
      resource: 'namespaces',
      log: silent,
      makeInformer: fake.factory,
    });
    assert.equal(informer.synced(), false);
    await informer.start();
    assert.equal(informer.synced(), true);
    await informer.stop();
  });

  it('stays not synced when the first list failed, and syncs on the retry', async () => {
    const fake = fakeInformer([true, false]);
    const informer = createSyncedInformer(new KubeConfig(), '/api/v1/namespaces', list, {
      resource: 'namespaces',
      log: silent,
      retryMs: 5,
      makeInformer: fake.factory,
    });
    await informer.start();
    assert.equal(informer.synced(), false);
    await sleep(50);
    assert.equal(fake.calls.starts, 2);
    assert.equal(informer.synced(), true);
    await informer.stop();
  });

  it('a watch error makes it not synced until a restart goes through', async () => {
    const fake = fakeInformer([false, false]);
    const informer = createSyncedInformer(new KubeConfig(), '/api/v1/namespaces', list, {
      resource: 'namespaces',
      log: silent,
      retryMs: 5,
      makeInformer: fake.factory,
    });
    await informer.start();
    fake.emit('error', { code: 410 });
    assert.equal(informer.synced(), false);
    await sleep(50);
    assert.equal(informer.synced(), true);
    await informer.stop();
  });

  it('after stop() it is not synced and does not restart on an error', async () => {
    const fake = fakeInformer([false]);
    const informer = createSyncedInformer(new KubeConfig(), '/api/v1/namespaces', list, {
      resource: 'namespaces',
      log: silent,
      retryMs: 5,
      makeInformer: fake.factory,
    });
    await informer.start();
    await informer.stop();
    fake.emit('error', new Error('late'));
    await sleep(30);
    assert.equal(informer.synced(), false);
    assert.deepEqual(fake.calls, { starts: 1, stops: 1 });
  });

  it('onChange hears adds, updates and deletes', async () => {
    const fake = fakeInformer([false]);
    const informer = createSyncedInformer(new KubeConfig(), '/api/v1/namespaces', list, {
      resource: 'namespaces',
      log: silent,
      makeInformer: fake.factory,
    });
    let changes = 0;
    informer.onChange(() => changes++);
    for (const verb of ['add', 'update', 'delete']) fake.emit(verb, {});
    assert.equal(changes, 3);
  });
});
