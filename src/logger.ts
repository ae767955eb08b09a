import pino, { type Logger } from 'pino';

export type { Logger };

/** JSON lines on stderr, so stdout stays free for a command's own output. */
export function createLogger(level: string, destination: pino.DestinationStream | number = 2): Logger {
  return pino(
    {
      level,
      base: undefined,
      // Belt and braces: even a field logged by mistake never carries a credential.
      redact: {
        paths: ['password', 'new_password', 'otp', 'token', 'access', 'refresh', 'secret', '*.password', '*.token', 'req.headers.authorization'],
        censor: '[redacted]',
      },
    },
    typeof destination === 'number' ? pino.destination({ fd: destination, sync: false }) : destination,
  );
}
