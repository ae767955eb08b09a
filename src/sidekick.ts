import { openDatabase, type Database } from './db/database.ts';
import { migrate } from './db/migrate.ts';
import type { Config, ResolvedConfig } from './config.ts';
import { createLogger, type Logger } from './logger.ts';
import { createDeliverer } from './mail/deliverer.ts';
import { createMailTemplates, type MailBrand } from './mail/templates.ts';
import { createConfiguredTransport, type MailTransport } from './mail/transports.ts';
import { createAccountService } from './services/accounts.ts';
import { systemClock, type Clock } from './services/clock.ts';
import { createCredentialService } from './services/credentials.ts';
import { deriveKey } from './services/crypto.ts';
import { createHealthService } from './services/health.ts';
import { createJwtCodec } from './services/jwt.ts';
import { createAuthService } from './services/auth.ts';
import { createMailer } from './services/mailer.ts';
import { createMailQueueService } from './services/mail-queue.ts';
import { createMailTestService } from './services/mail-test.ts';
import { createMaintenanceService } from './services/maintenance.ts';
import { createMediaService } from './services/media.ts';
import { createPasswordHasher } from './services/password-hasher.ts';
import { createPasswordLogin } from './services/password-login.ts';
import { createPasswordResetService } from './services/password-reset.ts';
import { createRegistrationService } from './services/registration.ts';
import { createThrottleService } from './services/throttle.ts';
import { createUserImportService } from './services/user-import.ts';
import { createDjangoImportService } from './services/django-import.ts';
import { createStore } from './store/index.ts';
import path from 'node:path';

export interface SidekickOptions {
  clock?: Clock;
  logger?: Logger;
  transport?: MailTransport;
  /** Concurrent bcrypt operations (see password-hasher.ts). */
  hashConcurrency?: number;
  hashQueue?: number;
}

/**
 * The only place the parts are wired together. Everything it opens, close() closes. Opens the database
 * (SQLite at `config.dbPath`, or PostgreSQL at `config.databaseUrl`) and brings its schema up to date.
 */
export async function createSidekick(config: ResolvedConfig, options: SidekickOptions = {}) {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger(config.logLevel);
  const db: Database = await openDatabase(config.databaseUrl ?? config.dbPath, {
    onIdleError: (error) => logger.warn({ err: error }, 'a database connection was lost; it is replaced at the next query'),
  });
  try {
    await migrate(db, () => clock.now());
  } catch (error) {
    await db.close();
    throw error;
  }
  return wire(db, config, clock, logger, options);
}

/** Who the mail and pages say they come from, and Sidekick's own page for asking a reset link. */
const brandOf = (config: Config): MailBrand => ({
  appName: config.appName,
  resetRequestUrl: `${config.publicUrl}/api/users/reset-password/`,
});

/**
 * What `mail:test` needs, without the database: checking the mail settings must work before
 * `db:migrate`, and must not fail because the database is down.
 */
export function createMailCheck(config: Config, options: Pick<SidekickOptions, 'clock' | 'transport'> = {}) {
  const transport = options.transport ?? createConfiguredTransport(config);
  const mailTest = createMailTestService({ transport, mails: createMailTemplates(brandOf(config)), clock: options.clock ?? systemClock });
  return { mailTest, close: () => transport.close() };
}

function wire(db: Database, config: ResolvedConfig, clock: Clock, logger: Logger, options: SidekickOptions) {
  const store = createStore(db);
  const brand = brandOf(config);
  const mails = createMailTemplates(brand);
  const throttle = createThrottleService(clock);
  const mailer = createMailer(deriveKey(config.secret, 'outbox'), clock);
  const hasher = createPasswordHasher({
    cost: config.bcryptCost,
    concurrency: options.hashConcurrency,
    maxQueue: options.hashQueue ?? config.hashQueue,
  });
  const jwt = createJwtCodec({
    secret: config.secret,
    issuer: config.publicUrl,
    accessTtl: config.accessTtl,
    refreshTtl: config.refreshTtl,
    clock,
  });
  const credentials = createCredentialService({
    store,
    changeStamp: db.changeStamp,
    jwt,
    clock,
    tokenTtl: config.tokenTtl,
    rotateRefreshTokens: config.rotateRefreshTokens,
  });
  const media = createMediaService({ dir: path.join(config.dataDir, 'media'), publicUrl: config.publicUrl });
  const accounts = createAccountService({ store, hasher, credentials, mailer, mails, media, throttle, clock, minAge: config.minAge });
  const transport = options.transport ?? createConfiguredTransport(config);
  const services = {
    /** The app name and request page the HTML pages show. */
    brand,
    credentials,
    auth: createAuthService(credentials, createPasswordLogin({ store, hasher, throttle, credentials })),
    registration: createRegistrationService({
      store,
      hasher,
      credentials,
      mailer,
      throttle,
      clock,
      codeKey: deriveKey(config.secret, 'otp'),
      otpTtl: config.otpTtl,
      mails,
      minAge: config.minAge,
    }),
    passwordReset: createPasswordResetService({
      store,
      hasher,
      credentials,
      mailer,
      throttle,
      clock,
      resetKey: deriveKey(config.secret, 'password-reset'),
      resetTtl: config.resetTtl,
      publicUrl: config.publicUrl,
      resetUrl: config.resetUrl,
      mails,
    }),
    accounts,
    media,
    userImport: createUserImportService({ store, hasher, accounts, clock }),
    djangoImport: createDjangoImportService({ store, media, clock, tokenTtl: config.tokenTtl, refreshTtl: config.refreshTtl }),
    maintenance: createMaintenanceService({ store, throttle, media, transport, clock }),
    mailQueue: createMailQueueService({ store, clock }),
    outbox: store.outbox,
    health: createHealthService({ engine: db.engine, store, clock, changeStamp: db.changeStamp }),
  };

  const deliverer = createDeliverer({ outbox: store.outbox, mailer, transport, clock, logger });

  let closed: Promise<void> | undefined;
  return {
    config,
    clock,
    logger,
    db,
    services,
    hasher,
    deliverer,
    close(): Promise<void> {
      closed ??= (async () => {
        await deliverer.stop();
        transport.close();
        await db.close();
        await hasher.close();
      })();
      return closed;
    },
  };
}

export type Sidekick = Awaited<ReturnType<typeof createSidekick>>;
export type Services = Sidekick['services'];
