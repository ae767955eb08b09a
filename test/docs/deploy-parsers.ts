/**
 * Small readers for the deployment files, enough to check what they say: systemd units and environment
 * files, nginx's and Caddy's configuration, Dockerfiles and .dockerignore. Each follows the format's own
 * rules where the files here use them, and throws on anything it does not understand rather than guess.
 */

export type Unit = Map<string, Map<string, string[]>>;

/** A unit file: section → key → every value given (in order; `Key=` with nothing resets the list). */
export function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.endsWith('\\')) throw new Error(`line ${index + 1}: continuation lines are not read here`);
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header) {
      section = unit.get(header[1]) ?? new Map();
      unit.set(header[1], section);
      continue;
    }
    const pair = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    if (!pair || !section) throw new Error(`line ${index + 1}: not a key=value in a section: ${line}`);
    const [, key, value] = pair;
    if (value === '') section.set(key, []);
    else section.set(key, [...(section.get(key) ?? []), value]);
  }
  return unit;
}

/** The one value of `key` in `section` (the last one given, as systemd takes single-valued settings). */
export function unitValue(unit: Unit, section: string, key: string): string | undefined {
  return unit.get(section)?.get(key)?.at(-1);
}

/** Environment= values as a record (each value is one or more KEY=value words). */
export function unitEnvironment(unit: Unit, section = 'Service'): Record<string, string> {
  const env: Record<string, string> = {};
  for (const value of unit.get(section)?.get('Environment') ?? []) {
    for (const word of splitWords(value)) {
      const at = word.indexOf('=');
      env[word.slice(0, at)] = word.slice(at + 1);
    }
  }
  return env;
}

/** systemd's seconds: `30s`, `1min 30s`, `2m`, or a bare number of seconds. */
export function unitSeconds(value: string): number {
  const units: Record<string, number> = { '': 1, s: 1, sec: 1, m: 60, min: 60, h: 3600, hr: 3600 };
  let total = 0;
  for (const part of value.trim().split(/\s+/)) {
    const match = /^(\d+(?:\.\d+)?)([a-z]*)$/.exec(part);
    if (!match || !(match[2] in units)) throw new Error(`not a time span: ${value}`);
    total += Number(match[1]) * units[match[2]];
  }
  return total;
}

/** Splits a command line as systemd does for ExecStart=: words, '…' and "…" quoting, no globbing. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let index = 0;
  while (index < line.length) {
    if (/\s/.test(line[index])) {
      index++;
      continue;
    }
    let word = '';
    while (index < line.length && !/\s/.test(line[index])) {
      const quote = line[index];
      if (quote === "'" || quote === '"') {
        const end = line.indexOf(quote, index + 1);
        if (end === -1) throw new Error(`unclosed ${quote} in: ${line}`);
        word += line.slice(index + 1, end);
        index = end + 1;
      } else {
        word += quote;
        index++;
      }
    }
    words.push(word);
  }
  return words;
}

/**
 * An ExecStart= line as the argv systemd runs: words split, then its two escapes undone (`%%` → `%`,
 * `$$` → `$`). Any other specifier (`%n`, `%i`…) or `$VAR` expansion is refused: the files here use none.
 */
export function execArgv(line: string): string[] {
  if (/^[-@:+!]/.test(line)) throw new Error(`ExecStart prefixes are not read here: ${line}`);
  return splitWords(line).map((word) => {
    if (/%[^%]/.test(word.replaceAll('%%', ''))) throw new Error(`a systemd specifier in: ${word}`);
    if (/\$[^$]/.test(word.replaceAll('$$', ''))) throw new Error(`a systemd variable in: ${word}`);
    return word.replaceAll('%%', '%').replaceAll('$$', '$');
  });
}

/** An EnvironmentFile= as systemd reads one: KEY=value lines, comments, one level of '…' or "…" quotes. */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const pair = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!pair) throw new Error(`line ${index + 1}: not KEY=value: ${line}`);
    let value = pair[2].trim();
    const quoted = /^'(.*)'$/.exec(value) ?? /^"(.*)"$/.exec(value);
    if (quoted) value = quoted[1];
    else if (/[\s'"\\$`<>;&|]/.test(value)) throw new Error(`line ${index + 1}: unquoted special characters would read differently in sh`);
    env[pair[1]] = value;
  }
  return env;
}

export interface NginxDirective {
  name: string;
  args: string[];
  block?: NginxDirective[];
}

