import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';

export interface ReadMail {
  id: number;
  to: string;
  subject: string;
  text: string;
}

/**
 * Reads the `.eml` files the file transport writes under `<data>/outbox/`, parsing each file once.
 * The trailing number of a file's name is its outbox id, so mails sort in the order they were queued.
 */
export function createEmlReader(dataDir: string) {
  const dir = path.join(dataDir, 'outbox');
  const parsed = new Map<string, ReadMail>();

  async function all(): Promise<ReadMail[]> {
    if (!existsSync(dir)) return [];
    for (const name of readdirSync(dir)) {
      if (!name.endsWith('.eml') || parsed.has(name)) continue;
      const mail = await simpleParser(readFileSync(path.join(dir, name)));
      const to = Array.isArray(mail.to) ? mail.to[0] : mail.to;
      parsed.set(name, {
        id: Number(/-(\d+)\.eml$/.exec(name)![1]),
        to: to?.value[0]?.address ?? '',
        subject: mail.subject ?? '',
        text: mail.text ?? '',
      });
    }
    return [...parsed.values()].sort((a, b) => a.id - b.id);
  }

  return {
    all,
    async latestCode(email: string): Promise<string | undefined> {
      const mails = (await all()).filter((m) => m.to === email);
      for (const mail of mails.reverse()) {
        const match = /registration code is (\d{6})/.exec(mail.text);
        if (match) return match[1];
      }
      return undefined;
    },
    async latestResetLink(email: string): Promise<string | undefined> {
      const mails = (await all()).filter((m) => m.to === email);
      for (const mail of mails.reverse()) {
        const match = /(https?:\/\/\S+\/api\/users\/reset\/\S+\/)/.exec(mail.text);
        if (match) return match[1];
      }
      return undefined;
    },
  };
}
