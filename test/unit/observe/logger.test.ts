import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../../src/observe/logger.ts';

function createSink() {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, destination: { write: (chunk: string) => void lines.push(JSON.parse(chunk)) } };
}

describe('createLogger', () => {
  it('writes one JSON object per line with a level label and ISO time', () => {
    const { lines, destination } = createSink();
    const logger = createLogger({ level: 'info', destination });
    logger.info({ uid: 'abc', namespace: 'team-a' }, 'admission decision');
    assert.equal(lines.length, 1);
    const [line] = lines;
    assert.equal(line?.['level'], 'info');
    assert.equal(line?.['msg'], 'admission decision');
    assert.equal(line?.['uid'], 'abc');
    assert.equal(line?.['namespace'], 'team-a');
    assert.match(String(line?.['time']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('drops lines below the configured level', () => {
    const { lines, destination } = createSink();
    const logger = createLogger({ level: 'warn', destination });
    logger.info({}, 'quiet');
    logger.warn({}, 'loud');
    assert.deepEqual(
      lines.map((l) => l['msg']),
      ['loud'],
    );
  });

  it('serializes errors with their stack under err', () => {
    const { lines, destination } = createSink();
    createLogger({ level: 'info', destination }).error({ err: new Error('boom') }, 'review failed');
    const err = lines[0]?.['err'] as Record<string, unknown>;
    assert.equal(err['message'], 'boom');
    assert.match(String(err['stack']), /Error: boom/);
  });

  it('refuses an unknown level at start-up', () => {
    const { destination } = createSink();
    assert.throws(() => createLogger({ level: 'chatty', destination }), /level/);
  });
});
