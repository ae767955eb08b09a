import { openDatabase, type Database } from './db/database.ts';
import { migrate } from './db/migrate.ts';
import type { ResolvedConfig } from './config.ts';
import { createLogger, type Logger } from './logger.ts';
import { createDeliverer } from './mail/deliverer.ts';
import { createFileTransport, createSmtpTransport, type MailTransport } from './mail/transports.ts';
import { createAccountService } from './services/accounts.ts';
import { systemClock, type Clock } from './services/clock.ts';
import { createCredentialService } from './services/credentials.ts';
import { deriveKey } from './services/crypto.ts';
import { createHealthService } from './services/health.ts';
import { createJwtCodec } from './services/jwt.ts';
import { createAuthService } from './services/auth.ts';
import { createMailer } from './services/mailer.ts';
import { createMailQueueService } from './services/mail-queue.ts';
import { createMaintenanceService } from './services/maintenance.ts';
import { createMediaService } from './services/media.ts';
import { createPasswordHasher } from './services/password-hasher.ts';
import { createPasswordLogin } from './services/password-login.ts';
import { createPasswordResetService } from './services/password-reset.ts';
import { createRegistrationService } from './services/registration.ts';
import { createThrottleService } from './services/throttle.ts';
import { createUserImportService } from './services/user-import.ts';
import { createHealthStore } from './store/health.ts';
import { createOutboxStore } from './store/outbox.ts';
import { createRegistrationStore } from './store/registrations.ts';
import { createSessionStore } from './store/sessions.ts';
import { createThrottleStore } from './store/throttles.ts';
import { createUserStore } from './store/users.ts';
import path from 'node:path';
import { mkdirSync } from 'node:fs';

export interface SidekickOptions {
  clock?: Clock;
  logger?: Logger;
  transport?: MailTransport;
  /** Concurrent bcrypt operations (see password-hasher.ts). */
  hashConcurrency?: number;
  hashQueue?: number;
}

/** The only place the parts are wired together. Everything it opens, close() closes. */
export function createSidekick(config: ResolvedConfig, options: SidekickOptions = {}) {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger(config.logLevel);
  if (config.dbPath !== ':memory:') mkdirSync(path.dirname(config.dbPath), { recursive: true });
  const db: Database = openDatabase(config.dbPath);
  try {
    migrate(db, () => clock.now());
  } catch (error) {
    db.close();
    throw error;
  }

  const users = createUserStore(db);
  const sessions = createSessionStore(db);
  const registrations = createRegistrationStore(db);
  const outbox = createOutboxStore(db);
  const throttle = createThrottleService(createThrottleStore(db), clock);
  const mailer = createMailer(outbox, deriveKey(config.secret, 'outbox'), clock);
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
    db,
    users,
    sessions,
    jwt,
    clock,
    tokenTtl: config.tokenTtl,
    rotateRefreshTokens: config.rotateRefreshTokens,
  });
  const media = createMediaService({ dir: path.join(config.dataDir, 'media'), publicUrl: config.publicUrl });
  const accounts = createAccountService({ db, users, hasher, credentials, mailer, media, throttle, clock, minAge: config.minAge });
  const transport =
    options.transport ??
    (config.smtpUrl
      ? createSmtpTransport(config.smtpUrl, config.mailFrom)
      : createFileTransport(path.join(config.dataDir, 'outbox'), config.mailFrom));
  const services = {
    credentials,
    auth: createAuthService(credentials, createPasswordLogin({ db, users, hasher, throttle, credentials })),
    registration: createRegistrationService({
      db,
      users,
      registrations,
      hasher,
      credentials,
      mailer,
      throttle,
      clock,
      codeKey: deriveKey(config.secret, 'otp'),
      otpTtl: config.otpTtl,
      resetRequestUrl: `${config.publicUrl}/api/users/reset-password/`,
      minAge: config.minAge,
    }),
    passwordReset: createPasswordResetService({
      db,
      users,
      hasher,
      credentials,
      mailer,
      throttle,
      clock,
      resetKey: deriveKey(config.secret, 'password-reset'),
      resetTtl: config.resetTtl,
      publicUrl: config.publicUrl,
    }),
    accounts,
    media,
    userImport: createUserImportService({ db, users, hasher, accounts, clock }),
    maintenance: createMaintenanceService({ sessions, registrations, throttle, outbox, users, media, transport, clock }),
    mailQueue: createMailQueueService({ db, outbox, clock }),
    outbox,
    health: createHealthService({ db, health: createHealthStore(db), clock }),
  };

  const deliverer = createDeliverer({ outbox, mailer, transport, clock, logger });

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
        db.close();
        await hasher.close();
      })();
      return closed;
    },
  };
}

export type Sidekick = ReturnType<typeof createSidekick>;
export type Services = Sidekick['services'];
