import { writeSync } from 'node:fs';
import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * POSIX makes a pipe write of at most this many bytes atomic: workers sharing one stderr pipe (docker, a
 * supervisor) never interleave their lines inside such a write.
 */
const PIPE_BUF = 4096;
const encoder = new TextEncoder();
/** For waiting out a full non-blocking pipe without spinning (Atomics.wait sleeps the thread). */
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes all of `bytes` to `fd`, waiting while a non-blocking pipe is full. A destination that fails
 * otherwise (a closed pipe) loses the lines: the server keeps serving.
 */
function writeAll(fd: number, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

/**
 * Lines for `fd`, written once per event-loop turn: the lines logged during a turn are encoded into one
 * buffer and written synchronously when the turn ends (setImmediate), in writes of at most PIPE_BUF
 * bytes cut at line ends (a longer line goes alone). A server answers many requests per turn under load,
 * so this costs a syscall per few dozen lines instead of one per line, and no trip through libuv's
 * thread pool (an asynchronous write per line cost more than the request it logged). A reader that
 * falls behind slows the server down instead of growing its memory without bound. Lines pending when the
 * process exits, or when pino is asked to flush, are written at once.
 */
function turnBatchedSink(fd: number): pino.DestinationStream & { flush(callback?: () => void): void } {
  let pending: string[] = [];
  let scheduled = false;
  const batch = new Uint8Array(PIPE_BUF);
  const flushNow = () => {
    scheduled = false;
    const lines = pending;
    pending = [];
    let used = 0;
    for (const line of lines) {
      let { read, written } = encoder.encodeInto(line, batch.subarray(used));
      if (read < line.length && used > 0) {
        writeAll(fd, batch.subarray(0, used));
        used = 0;
        ({ read, written } = encoder.encodeInto(line, batch));
      }
      if (read < line.length) {
        writeAll(fd, encoder.encode(line));
        continue;
      }
      used += written;
    }
    if (used > 0) writeAll(fd, batch.subarray(0, used));
  };
  process.once('exit', flushNow);
  return {
    write(line: string) {
      pending.push(line);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flushNow);
      }
    },
    flush(callback?: () => void) {
      flushNow();
      callback?.();
    },
  };
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
    typeof destination === 'number' ? turnBatchedSink(destination) : destination,
  );
}

/** The one line every answered request logs (docs/logs.md lists the fields). */
export interface RequestLine {
  /** Validated by the envelope: letters, digits, `.`, `_` and `-` only, so it needs no escaping. */
  reqId: string;
  method: string;
  route: string;
  status: number;
  client: string;
  ms: number;
}

const INFO = pino.levels.values.info;

/**
 * Writes request lines to `logger`'s destination, formatted here exactly as pino formats
 * `logger.info(fields, 'request')`, at the logger's level. Every request writes one, with fixed fields
 * that carry nothing secret (a validated id, the route pattern, never the raw path): pino's general
 * serialiser and its redaction would cost more than the rest of a cheap request's own work.
 */
export function createRequestLog(logger: Logger): (line: RequestLine) => void {
  const stream = (logger as unknown as Record<symbol, pino.DestinationStream>)[pino.symbols.streamSym];
  return (line) => {
    if (logger.levelVal > INFO) return;
    stream.write(
      `{"level":${INFO},"time":${Date.now()},"reqId":"${line.reqId}","method":${JSON.stringify(line.method)},"route":${JSON.stringify(line.route)},` +
        `"status":${line.status},"client":${JSON.stringify(line.client)},"ms":${line.ms},"msg":"request"}\n`,
    );
  };
}
