import axios from 'axios';
import type { Env } from '../../src/config.ts';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { STRONG_PASSWORD } from '../helpers/accounts.ts';
import { createLiveSidekick, type LiveSidekick } from '../helpers/live-sidekick.ts';
import { freePort } from '../helpers/net.ts';

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
  const live = await createLiveSidekick({ SIDEKICK_PUBLIC_URL: url, SIDEKICK_LOG_LEVEL: 'warn', ...env });
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
