import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * An asynchronous sink on `fd` that takes each line as a Buffer. In its default string mode sonic-boom
 * measures its whole pending buffer again (Buffer.byteLength) for every line written while a write is in
 * flight, which under load cost more than formatting the line; in buffer mode it keeps lengths. Pending
 * lines are still written out when the process exits (pino registers that for its destinations).
 */
function fdSink(fd: number): pino.DestinationStream {
  const sink = pino.destination({ fd, sync: false, contentMode: 'buffer' });
  return { write: (line: string) => void sink.write(Buffer.from(line) as unknown as string) };
}

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
    typeof destination === 'number' ? fdSink(destination) : destination,
  );
}
