import type { Hono, MiddlewareHandler } from 'hono';
import type { Services } from '../sidekick.ts';
import type { AppEnv } from './context.ts';
import { resource } from './context.ts';
import { jsonResponse } from './wire.ts';
import { kitchenProfile } from './serializers.ts';

/** The kitchen API (document 002, contract §3), at the root and under `/auth/` where it first lived. */
export function kitchenRoutes(app: Hono<AppEnv>, services: Services, requireAuth: MiddlewareHandler<AppEnv>) {
  const { auth, accounts } = services;
  const both = (path: string) => [path, `/auth${path}`];

  resource(app, both('/users/'), {
    POST: async (c) => {
      const user = await accounts.signUp(c.get('body'));
      return jsonResponse(c, { user_id: user.id, email: user.email, token: auth.tokenFor(user) }, 201);
    },
  });

  resource(app, both('/token/'), {
    POST: async (c) => {
      const { token, user } = await auth.withToken(c.get('body'), c.get('clientAddress'));
      return jsonResponse(c, { token, user_id: user.id, email: user.email });
    },
  });

  resource(
    app,
    both('/logout/'),
    {
      POST: (c) => {
        auth.logout(c.get('auth').credential);
        return jsonResponse(c, { detail: 'Logged out successfully.' });
      },
    },
    [requireAuth],
  );

  resource(
    app,
    both('/users/me/'),
    {
      GET: (c) => jsonResponse(c, kitchenProfile(c.get('auth').user)),
      PUT: (c) => jsonResponse(c, kitchenProfile(accounts.updateKitchenProfile(c.get('auth').user, c.get('body')))),
      PATCH: (c) => jsonResponse(c, kitchenProfile(accounts.updateKitchenProfile(c.get('auth').user, c.get('body')))),
    },
    [requireAuth],
  );
}
