import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import type { Sidekick } from '../sidekick.ts';
import { createHttpApp } from './app.ts';

export interface RunningServer {
  url: string;
  /** Stops accepting, lets in-flight requests finish (up to the drain timeout), then closes the Sidekick. */
  close(): Promise<void>;
}

const MAINTENANCE_INTERVAL_MS = 60_000;

/** Listens on the configured host and port and runs the background work a serving process owns. */
export async function startServer(sidekick: Sidekick, options: { port?: number; host?: string } = {}): Promise<RunningServer> {
  const { config, logger, services, deliverer } = sidekick;
  const app = createHttpApp(sidekick);
  const host = options.host ?? config.host;
  const server = await new Promise<Server>((resolve, reject) => {
    const created = serve({ fetch: app.fetch, hostname: host, port: options.port ?? config.port }, () =>
      resolve(created as Server),
    ) as Server;
    created.once('error', reject);
  });
  // Slow clients must not hold sockets forever.
  server.requestTimeout = 30_000;
  server.headersTimeout = 15_000;

  deliverer.start();
  const maintenance = setInterval(() => {
    try {
      const purged = services.maintenance.purgeExpired();
      logger.debug({ purged }, 'purged expired rows');
    } catch (error) {
      logger.error({ err: error }, 'maintenance failed');
    }
  }, MAINTENANCE_INTERVAL_MS);
  maintenance.unref();

  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${shownHost}:${address.port}`;

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    closing ??= (async () => {
      clearInterval(maintenance);
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = new Promise<'timeout'>((resolve) => setTimeout(resolve, config.drainTimeout * 1000, 'timeout').unref());
      if ((await Promise.race([drained, deadline])) === 'timeout') {
        logger.warn({ drainTimeout: config.drainTimeout }, 'drain timeout reached; closing remaining connections');
        server.closeAllConnections();
        await drained;
      }
      await sidekick.close();
    })();
    return closing;
  }

  return { url, close };
}