/** nginx's configuration syntax: directives ending in `;`, blocks in `{ }`, `#` comments, quoted strings. */
export function parseNginx(text: string): NginxDirective[] {
  const tokens: string[] = [];
  const source = text.replace(/#[^\n]*/g, '');
  const pattern = /"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([{};])|([^\s{};"']+)/g;
  for (const match of source.matchAll(pattern)) tokens.push(match[1] ?? match[2] ?? match[3] ?? match[4]);
  let at = 0;
  function block(closing: boolean): NginxDirective[] {
    const directives: NginxDirective[] = [];
    while (at < tokens.length) {
      if (tokens[at] === '}') {
        if (!closing) throw new Error('unbalanced }');
        at++;
        return directives;
      }
      const name = tokens[at++];
      const args: string[] = [];
      while (at < tokens.length && !['{', ';', '}'].includes(tokens[at])) args.push(tokens[at++]);
      if (tokens[at] === ';') {
        at++;
        directives.push({ name, args });
      } else if (tokens[at] === '{') {
        at++;
        directives.push({ name, args, block: block(true) });
      } else {
        throw new Error(`directive ${name} does not end with ; or {`);
      }
    }
    if (closing) throw new Error('a block is not closed');
    return directives;
  }
  return block(false);
}

export function nginxFind(directives: NginxDirective[], name: string): NginxDirective[] {
  return directives.filter((directive) => directive.name === name);
}

/** nginx's sizes: `6m`, `512k`, `1g`, bytes without a unit. */
export function nginxBytes(size: string): number {
  const match = /^(\d+)([kKmMgG]?)$/.exec(size);
  if (!match) throw new Error(`not an nginx size: ${size}`);
  return Number(match[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[match[2].toLowerCase()];
}

export interface CaddyBlock {
  /** The line's words. */
  words: string[];
  children: CaddyBlock[];
}

/** A Caddyfile's structure: lines of words, `{ … }` blocks, `#` comments. */
export function parseCaddyfile(text: string): CaddyBlock[] {
  const root: CaddyBlock = { words: [], children: [] };
  const stack = [root];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line === '') continue;
    if (line === '}') {
      if (stack.length === 1) throw new Error(`line ${index + 1}: unbalanced }`);
      stack.pop();
      continue;
    }
    const opens = line.endsWith('{');
    const words = (opens ? line.slice(0, -1) : line).trim().split(/\s+/).filter(Boolean);
    const node: CaddyBlock = { words, children: [] };
    stack.at(-1)!.children.push(node);
    if (opens) stack.push(node);
  }
  if (stack.length !== 1) throw new Error('a Caddyfile block is not closed');
  return root.children;
}

/** go-humanize's sizes, as Caddy reads them: `6MiB`, `10MB`, `512KiB`. */
export function humanBytes(size: string): number {
  const match = /^(\d+)\s*([KMG]i?B|B)?$/i.exec(size);
  if (!match) throw new Error(`not a size: ${size}`);
  const unit = (match[2] ?? 'B').toLowerCase();
  const table: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };
  return Number(match[1]) * table[unit];
}

export interface DockerInstruction {
  keyword: string;
  /** The instruction's text after the keyword, continuation lines joined. */
  args: string;
  line: number;
}

export const DOCKERFILE_KEYWORDS = [
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL',
  'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
];

/** A Dockerfile's instructions: comments and parser directives dropped, `\` continuations joined. */
export function parseDockerfile(text: string): DockerInstruction[] {
  const instructions: DockerInstruction[] = [];
  let pending: { text: string; line: number } | undefined;
  for (const [index, raw] of text.split('\n').entries()) {
    const trimmed = raw.trim();
    if (trimmed.startsWith('#') || (trimmed === '' && !pending)) continue;
    const continues = /\\\s*$/.test(raw);
    const piece = continues ? raw.replace(/\\\s*$/, '') : raw;
    pending = pending ? { text: `${pending.text} ${piece.trim()}`, line: pending.line } : { text: piece.trim(), line: index + 1 };
    if (continues) continue;
    const match = /^(\S+)\s*(.*)$/.exec(pending.text)!;
    instructions.push({ keyword: match[1].toUpperCase(), args: match[2].trim(), line: pending.line });
    pending = undefined;
  }
  if (pending) throw new Error('the Dockerfile ends in a continuation');
  return instructions;
}

/** The JSON (exec) form of CMD, ENTRYPOINT, or a HEALTHCHECK's CMD; undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) throw new Error(`not an exec form: ${args}`);
  return parsed;
}

/** A glob of .dockerignore (Go's filepath.Match, plus `**` for any number of folders) as a RegExp. */
function globRegExp(pattern: string): RegExp {
  let source = '';
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index];
    if (char === '*' && pattern[index + 1] === '*') {
      source += '.*';
      index++;
      if (pattern[index + 1] === '/') index++;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else if (char === '[') {
      const end = pattern.indexOf(']', index);
      source += pattern.slice(index, end + 1).replace('[!', '[^');
      index = end;
    } else source += char.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/**
 * Whether .dockerignore keeps `file` (a path relative to the context) out of the build context, as
 * Docker decides: the last pattern that matches the path or one of its parent folders wins, and a `!`
 * pattern lets it back in.
 */
export function dockerIgnores(dockerignore: string, file: string): boolean {
  const patterns = dockerignore
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negated = line.startsWith('!');
      const body = (negated ? line.slice(1) : line).trim().replace(/^\/+/, '').replace(/\/+$/, '');
      return { negated, regexp: globRegExp(body) };
    });
  const parts = file.split('/');
  const candidates = parts.map((_, index) => parts.slice(0, index + 1).join('/'));
  let excluded = false;
  for (const { negated, regexp } of patterns) {
    if (candidates.some((candidate) => regexp.test(candidate))) excluded = !negated;
  }
  return excluded;
}
