import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { Server as NetServer, type AddressInfo, type Socket } from 'node:net';
import { serve } from '@hono/node-server';
import type { Sidekick } from '../sidekick.ts';
import { createHttpApp } from './app.ts';
import { readBodyFirst } from './body.ts';

export interface RunningServer {
  url: string;
  /** Stops accepting, lets in-flight requests finish (up to the drain timeout), then closes the Sidekick. */
  close(): Promise<void>;
}

const MAINTENANCE_INTERVAL_MS = 60_000;
/** How long a stopping server lets an idle connection deliver a request already sent (bounded by the drain timeout). */
const IDLE_CONNECTION_GRACE_MS = 1000;
/** How long a stopping server keeps accepting the connections already queued in the kernel. */
const ACCEPT_QUEUE_BOUND_MS = 500;

interface ConnectionState {
  /** Requests on the connection whose response has not closed yet. */
  active: number;
}
const CONNECTION = Symbol('connection');
type TrackedResponse = ServerResponse & { [CONNECTION]?: ConnectionState };

export interface StartServerOptions {
  port?: number;
  host?: string;
  /** Mail delivery and expiry purges; off in cluster workers, whose primary runs them once. */
  background?: boolean;
}

/** The background work one serving process owns: mail delivery and purging expired rows. Returns stop. */
export function startBackgroundWork(sidekick: Sidekick): () => void {
  const { logger, services, deliverer } = sidekick;
  deliverer.start();
  const maintenance = setInterval(() => {
    services.maintenance.purgeExpired().then(
      (purged) => logger.debug({ purged }, 'purged expired rows'),
      (error: unknown) => logger.error({ err: error }, 'maintenance failed'),
    );
  }, MAINTENANCE_INTERVAL_MS);
  maintenance.unref();
  return () => clearInterval(maintenance);
}

/** Listens on the configured host and port and (unless told not to) runs the background work. */
export async function startServer(sidekick: Sidekick, options: StartServerOptions = {}): Promise<RunningServer> {
  const { config, logger } = sidekick;
  const app = createHttpApp(sidekick);
  const host = options.host ?? config.host;
  const server = await new Promise<Server>((resolve, reject) => {
    const created = serve(
      {
        fetch: app.fetch,
        hostname: host,
        port: options.port ?? config.port,
        createServer: ((serverOptions: ServerOptions, listener: RequestListener) =>
          createServer(serverOptions, readBodyFirst(listener))) as typeof createServer,
      },
      () => resolve(created as Server),
    ) as Server;
    created.once('error', reject);
  });
  // Slow clients must not hold sockets forever.
  server.requestTimeout = 30_000;
  server.headersTimeout = 15_000;

  const stopBackground = options.background === false ? () => {} : startBackgroundWork(sidekick);

  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${shownHost}:${address.port}`;

  // Node's own idle sweep (server.close(), closeIdleConnections()) ends every connection without a
  // request in progress at once, including ones accepted but not read yet and keep-alive ones whose
  // next request is already on the wire: under load those clients got a reset instead of an answer.
  // So connections are tracked here: idle ones get a short grace to deliver a request (answered with
  // `Connection: close`), then are ended.
  const connections = new Map<Socket, ConnectionState>();
  const responding = new Set<ServerResponse>();
  let stopping = false;
  let accepted = 0;
  server.on('connection', (socket: Socket) => {
    accepted++;
    connections.set(socket, { active: 0 });
    socket.once('close', () => connections.delete(socket));
  });
  // Every request passes here, so one shared listener per response and no closure: with a `once`
  // wrapper per response, this tracking cost 7.6% of a profile read's instructions (callgrind).
  function responseClosed(this: TrackedResponse): void {
    responding.delete(this);
    this[CONNECTION]!.active--;
  }
  server.on('request', (req: IncomingMessage, res: TrackedResponse) => {
    const state = connections.get(req.socket);
    if (!state) return;
    state.active++;
    // While stopping, every answer says `Connection: close`, so no client reuses the connection.
    if (stopping) res.shouldKeepAlive = false;
    responding.add(res);
    res[CONNECTION] = state;
    res.on('close', responseClosed);
  });

  // Closing the listening socket resets every connection still in the kernel's accept queue, and
  // libuv accepts one queued connection per event-loop turn: a burst that arrived just before the stop
  // would be reset. So the listener stays open until a turn accepts nothing (within a bound).
  async function acceptQueued(): Promise<void> {
    const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
    const deadline = Date.now() + ACCEPT_QUEUE_BOUND_MS;
    await nextTurn();
    let before: number;
    do {
      before = accepted;
      await nextTurn();
    } while (accepted !== before && Date.now() < deadline);
  }

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    closing ??= (async () => {
      stopping = true;
      for (const res of responding) if (!res.headersSent) res.shouldKeepAlive = false;
      const closeStarted = Date.now();
      stopBackground();
      await acceptQueued();
      // net's close, not http's: stop accepting without ending connections whose request is unread.
      const drained = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
      const sweepIdle = () => {
        if (Date.now() - closeStarted < IDLE_CONNECTION_GRACE_MS) return;
        for (const [socket, state] of connections) if (state.active === 0) socket.destroy();
      };
      sweepIdle();
      const sweep = setInterval(sweepIdle, 50);
      void drained.finally(() => clearInterval(sweep));
      const deadline = new Promise<'timeout'>((resolve) => setTimeout(resolve, config.drainTimeout * 1000, 'timeout').unref());
      if ((await Promise.race([drained, deadline])) === 'timeout') {
        logger.warn({ drainTimeout: config.drainTimeout }, 'drain timeout reached; closing remaining connections');
        for (const socket of connections.keys()) socket.destroy();
        await drained;
      }
      await sidekick.close();
    })();
    return closing;
  }

  return { url, close };
}
