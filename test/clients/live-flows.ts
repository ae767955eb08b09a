import { createServer } from 'node:net';
import axios from 'axios';
import type { Env } from '../../src/config.ts';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { STRONG_PASSWORD } from '../helpers/accounts.ts';
import { createLiveSidekick, type LiveSidekick } from '../helpers/live-sidekick.ts';

/** A port nobody listens on right now, so a server's public URL can name it before it starts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

export interface LiveServer {
  live: LiveSidekick;
  server: RunningServer;
  url: string;
  close(): Promise<void>;
}

/** A listening server on 127.0.0.1 whose public URL is its own address, so the links and picture URLs it answers work. */
export async function startLiveServer(env: Env = {}): Promise<LiveServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const live = createLiveSidekick({ SIDEKICK_PUBLIC_URL: url, SIDEKICK_LOG_LEVEL: 'warn', ...env });
  const server = await startServer(live.sidekick, { host: '127.0.0.1', port });
  return {
    live,
    server,
    url,
    async close() {
      await server.close();
      await live.close();
    },
  };
}

/** A kitchen sign-up against a listening server, as the kitchen app makes it. */
export async function kitchenSignUpLive(baseUrl: string, email: string): Promise<{ user_id: number; email: string; token: string }> {
  const response = await axios.post(`${baseUrl}/auth/users/`, { email, password: STRONG_PASSWORD });
  return response.data;
}
