import { readFileSync } from 'node:fs';
import { createSwappableTlsSource, type TlsMaterial, type TlsSource } from './tls-source.ts';

export interface FileTlsSource extends TlsSource {
  /** Re-read the files now; returns true when new material was taken. */
  refresh(): boolean;
  close(): void;
}

/**
 * Serving certificate and key from files (cert-manager or a mounted Secret), re-read on an interval so a
 * renewed certificate reaches new connections without a restart. A half-written pair (key and cert not
 * matching yet) is skipped by the server's swap, which keeps the previous pair.
 */
export function createFileTlsSource(
  paths: { certFile: string; keyFile: string },
  options: { intervalMs?: number; onChange?: (m: TlsMaterial) => void } = {},
): FileTlsSource {
  const read = (): TlsMaterial => ({ cert: readFileSync(paths.certFile, 'utf8'), key: readFileSync(paths.keyFile, 'utf8') });
  const source = createSwappableTlsSource(read());
  const refresh = (): boolean => {
    let next: TlsMaterial;
    try {
      next = read();
    } catch {
      return false;
    }
    const current = source.current();
    if (next.cert === current.cert && next.key === current.key) return false;
    source.set(next);
    options.onChange?.(next);
    return true;
  };
  const timer = setInterval(refresh, options.intervalMs ?? 10_000);
  timer.unref();
  return { current: source.current, refresh, close: () => clearInterval(timer) };
}
