import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root. */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const readRepoFile = (relative: string) => readFileSync(path.join(REPO, relative), 'utf8');

export interface CodeBlock {
  lang: string;
  code: string;
  /** The heading (##, ###) the block sits under. */
  section: string;
}

/** Every fenced code block of a Markdown text, with its language and the heading above it. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  let section = '';
  let open: { lang: string; lines: string[] } | undefined;
  for (const line of markdown.split('\n')) {
    if (open) {
      if (/^```\s*$/.test(line)) {
        blocks.push({ lang: open.lang, code: `${open.lines.join('\n')}\n`, section });
        open = undefined;
      } else {
        open.lines.push(line);
      }
      continue;
    }
    const fence = /^```(\S*)\s*$/.exec(line);
    if (fence) {
      open = { lang: fence[1], lines: [] };
      continue;
    }
    const heading = /^#{2,3}\s+(.*)$/.exec(line);
    if (heading) section = heading[1].trim();
  }
  if (open) throw new Error('an unclosed code fence');
  return blocks;
}

/** The only block in `lang` of the section whose heading starts with `sectionStart`. */
export function onlyBlock(markdown: string, lang: string, sectionStart: string): string {
  const found = codeBlocks(markdown).filter((block) => block.lang === lang && block.section.startsWith(sectionStart));
  if (found.length !== 1) throw new Error(`expected one ${lang} block under "${sectionStart}…", found ${found.length}`);
  return found[0].code;
}
