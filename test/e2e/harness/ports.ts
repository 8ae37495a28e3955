// Free loopback TCP ports, picked by letting the kernel assign port 0. There is
// a window between closing our probe socket and the server binding the port;
// startCluster retries the whole start when a bind fails for that reason.
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('could not read the assigned port'));
      });
    });
  });
}

/** `n` distinct free ports (each probe socket is closed before the next, so check). */
export async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}
