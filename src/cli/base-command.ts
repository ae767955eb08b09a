import { existsSync } from 'node:fs';
import { Command, Flags, type Interfaces } from '@oclif/core';
import { ConfigError, loadConfig, resolveSecret, type ConfigOverrides, type ResolvedConfig } from '../config.ts';
import { SchemaTooNewError } from '../db/migrate.ts';
import { ERROR_CODES, SidekickError } from '../errors.ts';
import { createLogger } from '../logger.ts';
import { createSidekick, type Sidekick, type SidekickOptions } from '../sidekick.ts';
import { CliError, EXIT } from './errors.ts';
import { askNewPassword, askText, readPasswordFromStdin } from './prompts.ts';

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof SidekickCommand)['baseFlags'] & T['flags']>;

/**
 * How long a command waits for the mail it queued to go out before exiting. Mail not delivered by then
 * stays in the outbox, where a running server's deliverer (polling every second) picks it up.
 */
export const MAIL_DRAIN_BOUND_MS = 5000;

export type MailOutcome = 'delivered' | 'queued';

/** How a human reads a MailOutcome. */
export const mailOutcomeText = (outcome: MailOutcome) =>
  outcome === 'delivered' ? 'delivered' : 'queued in the outbox for the running server to deliver (see mail:list)';

/** Flags shared by the commands that take a new password. */
export const passwordFlags = {
  password: Flags.string({
    description: 'The new password (visible in the process list and shell history; prefer the prompt or --password-stdin).',
    exclusive: ['password-stdin'],
  }),
  'password-stdin': Flags.boolean({
    description: 'Read the password from standard input (for scripts).',
    default: false,
  }),
};

/**
 * Every command: configuration from the environment (flags win), one Sidekick opened and closed,
 * `--json` for one JSON document on stdout, and every failure as one line on stderr with an exit code.
 */
export abstract class SidekickCommand extends Command {
  static override baseFlags = {
    json: Flags.boolean({ description: 'Print one JSON document on stdout and nothing else.', default: false }),
  };

  private opened: Sidekick | undefined;

  protected config_(overrides: ConfigOverrides = {}): ResolvedConfig {
    return resolveSecret(loadConfig(process.env, overrides));
  }

  protected async openSidekick(overrides: ConfigOverrides = {}, options: SidekickOptions = {}): Promise<Sidekick> {
    this.opened = await createSidekick(this.config_(overrides), options);
    return this.opened;
  }

  /**
   * For operator commands: the database must exist already (a typo in SIDEKICK_DATA_DIR must not
   * create an empty one). Logs show only errors unless SIDEKICK_LOG_LEVEL asks for more: a command
   * reports its own outcome (mail left for the server, for instance) in its output.
   */
  protected async openExisting(): Promise<Sidekick> {
    const config = loadConfig(process.env);
    if (config.databaseUrl === undefined && config.dbPath !== ':memory:' && !existsSync(config.dbPath)) {
      throw new CliError(
        `no database at ${config.dbPath}: run "sidekick db:migrate" first, or set SIDEKICK_DATA_DIR or SIDEKICK_DB`,
        EXIT.noInput,
      );
    }
    // process.stderr is synchronous for files and pipes: a line logged just before exit is not lost.
    const level = process.env.SIDEKICK_LOG_LEVEL ? config.logLevel : 'error';
    return this.openSidekick({}, { logger: createLogger(level, process.stderr) });
  }

  /** Prints `value` as JSON with --json, else the human text. */
  protected output(json: boolean, value: unknown, human: () => string): void {
    process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
  }

  /** The email argument, or asked for on a terminal. */
  protected async emailArgument(value: string | undefined, what = 'EMAIL argument'): Promise<string> {
    return value ?? askText(what, 'Email:');
  }

  /** --password, --password-stdin, or a hidden, confirmed prompt on a terminal. */
  protected async newPassword(flags: { password?: string; 'password-stdin'?: boolean }): Promise<string> {
    if (flags.password !== undefined) return flags.password;
    if (flags['password-stdin']) return readPasswordFromStdin();
    return askNewPassword('--password or --password-stdin');
  }

  /**
   * Delivers what is due in the outbox, for at most MAIL_DRAIN_BOUND_MS. Racing a running server's
   * deliverer is safe: each message is claimed under a lease, so it goes out once.
   */
  protected async deliverQueued(sidekick: Sidekick): Promise<MailOutcome> {
    const drained = sidekick.deliverer.drain().then(
      () => true,
      (error: unknown) => {
        sidekick.logger.warn({ err: error }, 'mail delivery from the command failed; the server will retry');
        return false;
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(resolve, MAIL_DRAIN_BOUND_MS, false);
    });
    const finished = await Promise.race([drained, timeout]);
    clearTimeout(timer);
    return finished && (await sidekick.services.outbox.nextDueAt()) === undefined ? 'delivered' : 'queued';
  }

  protected override async finally(error: Error | undefined): Promise<void> {
    await this.opened?.close();
    return super.finally(error);
  }

  protected override async catch(error: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<void> {
    if (process.env.DEBUG) process.stderr.write(`${error.stack}\n`);
    let exitCode = EXIT.failure as number;
    let message = error.message;
    const sqliteCode = (error as { code?: unknown }).code;
    if (error instanceof CliError) {
      exitCode = error.exitCode;
    } else if (error instanceof SidekickError) {
      exitCode = ERROR_CODES[error.code].exit;
      if (error.fields) {
        message = Object.entries(error.fields)
          .map(([field, messages]) => `${field}: ${messages.join(' ')}`)
          .join('; ');
      }
    } else if (error instanceof ConfigError || error instanceof SchemaTooNewError) {
      exitCode = EXIT.config;
    } else if (error.name === 'ExitPromptError') {
      exitCode = EXIT.interrupted;
      message = 'cancelled';
    } else if (error.oclif?.exit !== undefined) {
      exitCode = error.oclif.exit;
      if (exitCode === 0) return;
    } else if (typeof sqliteCode === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(sqliteCode)) {
      exitCode = EXIT.busy;
      message = 'the database is locked by another process; try again';
    } else if (sqliteCode === 'SQLITE_NOTADB' || sqliteCode === 'SQLITE_CORRUPT') {
      exitCode = EXIT.noInput;
      message = `the database file is not a healthy SQLite database (${sqliteCode}): restore it from a backup`;
    } else if (typeof sqliteCode === 'string' && sqliteCode.startsWith('SQLITE_CANTOPEN')) {
      exitCode = EXIT.noInput;
      message = 'cannot open the database file';
    }
    // oclif's parse errors span lines (the problem, then a hint); operators get one line.
    const line = message
      .split('\n')
      .map((part) => part.trim())
      .filter((part) => part !== '' && !part.startsWith('See more help'))
      .join(' ');
    process.stderr.write(`Error: ${line || error.name}\n`);
    this.exit(exitCode);
  }
}
