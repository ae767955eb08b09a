import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { readRepoFile, REPO } from './guide-helpers.ts';
import {
  humanBytes,
  nginxBytes,
  nginxFind,
  parseCaddyfile,
  parseEnvFile,
  parseNginx,
  parseUnit,
  unitEnvironment,
  type NginxDirective,
} from './deploy-parsers.ts';

/**
 * deploy/env.example and the proxies' files: the environment file is read by sh and by the
 * configuration loader; nginx's and Caddy's are checked by their own tools when installed, and parsed
 * for what Sidekick depends on in any case.
 */

const ENV_EXAMPLE = readRepoFile('deploy/env.example');
const unit = parseUnit(readRepoFile('deploy/sidekick.service'));

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'sidekick-proxies-'));
});
afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function folder(name: string): string {
  const dir = path.join(scratch, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}
const which = (name: string) => {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
};

describe('deploy/env.example', () => {
  const fromSystemd = parseEnvFile(ENV_EXAMPLE);

  it('reads the same in sh as in systemd, and the configuration loader takes it', () => {
    const file = path.join(folder('env'), 'env');
    writeFileSync(file, ENV_EXAMPLE);
    const keys = Object.keys(fromSystemd);
    const printed = spawnSync('sh', ['-c', `set -a; . "$1"; for key in ${keys.join(' ')}; do printf '%s=%s\\0' "$key" "$(printenv "$key")"; done`, 'sh', file], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });
    expect(printed.status, printed.stderr).toBe(0);
    const fromSh = Object.fromEntries(printed.stdout.split('\0').filter(Boolean).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
    expect(fromSh).toEqual(fromSystemd);
    expect(fromSystemd.SIDEKICK_MAIL_FROM).toBe('Example Accounts <no-reply@example.com>');

    const config = loadConfig({ ...unitEnvironment(unit), ...fromSystemd });
    expect(new URL(config.publicUrl).protocol).toBe('https:');
    expect(config.trustedProxies).toContain('127.0.0.1');
    expect(`${config.host}:${config.port}`).toBe('127.0.0.1:8000');
  });

  it('is what the proxies expect: their site name is the public URL, their upstream is SIDEKICK_HOST:SIDEKICK_PORT', () => {
    const config = loadConfig(fromSystemd);
    const host = new URL(config.publicUrl).hostname;
    const servers = nginxFind(parseNginx(readRepoFile('deploy/nginx.conf')), 'server');
    for (const server of servers) expect(nginxFind(server.block!, 'server_name')[0].args).toEqual([host]);
    const location = nginxFind(tlsServer().block!, 'location').find((l) => l.args[0] === '/')!;
    expect(nginxFind(location.block!, 'proxy_pass')[0].args).toEqual([`http://${config.host}:${config.port}`]);

    const site = parseCaddyfile(readRepoFile('deploy/Caddyfile'));
    expect(site.map((block) => block.words)).toEqual([[host]]);
    expect(site[0].children.find((child) => child.words[0] === 'reverse_proxy')?.words).toEqual(['reverse_proxy', `${config.host}:${config.port}`]);
  });
});

function tlsServer(): NginxDirective {
  const servers = nginxFind(parseNginx(readRepoFile('deploy/nginx.conf')), 'server');
  const tls = servers.filter((server) => nginxFind(server.block!, 'listen').some((listen) => listen.args.includes('ssl')));
  expect(tls).toHaveLength(1);
  return tls[0];
}

describe('deploy/nginx.conf', () => {
  const nginx = which('nginx');
  const openssl = which('openssl');

  it.skipIf(!nginx || !openssl)(`passes nginx -t${nginx && openssl ? '' : ' (skipped: no nginx or openssl binary here; the file is parse-checked below)'}`, () => {
    const dir = folder('nginx');
    const cert = spawnSync(openssl!, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=accounts.example.com', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`]);
    expect(cert.status).toBe(0);
    const site = readRepoFile('deploy/nginx.conf')
      .replace(/ssl_certificate \S+;/, `ssl_certificate ${dir}/cert.pem;`)
      .replace(/ssl_certificate_key \S+;/, `ssl_certificate_key ${dir}/key.pem;`);
    writeFileSync(`${dir}/site.conf`, site);
    writeFileSync(`${dir}/nginx.conf`, `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  access_log off;\n  include ${dir}/site.conf;\n}\n`);
    const test = spawnSync(nginx!, ['-t', '-p', dir, '-c', `${dir}/nginx.conf`], { encoding: 'utf8' });
    expect(test.status, test.stderr).toBe(0);
  });

  it('redirects HTTP to HTTPS, terminates TLS, and forwards to 127.0.0.1:8000 with X-Forwarded-For', () => {
    const servers = nginxFind(parseNginx(readRepoFile('deploy/nginx.conf')), 'server');
    const plain = servers.find((server) => nginxFind(server.block!, 'listen').every((listen) => !listen.args.includes('ssl')))!;
    expect(nginxFind(plain.block!, 'listen').map((l) => l.args[0]).sort()).toEqual(['80', '[::]:80']);
    const redirect = nginxFind(plain.block!, 'location').find((l) => l.args[0] === '/')!;
    expect(nginxFind(redirect.block!, 'return')[0].args).toEqual(['301', 'https://$host$request_uri']);

    const tls = tlsServer();
    expect(nginxFind(tls.block!, 'ssl_certificate')).toHaveLength(1);
    expect(nginxFind(tls.block!, 'ssl_certificate_key')).toHaveLength(1);
    const location = nginxFind(tls.block!, 'location').find((l) => l.args[0] === '/')!;
    expect(nginxFind(location.block!, 'proxy_pass')[0].args).toEqual(['http://127.0.0.1:8000']);
    const headers = Object.fromEntries(nginxFind(location.block!, 'proxy_set_header').map((d) => [d.args[0].toLowerCase(), d.args[1]]));
    expect(headers['x-forwarded-for']).toBe('$proxy_add_x_forwarded_for');
    expect(headers['x-request-id']).toBe('$request_id');
  });

  it('lets a whole SIDEKICK_UPLOAD_MAX picture through, with room for the multipart framing', () => {
    const [limit] = nginxFind(tlsServer().block!, 'client_max_body_size');
    expect(nginxBytes(limit.args[0])).toBeGreaterThanOrEqual(loadConfig({}).uploadMax + 64 * 1024);
  });
});

describe('deploy/Caddyfile', () => {
  const caddy = which('caddy');

  it.skipIf(!caddy)(`passes caddy validate${caddy ? '' : ' (skipped: no caddy binary here; the file is parse-checked below)'}`, () => {
    const run = spawnSync(caddy!, ['validate', '--adapter', 'caddyfile', '--config', path.join(REPO, 'deploy/Caddyfile')], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
  });

  it('proxies to 127.0.0.1:8000 and lets a whole SIDEKICK_UPLOAD_MAX picture through', () => {
    const [site] = parseCaddyfile(readRepoFile('deploy/Caddyfile'));
    expect(site.words).toHaveLength(1);
    // A bare host name is what makes Caddy fetch a certificate and redirect HTTP.
    expect(site.words[0]).toMatch(/^[a-z0-9.-]+\.[a-z]+$/);
    expect(site.children.find((child) => child.words[0] === 'reverse_proxy')?.words).toEqual(['reverse_proxy', '127.0.0.1:8000']);
    const body = site.children.find((child) => child.words[0] === 'request_body')!;
    const maxSize = body.children.find((child) => child.words[0] === 'max_size')!;
    expect(humanBytes(maxSize.words[1])).toBeGreaterThanOrEqual(loadConfig({}).uploadMax + 64 * 1024);
  });
});
