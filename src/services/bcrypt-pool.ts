import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * bcrypt on dedicated worker threads at a lower OS priority, instead of the libuv thread pool.
 *
 * Why: the libuv pool is shared with WebCrypto (jose signing), file writes (the log) and DNS, so 200 ms
 * hashes there delay everything else; and a hash occupying every core at normal priority takes CPU from
 * the event loop that answers cheap authenticated reads. At nice 10 the kernel gives the event loop the
 * core whenever it has work, and bcrypt every idle cycle: logins still reach the all-core ceiling when
 * nothing else runs, and reads keep their latency while logins run.
 *
 * The worker's source is inline so it runs the same from TypeScript sources (tests) and from dist/.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcryptPath);
try {
  // On Linux a niceness is per thread; /proc/thread-self names this thread's id.
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  require('node:os').setPriority(tid, workerData.nice);
} catch {}
parentPort.on('message', (job) => {
  try {
    const result = job.op === 'hash'
      ? bcrypt.hashSync(job.password, { cost: job.cost, rejectLongPasswords: true })
      : bcrypt.verifySync(job.password, job.hash);
    parentPort.postMessage({ ok: true, result });
  } catch (error) {
    parentPort.postMessage({ ok: false, message: error && error.message ? error.message : String(error) });
  }
});
`;

type Job = { op: 'hash'; password: string; cost: number } | { op: 'verify'; password: string; hash: string };
type Reply = { ok: true; result: string | boolean } | { ok: false; message: string };

export interface BcryptPoolOptions {
  /** Threads at most; callers must not run more jobs at once than this (the hasher's limiter sees to it). */
  size: number;
  /** Niceness of the bcrypt threads (0 = same as the event loop). */
  nice?: number;
}

export function createBcryptPool(options: BcryptPoolOptions) {
  const bcryptPath = createRequire(import.meta.url).resolve('@node-rs/bcrypt');
  const idle: Worker[] = [];
  const all = new Set<Worker>();
  let closed = false;

  function spawn(): Worker {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { bcryptPath, nice: options.nice ?? 10 },
      // bcrypt's memory is native and tiny; a small heap keeps each thread's footprint a few MB.
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 },
    });
    // Idle threads must not keep a finished process (a CLI command, a test file) alive.
    worker.unref();
    all.add(worker);
    worker.once('exit', () => {
      all.delete(worker);
      const at = idle.indexOf(worker);
      if (at >= 0) idle.splice(at, 1);
    });
    return worker;
  }

  function run<T extends string | boolean>(job: Job): Promise<T> {
    if (closed) return Promise.reject(new Error('bcrypt pool closed'));
    const worker = idle.pop() ?? (all.size < options.size ? spawn() : undefined);
    if (!worker) return Promise.reject(new Error('bcrypt pool: more jobs than threads'));
    return new Promise<T>((resolve, reject) => {
      const settle = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      const onError = (error: Error) => {
        settle();
        reject(error);
      };
      // close() terminates threads mid-job: their jobs fail instead of waiting forever.
      const onExit = (code: number) => {
        settle();
        reject(new Error(closed ? 'bcrypt pool closed' : `bcrypt thread exited with code ${code}`));
      };
      const onMessage = (reply: Reply) => {
        settle();
        worker.unref();
        idle.push(worker);
        if (reply.ok) resolve(reply.result as T);
        else reject(new Error(reply.message));
      };
      worker.once('message', onMessage);
      worker.once('error', onError);
      worker.once('exit', onExit);
      // A job in flight keeps the process alive until it answers, as the libuv pool would.
      worker.ref();
      worker.postMessage(job);
    });
  }

  return {
    hash: (password: string, cost: number) => run<string>({ op: 'hash', password, cost }),
    verify: (password: string, hash: string) => run<boolean>({ op: 'verify', password, hash }),
    async close(): Promise<void> {
      closed = true;
      await Promise.all([...all].map((worker) => worker.terminate()));
    },
  };
}

export type BcryptPool = ReturnType<typeof createBcryptPool>;
