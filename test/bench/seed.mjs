// Seeds a data folder through Sidekick's own stores and services (built, from dist/): N users sharing one
// precomputed bcrypt hash, plus live credentials for a sample of them. Prints one JSON document.
import { hash } from '@node-rs/bcrypt';
import { loadConfig, resolveSecret } from '../../dist/src/config.js';
import { createLogger } from '../../dist/src/logger.js';
import { randomSuperheroName } from '../../dist/src/services/superhero.js';
import { createSidekick } from '../../dist/src/sidekick.js';
import { createUserStore } from '../../dist/src/store/users.js';

const [count, sampled, password] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4]];
const config = resolveSecret(loadConfig(process.env));
const sidekick = await createSidekick(config, { logger: createLogger('silent') });
const users = createUserStore(sidekick.db);
const passwordHash = await hash(password, { cost: config.bcryptCost });

const now = Date.now();
const emails = [];
await sidekick.db.transaction(async (tx) => {
  const inTransaction = createUserStore(tx);
  for (let i = 0; i < count; i++) {
    const email = `bench${i}@example.com`;
    await inTransaction.insert({ email, passwordHash, preferences: 'speed', gender: 'x', dob: '1990-01-01' }, now, randomSuperheroName);
    emails.push(email);
  }
});

const jwt = [];
const opaque = [];
for (let i = 0; i < sampled; i++) {
  const user = await users.findByEmail(emails[Math.floor((i * count) / sampled)]);
  jwt.push(await sidekick.services.credentials.issueJwtPair(user));
  opaque.push(await sidekick.services.credentials.issueOpaqueToken(user));
}
await sidekick.close();
process.stdout.write(`${JSON.stringify({ emails: emails.slice(0, sampled * 10), jwt, opaque })}\n`);
