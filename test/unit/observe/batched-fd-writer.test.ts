import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBatchedFdWriter } from '../../../src/observe/batched-fd-writer.ts';

function recorder(behaviour: (call: number, length: number) => number | NodeJS.ErrnoException = (_c, length) => length) {
  const writes: string[] = [];
  let calls = 0;
  const writeSync = (_fd: number, buffer: Uint8Array, offset: number, length: number): number => {
    const outcome = behaviour(calls++, length);
    if (outcome instanceof Error) throw outcome;
    writes.push(Buffer.from(buffer.subarray(offset, offset + outcome)).toString('utf8'));
    return outcome;
  };
  return { writes, writeSync, calls: () => calls };
}

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });

describe('createBatchedFdWriter', () => {
  it('writes nothing until the batch is full, then the whole batch in one write', () => {
    const r = recorder();
    const writer = createBatchedFdWriter(1, { maxBytes: 10, flushMs: 60_000, writeSync: r.writeSync });
    writer.write('abcd\n');
    assert.deepEqual(r.writes, []);
    writer.write('éfgh\n');
    assert.deepEqual(r.writes, ['abcd\néfgh\n']);
    writer.flushSync();
    assert.equal(r.calls(), 1, 'an empty batch is not written');
  });

  it('writes a partial batch within flushMs', async () => {
    const r = recorder();
    const writer = createBatchedFdWriter(1, { maxBytes: 1 << 20, flushMs: 5, writeSync: r.writeSync });
    writer.write('one\n');
    writer.write('two\n');
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.deepEqual(r.writes, ['one\ntwo\n']);
  });

  it('finishes a short write and waits out EAGAIN, losing no byte', () => {
    const r = recorder((call, length) => (call === 0 ? 3 : call === 1 ? errno('EAGAIN') : length));
    const writer = createBatchedFdWriter(1, { maxBytes: 1 << 20, flushMs: 60_000, writeSync: r.writeSync });
    writer.write('hello world\n');
    writer.flushSync();
    assert.equal(r.writes.join(''), 'hello world\n');
    assert.equal(r.calls(), 3);
  });

  it('drops the batch on a broken stdout instead of throwing into the request that logged', () => {
    const r = recorder((call, length) => (call === 0 ? errno('EPIPE') : length));
    const writer = createBatchedFdWriter(1, { maxBytes: 1 << 20, flushMs: 60_000, writeSync: r.writeSync });
    writer.write('lost\n');
    assert.doesNotThrow(() => writer.flushSync());
    writer.write('next\n');
    writer.flushSync();
    assert.deepEqual(r.writes, ['next\n']);
  });
});
