import type { Database, Executor, TransactionOptions } from '../db/port.ts';
import { createHealthStore } from './health.ts';
import { createOutboxStore } from './outbox.ts';
import { createRegistrationStore } from './registrations.ts';
import { createSessionStore } from './sessions.ts';
import { createThrottleStore } from './throttles.ts';
import { createUserBatchStore } from './user-batches.ts';
import { createUserStore } from './users.ts';

/** Every store over one executor: the database, or an open transaction. */
export function createStores(db: Executor) {
  return {
    users: createUserStore(db),
    userBatches: createUserBatchStore(db),
    sessions: createSessionStore(db),
    registrations: createRegistrationStore(db),
    outbox: createOutboxStore(db),
    throttles: createThrottleStore(db),
    health: createHealthStore(db),
    /** Locks until the transaction ends (see Executor.lock); nothing outside one. */
    lock: (keys: readonly string[]) => db.lock(keys),
  };
}

export type Stores = ReturnType<typeof createStores>;

/** The stores over the database, and transactions that hand the same stores over the transaction. */
export interface Store extends Stores {
  /** `options.snapshot`: reads only, all from one snapshot (see TransactionOptions), for exports. */
  transaction<T>(work: (tx: Stores) => Promise<T>, options?: TransactionOptions): Promise<T>;
}

export function createStore(db: Database): Store {
  return { ...createStores(db), transaction: (work, options) => db.transaction((tx) => work(createStores(tx)), options) };
}
