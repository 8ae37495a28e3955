import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { parseBody, readJsonBody } from '../../../src/admission/review-body.ts';

/** A body stream with the headers readJsonBody reads; it takes no more of IncomingMessage. */
function incoming(chunks: readonly (string | Buffer)[], contentLength?: number, error?: Error): IncomingMessage {
  const stream = Readable.from(
    (function* () {
      for (const chunk of chunks) yield Buffer.from(chunk);
      if (error) throw error;
    })(),
  );
  return Object.assign(stream, {
    headers: contentLength === undefined ? {} : { 'content-length': String(contentLength) },
  }) as unknown as IncomingMessage;
}

describe('parseBody', () => {
  it('parses what JSON.parse parses, for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        const parsed = parseBody(Buffer.from(text));
        assert.ok(parsed.ok);
        assert.deepEqual(parsed.value, JSON.parse(text));
      }),
    );
  });

  it('refuses an empty body, malformed JSON and prototype poisoning with the codes of the catalogue', () => {
    assert.deepEqual(parseBody(Buffer.alloc(0)), {
      ok: false,
      error: { status: 400, code: 'EMPTY_BODY', message: 'request body is empty' },
    });
    for (const text of ['{"request": ', 'not json', '{"__proto__": {"x": 1}}', '{"a": {"constructor": {"prototype": {}}}}']) {
      const parsed = parseBody(Buffer.from(text));
      assert.equal(parsed.ok, false, text);
      assert.equal(!parsed.ok && parsed.error.code, 'MALFORMED_JSON', text);
    }
  });
});

describe('readJsonBody', () => {
  it('joins chunks before decoding, so a character split across them stays whole', async () => {
    const bytes = Buffer.from('{"name":"café ☃"}');
    const split = bytes.indexOf(0xc3) + 1;
    const result = await readJsonBody(incoming([bytes.subarray(0, split), bytes.subarray(split)], bytes.length), 100);
    assert.deepEqual(result, { ok: true, value: { name: 'café ☃' } });
  });

  it('refuses a declared length past the limit unread, and a streamed body as soon as it passes it', async () => {
    const declared = await readJsonBody(incoming(['{}'], 101), 100);
    assert.equal(!declared.ok && declared.error.code, 'BODY_TOO_LARGE');
    const streamed = await readJsonBody(incoming(['{"a":"', 'x'.repeat(60), 'x'.repeat(60), '"}']), 100);
    assert.equal(!streamed.ok && streamed.error.code, 'BODY_TOO_LARGE');
    const exact = await readJsonBody(incoming([`"${'x'.repeat(98)}"`], 100), 100);
    assert.ok(exact.ok);
  });

  it('refuses a body whose length is not its Content-Length, and a stream that fails', async () => {
    const short = await readJsonBody(incoming(['{}'], 5), 100);
    assert.equal(!short.ok && short.error.code, 'INVALID_CONTENT_LENGTH');
    const aborted = await readJsonBody(incoming(['{"a":'], undefined, new Error('aborted')), 100);
    assert.deepEqual(aborted, { ok: false, error: { status: 400, code: 'BAD_REQUEST', message: 'aborted' } });
  });
});
