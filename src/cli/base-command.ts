import { Command, Flags, type Interfaces } from '@oclif/core';
import { ConfigError, loadConfig, resolveSecret, type ConfigOverrides, type ResolvedConfig } from '../config.ts';
import { SchemaTooNewError } from '../db/migrate.ts';
import { ERROR_CODES, SidekickError } from '../errors.ts';
import { createSidekick, type Sidekick, type SidekickOptions } from '../sidekick.ts';

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof SidekickCommand)['baseFlags'] & T['flags']>;

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

  protected openSidekick(overrides: ConfigOverrides = {}, options: SidekickOptions = {}): Sidekick {
    this.opened = createSidekick(this.config_(overrides), options);
    return this.opened;
  }

  /** Prints `value` as JSON with --json, else the human text. */
  protected output(json: boolean, value: unknown, human: () => string): void {
    process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
  }

  protected override async finally(error: Error | undefined): Promise<void> {
    await this.opened?.close();
    return super.finally(error);
  }

  protected override async catch(error: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<void> {
    if (process.env.DEBUG) process.stderr.write(`${error.stack}\n`);
    let exitCode = 1;
    let message = error.message;
    if (error instanceof SidekickError) {
      exitCode = ERROR_CODES[error.code].exit;
      if (error.fields) {
        message = Object.entries(error.fields)
          .map(([field, messages]) => `${field}: ${messages.join(' ')}`)
          .join('; ');
      }
    } else if (error instanceof ConfigError || error instanceof SchemaTooNewError) {
      exitCode = 78;
    } else if (error.oclif?.exit !== undefined) {
      exitCode = error.oclif.exit;
      if (exitCode === 0) return;
    } else if ((error as { code?: string }).code === 'SQLITE_BUSY') {
      message = 'the database is locked by another process; try again';
    }
    process.stderr.write(`Error: ${message.split('\n')[0]}\n`);
    this.exit(exitCode);
  }
}
