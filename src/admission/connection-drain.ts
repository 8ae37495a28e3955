import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { Server as NetServer } from 'node:net';
import type { TLSSocket } from 'node:tls';

/**
 * What a shutdown needs to know of the server's keep-alive connections, so that it never drops a request:
 * which connections have a request in flight, and since when the others have been idle.
 *
 * HTTP/1.1 has no way to tell a client "do not send on this connection any more" except answering a request with
 * `Connection: close`. So, once draining: every response says `Connection: close` (the client reconnects, to
 * another replica once the endpoint is gone), the listener stops taking connections, and a connection is closed
 * by us only after it has been idle for a while (a client that still used it would have sent a request by then).
 * Closing an idle connection at once, as `server.close()` does since Node 19, races with a request the client is
 * sending on it: the request is lost, and the API server does not retry a POST it has written.
 */
export interface ConnectionDrain {
  /** From now on every response carries `Connection: close`. */
  readonly closing: boolean;
  beginClosing(): void;
  /** Stop accepting connections without touching the open ones (http.Server.close would close idle ones). */
  stopListening(): Promise<void>;
  /** Close connections idle for at least `idleMs`; returns how many stay open. */
  closeIdle(idleMs: number, now?: number): number;
}

interface ConnectionState {
  inFlight: number;
  idleSince: number;
  ending: boolean;
}

export function trackConnections(server: HttpsServer): ConnectionDrain {
  const connections = new Map<TLSSocket, ConnectionState>();
  let closing = false;
  server.on('secureConnection', (socket: TLSSocket) => {
    connections.set(socket, { inFlight: 0, idleSince: Date.now(), ending: false });
    socket.once('close', () => connections.delete(socket));
  });
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const state = connections.get(request.socket as TLSSocket);
    if (!state) return;
    state.inFlight += 1;
    response.once('close', () => {
      state.inFlight -= 1;
      state.idleSince = Date.now();
    });
  });
  return {
    get closing() {
      return closing;
    },
    beginClosing: () => {
      closing = true;
    },
    stopListening: async () => {
      // net.Server's own close: the listening socket only, every accepted connection stays as it is. Its callback
      // would wait for every connection to end, which is what closeIdle is for: the listener is closed at once.
      if (server.listening) NetServer.prototype.close.call(server);
    },
    closeIdle: (idleMs, now = Date.now()) => {
      for (const [socket, state] of connections) {
        if (state.inFlight === 0 && !state.ending && now - state.idleSince >= idleMs) {
          state.ending = true;
          // A TLS close_notify and FIN once pending writes are out; destroyed if the peer does not close back.
          socket.end();
          setTimeout(() => socket.destroy(), 1000).unref();
        }
      }
      return connections.size;
    },
  };
}
