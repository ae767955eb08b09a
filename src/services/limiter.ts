import { SidekickError } from '../errors.ts';

/**
 * Runs at most `concurrency` tasks at once and queues at most `maxQueue` more; past that it refuses at
 * once with 503 rather than letting latency and memory grow without bound.
 */
export function createLimiter(concurrency: number, maxQueue: number) {
  let running = 0;
  const waiting: (() => void)[] = [];

  const release = () => {
    running--;
    const next = waiting.shift();
    if (next) {
      running++;
      next();
    }
  };

  return {
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (running >= concurrency) {
        if (waiting.length >= maxQueue) {
          throw new SidekickError('overloaded', 'The server is busy. Try again shortly.', { retryAfter: 1 });
        }
        await new Promise<void>((resolve) => waiting.push(resolve));
      } else {
        running++;
      }
      try {
        return await task();
      } finally {
        release();
      }
    },
    get pending() {
      return running + waiting.length;
    },
  };
}
