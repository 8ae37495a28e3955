import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { createLogger, writeInfoLine } from '../../../src/observe/logger.ts';

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

describe('writeInfoLine', () => {
  const fields = {
    endpoint: 'mutate',
    uid: 'u-1',
    namespace: 'team "a"\n',
    pod: undefined,
    dryRun: false,
    patchOps: 3,
    durationMs: 0.123,
    violations: ['hostNetwork', 'hostPath'],
    reason: 'matched rule untrusted-apps: caf\u00e9 \u2028',
  };
  const raw = () => {
    const chunks: string[] = [];
    return { chunks, destination: { write: (chunk: string) => void chunks.push(chunk) } };
  };
  const withoutTime = (line: string | undefined) => String(line).replace(/"time":"[^"]+"/, '"time":"T"');

  it('writes the line pino writes for the same fields, byte for byte but the time, child bindings included', () => {
    const ours = raw();
    const theirs = raw();
    writeInfoLine(createLogger({ level: 'info', destination: ours.destination }).child({ reqId: 'req-7' }), fields, 'admission decision');
    createLogger({ level: 'info', destination: theirs.destination }).child({ reqId: 'req-7' }).info(fields, 'admission decision');
    assert.equal(ours.chunks.length, 1);
    assert.equal(withoutTime(ours.chunks[0]), withoutTime(theirs.chunks[0]));
    assert.match(String(ours.chunks[0]), /"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"/);
  });

  it('writes the bindings it is given as a child logger would, without making one', () => {
    const ours = raw();
    const theirs = raw();
    const odd = { reqId: 'req-"7"\u2028' };
    writeInfoLine(createLogger({ level: 'info', destination: ours.destination }), fields, 'admission decision', odd);
    createLogger({ level: 'info', destination: theirs.destination }).child(odd).info(fields, 'admission decision');
    assert.equal(withoutTime(ours.chunks[0]), withoutTime(theirs.chunks[0]));
    const other = raw();
    writeInfoLine(pino({ level: 'info' }, other.destination), { uid: 'u-3' }, 'm', { reqId: 'req-8' });
    assert.equal(JSON.parse(String(other.chunks[0]))['reqId'], 'req-8');
  });

  it('writes nothing when info is below the level, and leaves other loggers and error fields to pino', () => {
    const quiet = raw();
    writeInfoLine(createLogger({ level: 'warn', destination: quiet.destination }), fields, 'admission decision');
    assert.deepEqual(quiet.chunks, []);

    const other = raw();
    // A logger createLogger did not make (numeric levels): its own format, through pino.
    writeInfoLine(pino({ level: 'info' }, other.destination), { uid: 'u-2' }, 'm');
    assert.equal(JSON.parse(String(other.chunks[0]))['level'], 30);

    const withError = raw();
    writeInfoLine(createLogger({ level: 'info', destination: withError.destination }), { err: new Error('boom') }, 'm');
    assert.equal((JSON.parse(String(withError.chunks[0]))['err'] as { message?: string }).message, 'boom');
  });
});
