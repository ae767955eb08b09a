import { describe, expect, it } from 'vitest';
import { createPasswordHasher } from '../../src/services/password-hasher.ts';

describe('password hasher under overload', () => {
  it('refuses work past its queue with overloaded, and a refused timing-equaliser hash does not stick', async () => {
    const hasher = createPasswordHasher({ cost: 6, concurrency: 1, maxQueue: 0 });
    const busy = hasher.hash('Occupying-The-Only-Slot-1');
    // The only slot is taken and nothing may wait: the unknown-email path is refused at once.
    await expect(hasher.verifyNothing('Whatever-Password-2')).rejects.toMatchObject({ code: 'overloaded', retryAfter: 1 });
    await expect(hasher.hash('Another-Password-3')).rejects.toMatchObject({ code: 'overloaded' });
    await busy;
    // Once there is room again it works: the earlier refusal was not remembered as the dummy hash.
    await expect(hasher.verifyNothing('Whatever-Password-2')).resolves.toBe(false);
    expect(hasher.pending).toBe(0);
  });
});
