import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isJsonContentType, reviewEndpoint } from '../../../src/admission/review-lane.ts';

describe('reviewEndpoint', () => {
  it('takes POST /mutate and /validate, with any query, and nothing else', () => {
    assert.equal(reviewEndpoint({ method: 'POST', url: '/mutate' }), 'mutate');
    assert.equal(reviewEndpoint({ method: 'POST', url: '/validate?timeout=10s' }), 'validate');
    assert.equal(reviewEndpoint({ method: 'POST', url: '/mutate?' }), 'mutate');
    for (const url of ['/mutate/', '/Mutate', '/mutate#x', '/validate/x', '//mutate', '/', '']) {
      assert.equal(reviewEndpoint({ method: 'POST', url }), undefined, url);
    }
    for (const method of ['GET', 'PUT', 'HEAD', 'post']) assert.equal(reviewEndpoint({ method, url: '/mutate' }), undefined, method);
  });

  it('reads the path up to the first ?, whatever follows', () => {
    fc.assert(
      fc.property(fc.constantFrom('/mutate', '/validate'), fc.string(), (path, query) => {
        assert.equal(reviewEndpoint({ method: 'POST', url: `${path}?${query}` }), path.slice(1));
      }),
    );
  });
});

describe('isJsonContentType', () => {
  it('takes application/json with any parameters and case, and refuses the rest', () => {
    for (const header of ['application/json', 'Application/JSON', 'application/json; charset=utf-8', ' application/json ;charset=UTF-8']) {
      assert.equal(isJsonContentType(header), true, header);
    }
    for (const header of [
      undefined,
      '',
      'text/plain',
      'application/json-patch+json',
      'application/jsonx',
      'application/yaml; x=application/json',
    ]) {
      assert.equal(isJsonContentType(header), false, String(header));
    }
  });
});
