import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Password hashing on dedicated worker threads at a lower OS priority, instead of the libuv thread pool:
 * bcrypt, and the checks of the formats other systems wrote (see password-formats.ts).
 *
 * Why: the libuv pool is shared with WebCrypto (jose signing), file writes (the log) and DNS, so 200 ms
 * hashes there delay everything else; and a hash occupying every core at normal priority takes CPU from
 * the event loop that answers cheap authenticated reads. At nice 10 the kernel gives the event loop the
 * core whenever it has work, and hashing every idle cycle: logins still reach the all-core ceiling when
 * nothing else runs, and reads keep their latency while logins run. node:crypto's synchronous PBKDF2 and
 * scrypt run on the calling thread, so on these threads they stay off the pool too.
 *
 * The worker's source is inline so it runs the same from TypeScript sources (tests) and from dist/.
 * Hashes reach it only once hashFormat() recognised them, with bounded work parameters.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const crypto = require('node:crypto');
const bcrypt = require(workerData.bcryptPath);
let argon2;
try {
  // On Linux a niceness is per thread; /proc/thread-self names this thread's id.
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  require('node:os').setPriority(tid, workerData.nice);
} catch {}
const equal = (derived, expected) => expected.length > 0 && crypto.timingSafeEqual(derived, expected);
// Django's formats, as its hashers write them: algorithm$parameters$salt$hash (salt as UTF-8 text).
function verify(password, encoded) {
  if (encoded.startsWith('$2')) return bcrypt.verifySync(password, encoded);
  const algorithm = encoded.slice(0, encoded.indexOf('$'));
  const rest = encoded.slice(algorithm.length + 1);
  const parts = rest.split('$');
  switch (algorithm) {
    case 'pbkdf2_sha256':
    case 'pbkdf2_sha1': {
      const expected = Buffer.from(parts[2], 'base64');
      const digest = algorithm === 'pbkdf2_sha1' ? 'sha1' : 'sha256';
      return equal(crypto.pbkdf2Sync(password, parts[1], Number(parts[0]), expected.length, digest), expected);
    }
    case 'scrypt': {
      const [n, salt, r, p, hash] = parts;
      const expected = Buffer.from(hash, 'base64');
      const N = Number(n), R = Number(r);
      return equal(crypto.scryptSync(password, salt, expected.length, { N, r: R, p: Number(p), maxmem: 256 * N * R }), expected);
    }
    case 'argon2':
      argon2 ??= require(workerData.argon2Path);
      return argon2.verifySync('$' + rest, password);
    case 'bcrypt_sha256':
      // bcrypt over the hex SHA-256 of the password, so long passwords are not truncated.
      return bcrypt.verifySync(crypto.createHash('sha256').update(password).digest('hex'), rest);
    case 'bcrypt':
      return bcrypt.verifySync(password, rest);
  }
  throw new Error('unsupported hash format');
}
parentPort.on('message', (job) => {
  try {
    const result = job.op === 'hash'
      ? bcrypt.hashSync(job.password, { cost: job.cost, rejectLongPasswords: true })
      : verify(job.password, job.hash);
    parentPort.postMessage({ ok: true, result });
  } catch (error) {
    parentPort.postMessage({ ok: false, message: error && error.message ? error.message : String(error) });
  }
});
`;

type Job = { op: 'hash'; password: string; cost: number } | { op: 'verify'; password: string; hash: string };
type Reply = { ok: true; result: string | boolean } | { ok: false; message: string };

export interface HashPoolOptions {
  /** Threads at most; callers must not run more jobs at once than this (the hasher's limiter sees to it). */
  size: number;
  /** Niceness of the hashing threads (0 = same as the event loop). */
  nice?: number;
}

export function createHashPool(options: HashPoolOptions) {
  const require = createRequire(import.meta.url);
  const bcryptPath = require.resolve('@node-rs/bcrypt');
  const argon2Path = require.resolve('@node-rs/argon2');
  const idle: Worker[] = [];
  const all = new Set<Worker>();
  let closed = false;

  function spawn(): Worker {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { bcryptPath, argon2Path, nice: options.nice ?? 10 },
      // The hashes' memory is native (argon2's and scrypt's included); a small heap keeps each thread's
    // JavaScript footprint a few MB.
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
    if (closed) return Promise.reject(new Error('hash pool closed'));
    const worker = idle.pop() ?? (all.size < options.size ? spawn() : undefined);
    if (!worker) return Promise.reject(new Error('hash pool: more jobs than threads'));
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
        reject(new Error(closed ? 'hash pool closed' : `hashing thread exited with code ${code}`));
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
    /** Checks a password against a hash of any recognised format (see password-formats.ts). */
    verify: (password: string, hash: string) => run<boolean>({ op: 'verify', password, hash }),
    async close(): Promise<void> {
      closed = true;
      await Promise.all([...all].map((worker) => worker.terminate()));
    },
  };
}

export type HashPool = ReturnType<typeof createHashPool>;
