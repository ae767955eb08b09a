/** Milliseconds since the epoch. Injected everywhere time matters, so tests move time instead of sleeping. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
