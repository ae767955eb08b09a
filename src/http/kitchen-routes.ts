import type { Services } from '../sidekick.ts';
import type { User } from '../store/users.ts';
import type { Router } from './context.ts';
import { jsonResponse, NO_STORE } from './wire.ts';
import { kitchenProfile } from './serializers.ts';

/** The kitchen API (document 002, contract §3), at the root and under `/auth/` where it first lived. */
export function kitchenRoutes(router: Router, services: Services) {
  const { auth, accounts, media } = services;
  const profile = (user: User) => kitchenProfile(user, media.urlFor);
  const both = (path: string) => [path, `/auth${path}`];

  router.resource(both('/users/'), {
    POST: async (c) => {
      const user = await accounts.signUp(c.get('body'), router.clientAddress(c));
      return jsonResponse(c, { user_id: user.id, email: user.email, token: await auth.tokenFor(user) }, 201, NO_STORE);
    },
  });

  router.resource(both('/token/'), {
    POST: async (c) => {
      const { token, user } = await auth.withToken(c.get('body'), router.clientAddress(c));
      return jsonResponse(c, { token, user_id: user.id, email: user.email }, 200, NO_STORE);
    },
  });

  router.resource(
    both('/logout/'),
    {
      POST: async (c) => {
        await auth.logout(c.get('auth').credential);
        return jsonResponse(c, { detail: 'Logged out successfully.' });
      },
    },
    { authenticated: true },
  );

  router.resource(
    both('/users/me/'),
    {
      GET: (c) => jsonResponse(c, profile(c.get('auth').user)),
      // 201, as the original answered: its mobile app keeps its token only after a 201.
      PUT: async (c) => jsonResponse(c, profile(await accounts.updateKitchenProfile(c.get('auth').user, c.get('body'))), 201),
      PATCH: async (c) => jsonResponse(c, profile(await accounts.updateKitchenProfile(c.get('auth').user, c.get('body')))),
    },
    { authenticated: true },
  );
}
