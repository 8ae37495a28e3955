import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createFileTlsSource } from '../../../src/tls/file-tls-source.ts';
import type { TlsMaterial } from '../../../src/tls/tls-source.ts';
import { makeTempDir } from '../../helpers/temp-dir.ts';

function setup() {
  const dir = makeTempDir('file-tls-');
  const paths = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  const write = (cert: string, key: string) => {
    writeFileSync(paths.certFile, cert);
    writeFileSync(paths.keyFile, key);
  };
  write('CERT-1', 'KEY-1');
  const changes: TlsMaterial[] = [];
  const source = createFileTlsSource(paths, { intervalMs: 60_000, onChange: (m) => changes.push(m) });
  return { dir, paths, write, changes, source };
}

describe('createFileTlsSource', () => {
  it('serves the files as read at start', () => {
    const t = setup();
    assert.deepEqual(t.source.current(), { cert: 'CERT-1', key: 'KEY-1' });
    t.source.close();
  });

  it('takes renewed files on refresh and says so once', () => {
    const t = setup();
    assert.equal(t.source.refresh(), false);
    t.write('CERT-2', 'KEY-2');
    assert.equal(t.source.refresh(), true);
    assert.equal(t.source.refresh(), false);
    assert.deepEqual(t.source.current(), { cert: 'CERT-2', key: 'KEY-2' });
    assert.deepEqual(t.changes, [{ cert: 'CERT-2', key: 'KEY-2' }]);
    t.source.close();
  });

  it('keeps the last material while the files cannot be read', () => {
    const t = setup();
    rmSync(t.paths.keyFile);
    assert.equal(t.source.refresh(), false);
    assert.deepEqual(t.source.current(), { cert: 'CERT-1', key: 'KEY-1' });
    assert.deepEqual(t.changes, []);
    t.source.close();
  });

  it('fails at start when the files are missing', () => {
    assert.throws(() => createFileTlsSource({ certFile: '/nonexistent/tls.crt', keyFile: '/nonexistent/tls.key' }), /ENOENT/);
  });
});
