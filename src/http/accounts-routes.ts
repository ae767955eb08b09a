import type { Services } from '../sidekick.ts';
import type { Router } from './context.ts';
import { jsonResponse, NO_STORE } from './wire.ts';
import { createResetPages, htmlAnswer, wantsHtml } from './reset-page.ts';
import { accountsProfile } from './serializers.ts';
import { SidekickError } from '../errors.ts';
import { continueWith } from '../services/maybe-async.ts';

const problemsOf = (error: SidekickError) => (error.fields ? Object.values(error.fields).flat() : [error.message]);

/** The accounts API (document 000, contract §2). */
export function accountsRoutes(router: Router, services: Services) {
  const { auth, registration, passwordReset, accounts } = services;
  const { linkInvalidPage, newLinkPage, passwordChangedPage, requestLinkPage, resetPage } = createResetPages(services.brand.appName);

  router.resource(['/api/users/register/'], {
    POST: async (c) => {
      const body = c.get('body') as Record<string, unknown>;
      if (body && typeof body === 'object' && 'otp' in body) {
        return jsonResponse(c, await registration.complete(body), 201);
      }
      return jsonResponse(c, await registration.requestCode(body, router.clientAddress(c)));
    },
  });

  router.resource(['/api/users/login/', '/api/token/'], {
    POST: async (c) => {
      const { pair, user } = await auth.withJwt(c.get('body'), router.clientAddress(c));
      // The original's login answered `email` beside the tokens.
      return jsonResponse(c, { ...pair, email: user.email }, 200, NO_STORE);
    },
  });

  router.resource(
    ['/api/users/profile/'],
    {
      GET: (c) => jsonResponse(c, accountsProfile(c.get('auth').user)),
      PUT: async (c) => jsonResponse(c, accountsProfile(await accounts.updateAccountsProfile(c.get('auth').user, c.get('body')))),
      PATCH: async (c) => jsonResponse(c, accountsProfile(await accounts.updateAccountsProfile(c.get('auth').user, c.get('body')))),
    },
    { authenticated: true },
  );

  router.resource(['/api/users/reset-password/'], {
    // The page the notice mails link to, where a person asks for a link without an app.
    GET: (c) => htmlAnswer(c, requestLinkPage(), 200),
    POST: async (c) => {
      if (!wantsHtml(c)) return jsonResponse(c, await passwordReset.requestLink(c.get('body'), router.clientAddress(c)));
      // The form a dead link's page offers.
      try {
        return htmlAnswer(c, newLinkPage({ sent: (await passwordReset.requestLink(c.get('body'), router.clientAddress(c))).message }), 200);
      } catch (error) {
        if (!(error instanceof SidekickError)) throw error;
        if (error.code === 'throttled') {
          return htmlAnswer(c, newLinkPage({ problems: [error.message] }), 429, { 'Retry-After': String(error.retryAfter) });
        }
        return htmlAnswer(c, newLinkPage({ problems: problemsOf(error) }), 400);
      }
    },
  });

  router.resource(['/api/users/reset/:uidb64/:token/'], {
    GET: async (c) => {
      const { uidb64, token } = c.req.param();
      try {
        await passwordReset.checkLink(uidb64, token);
        return htmlAnswer(c, resetPage(), 200);
      } catch (error) {
        if (!(error instanceof SidekickError)) throw error;
        return htmlAnswer(c, linkInvalidPage(error.message), 400);
      }
    },
    POST: async (c) => {
      const { uidb64, token } = c.req.param();
      if (!wantsHtml(c)) return jsonResponse(c, await passwordReset.confirm(uidb64, token, c.get('body')));
      try {
        const result = await passwordReset.confirm(uidb64, token, c.get('body'));
        return htmlAnswer(c, passwordChangedPage(result.message), 200);
      } catch (error) {
        if (!(error instanceof SidekickError)) throw error;
        // A refused password keeps the form, the link still good; a dead link offers a new one.
        if (error.code === 'reset_link_invalid') return htmlAnswer(c, linkInvalidPage(error.message), 400);
        return htmlAnswer(c, resetPage(problemsOf(error)), 400);
      }
    },
  });

  router.resource(['/api/token/refresh/'], {
    POST: (c) => continueWith(auth.refresh(c.get('body')), (answer) => jsonResponse(c, answer, 200, NO_STORE)),
  });
  router.resource(['/api/token/verify/'], {
    POST: async (c) => {
      await auth.verify(c.get('body'));
      return jsonResponse(c, {});
    },
  });
  router.resource(['/api/token/blacklist/'], {
    POST: async (c) => {
      await auth.blacklist(c.get('body'));
      return jsonResponse(c, {});
    },
  });

  router.resource(
    ['/api/users/delete/'],
    {
      DELETE: async (c) => {
        await accounts.deleteAccount(c.get('auth').user);
        return jsonResponse(c, { message: 'user deleted successfully' });
      },
    },
    { authenticated: true },
  );
}
