import type { Hono, MiddlewareHandler } from 'hono';
import type { Services } from '../sidekick.ts';
import type { AppEnv } from './context.ts';
import { resource } from './context.ts';
import { jsonResponse } from './wire.ts';
import { resetPage, resetResultPage, wantsHtml } from './reset-page.ts';
import { accountsProfile } from './serializers.ts';
import { SidekickError } from '../errors.ts';

/** The accounts API (document 000, contract §2). */
export function accountsRoutes(app: Hono<AppEnv>, services: Services, requireAuth: MiddlewareHandler<AppEnv>) {
  const { auth, registration, passwordReset, accounts } = services;

  resource(app, ['/api/users/register/'], {
    POST: async (c) => {
      const body = c.get('body') as Record<string, unknown>;
      if (body && typeof body === 'object' && 'otp' in body) {
        return jsonResponse(c, await registration.complete(body), 201);
      }
      return jsonResponse(c, registration.requestCode(body));
    },
  });

  resource(app, ['/api/users/login/', '/api/token/'], {
    POST: async (c) => jsonResponse(c, await auth.withJwt(c.get('body'), c.get('clientAddress'))),
  });

  resource(
    app,
    ['/api/users/profile/'],
    {
      GET: (c) => jsonResponse(c, accountsProfile(c.get('auth').user)),
      PUT: (c) => jsonResponse(c, accountsProfile(accounts.updateAccountsProfile(c.get('auth').user, c.get('body')))),
      PATCH: (c) => jsonResponse(c, accountsProfile(accounts.updateAccountsProfile(c.get('auth').user, c.get('body')))),
    },
    [requireAuth],
  );

  resource(app, ['/api/users/reset-password/'], {
    POST: (c) => jsonResponse(c, passwordReset.requestLink(c.get('body'))),
  });

  resource(app, ['/api/users/reset/:uidb64/:token/'], {
    GET: (c) => {
      const { uidb64, token } = c.req.param();
      try {
        passwordReset.checkLink(uidb64, token);
        return c.html(resetPage(), 200, { 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' });
      } catch (error) {
        if (!(error instanceof SidekickError)) throw error;
        return c.html(resetResultPage(false, error.message), 400, { 'Cache-Control': 'no-store' });
      }
    },
    POST: async (c) => {
      const { uidb64, token } = c.req.param();
      if (!wantsHtml(c)) return jsonResponse(c, await passwordReset.confirm(uidb64, token, c.get('body')));
      try {
        const result = await passwordReset.confirm(uidb64, token, c.get('body'));
        return c.html(resetResultPage(true, result.message), 200, { 'Cache-Control': 'no-store' });
      } catch (error) {
        if (!(error instanceof SidekickError)) throw error;
        const messages = error.fields ? Object.values(error.fields).flat() : [error.message];
        return c.html(resetResultPage(false, messages.join(' ')), 400, { 'Cache-Control': 'no-store' });
      }
    },
  });

  resource(app, ['/api/token/refresh/'], {
    POST: async (c) => jsonResponse(c, await auth.refresh(c.get('body'))),
  });
  resource(app, ['/api/token/verify/'], {
    POST: async (c) => {
      await auth.verify(c.get('body'));
      return jsonResponse(c, {});
    },
  });
  resource(app, ['/api/token/blacklist/'], {
    POST: async (c) => {
      await auth.blacklist(c.get('body'));
      return jsonResponse(c, {});
    },
  });

  resource(
    app,
    ['/api/users/delete/'],
    {
      DELETE: (c) => {
        accounts.deleteAccount(c.get('auth').user);
        return jsonResponse(c, { message: 'user deleted successfully' });
      },
    },
    [requireAuth],
  );
}
