import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../cli/helpers/build.ts';
import { freePort } from '../helpers/net.ts';
import { readRepoFile, REPO } from './guide-helpers.ts';
import { DOCKERFILE_KEYWORDS, dockerIgnores, execForm, parseDockerfile, splitWords, type DockerInstruction } from './deploy-parsers.ts';

/**
 * The Dockerfile and .dockerignore, without a Docker daemon: parsed and held to what a build from a
 * fresh clone needs, then the image's runtime stage is laid out from this checkout as its COPY lines say
 * and run with its ENV, CMD and HEALTHCHECK. Two opt-in runs go further: SIDEKICK_TEST_FRESH_BUILD=1
 * replays the build stage's npm steps on a copy of the build context (needs the npm registry), and
 * SIDEKICK_TEST_DOCKER=1 runs `docker build` when a daemon answers.
 */

const DOCKERFILE = readRepoFile('Dockerfile');
const DOCKERIGNORE = readRepoFile('.dockerignore');
const instructions = parseDockerfile(DOCKERFILE);

interface Stage {
  name: string | undefined;
  image: string;
  instructions: DockerInstruction[];
}

const stages: Stage[] = [];
for (const instruction of instructions) {
  if (instruction.keyword === 'FROM') {
    const [image, as, name] = instruction.args.split(/\s+/);
    stages.push({ name: as?.toUpperCase() === 'AS' ? name : undefined, image, instructions: [] });
  } else {
    stages.at(-1)?.instructions.push(instruction);
  }
}
const finalStage = stages.at(-1)!;
const buildStages = new Set(stages.slice(0, -1).map((stage) => stage.name));

/** `ENV` instructions of a stage as a record (the KEY=value form). */
function stageEnv(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { args } of stage.instructions.filter((i) => i.keyword === 'ENV')) {
    for (const word of splitWords(args)) {
      if (!word.includes('=')) throw new Error(`ENV in the legacy "KEY value" form: ${args}`);
      env[word.slice(0, word.indexOf('='))] = word.slice(word.indexOf('=') + 1);
    }
  }
  return env;
}

interface Copy {
  from: string | undefined;
  sources: string[];
  destination: string;
}

function copies(stage: Stage): Copy[] {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')
    .map(({ keyword, args }) => {
      expect(keyword, 'COPY, not ADD (no URLs or archives)').toBe('COPY');
      const words = splitWords(args);
      const flags = words.filter((word) => word.startsWith('--'));
      const paths = words.filter((word) => !word.startsWith('--'));
      const from = flags.find((flag) => flag.startsWith('--from='))?.slice('--from='.length);
      return { from, sources: paths.slice(0, -1), destination: paths.at(-1)! };
    });
}

const workdir = (stage: Stage) => stage.instructions.filter((i) => i.keyword === 'WORKDIR').at(-1)?.args ?? '/';

/** Files git has or would commit (tracked, or new and not ignored): what a fresh clone holds. */
function cloneFiles(): string[] | undefined {
  const listed = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: REPO, encoding: 'utf8' });
  if (listed.status !== 0) return undefined;
  return listed.stdout.split('\0').filter((file) => file && existsSync(path.join(REPO, file)));
}

describe('Dockerfile', () => {
  it('uses only known instructions, starts with FROM, and pins every base image', () => {
    for (const { keyword, line } of instructions) expect(DOCKERFILE_KEYWORDS, `line ${line}`).toContain(keyword);
    expect(instructions[0].keyword).toBe('FROM');
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const { image } of stages) {
      const tag = /^[^:@]+[:@](.+)$/.exec(image)?.[1];
      expect(tag, `${image} has a tag`).toBeDefined();
      expect(tag).not.toBe('latest');
      expect(image).toBe('node:20-bookworm-slim');
    }
  });

  it('builds with npm ci, npm run build and a prune of the dev dependencies, in that order', () => {
    const build = stages.find((stage) => stage.name === 'build')!;
    const runs = build.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    const at = (command: RegExp) => runs.findIndex((run) => command.test(run));
    expect(at(/\bnpm ci\b/)).toBeGreaterThanOrEqual(0);
    expect(at(/\bnpm run build\b/)).toBeGreaterThan(at(/\bnpm ci\b/));
    expect(at(/\bnpm prune --omit=dev\b/)).toBeGreaterThan(at(/\bnpm run build\b/));
    // npm ci runs `prepare`, which builds: everything the build reads must be in place before it.
    const pkg = JSON.parse(readRepoFile('package.json'));
    expect(pkg.scripts.prepare).toBe('npm run build');
    const copiedBefore = copies({ ...build, instructions: build.instructions.slice(0, build.instructions.findIndex((i) => /\bnpm ci\b/.test(i.args))) })
      .flatMap((copy) => copy.sources)
      .map((source) => source.replace(/\/$/, ''));
    const tsconfig = JSON.parse(readRepoFile('tsconfig.json'));
    const buildScript = /^node (\S+)$/.exec(pkg.scripts.build)![1];
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', ...tsconfig.include, path.dirname(buildScript), 'bin']) {
      expect(copiedBefore, `${needed} is copied before npm ci`).toContain(needed);
    }
  });

  it('copies only files a fresh clone has, none of them kept out by .dockerignore', () => {
    const files = cloneFiles();
    for (const stage of stages) {
      for (const copy of copies(stage).filter((c) => c.from === undefined)) {
        for (const source of copy.sources) {
          const relative = source.replace(/\/$/, '');
          expect(existsSync(path.join(REPO, relative)), `${relative} exists`).toBe(true);
          expect(dockerIgnores(DOCKERIGNORE, relative), `${relative} is in the build context`).toBe(false);
          if (!files) continue;
          const inside = files.filter((file) => file === relative || file.startsWith(`${relative}/`));
          expect(inside.length, `${relative} is in git`).toBeGreaterThan(0);
          for (const file of inside) expect(dockerIgnores(DOCKERIGNORE, file), `${file} reaches the build`).toBe(false);
        }
      }
    }
  });

  it('keeps what is built, installed or private here out of the build context', () => {
    for (const file of ['data/secret.key', 'data/sidekick.db', 'node_modules/jose/package.json', 'dist/commands/serve.js', '.git/config', '.bench/latest.json', 'npm-debug.log']) {
      expect(dockerIgnores(DOCKERIGNORE, file), file).toBe(true);
    }
  });

  it('runs as a non-root user, keeps its data in the /data volume, and has a health check', () => {
    const keywords = finalStage.instructions.map((i) => i.keyword);
    const user = finalStage.instructions.filter((i) => i.keyword === 'USER').at(-1);
    expect(user).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(user!.args.trim());
    expect(keywords.lastIndexOf('USER')).toBeLessThan(keywords.indexOf('CMD'));
    expect(keywords.filter((k) => k === 'CMD')).toHaveLength(1);
    expect(keywords).toContain('HEALTHCHECK');
    expect(execForm(finalStage.instructions.find((i) => i.keyword === 'CMD')!.args)).toEqual(['node', '--max-semi-space-size=2', 'bin/run.js', 'serve']);
    expect(stageEnv(finalStage)).toMatchObject({ SIDEKICK_DATA_DIR: '/data', SIDEKICK_HOST: '0.0.0.0' });
    expect(finalStage.instructions.filter((i) => i.keyword === 'VOLUME').map((i) => i.args)).toEqual(['/data']);
    for (const copy of copies(finalStage)) expect(buildStages, `COPY --from=${copy.from}`).toContain(copy.from);
  });

  describe('its runtime stage, laid out from this checkout', () => {
    let root: string;
    beforeAll(() => {
      root = mkdtempSync(path.join(tmpdir(), 'sidekick-image-'));
    });
    afterAll(() => {
      if (root) rmSync(root, { recursive: true, force: true });
    });

    it('serves with its CMD and ENV, and its HEALTHCHECK tells a serving server from a stopped one', { timeout: 120_000 }, async () => {
      await ensureBuilt();
      const app = layOutRuntime(root, finalStage, (source) => path.join(REPO, path.relative(workdir(stages[0]), source)));
      expect(existsSync(path.join(app, 'src')), 'nothing from src/ is copied').toBe(false);
      await serveAndProbe(root, app);
    });
  });

  const freshBuild = process.env.SIDEKICK_TEST_FRESH_BUILD === '1';
  it.skipIf(!freshBuild)(
    `replays the build stage's npm steps on a copy of the build context, then serves from the result${freshBuild ? '' : ' (opt-in: SIDEKICK_TEST_FRESH_BUILD=1; needs the npm registry)'}`,
    { timeout: 900_000 },
    async () => {
      const files = cloneFiles();
      expect(files, 'a git checkout').toBeDefined();
      const root = mkdtempSync(path.join(tmpdir(), 'sidekick-fresh-'));
      try {
        const context = path.join(root, 'context');
        const build = path.join(root, 'build');
        for (const file of files!.filter((f) => !dockerIgnores(DOCKERIGNORE, f))) {
          mkdirSync(path.dirname(path.join(context, file)), { recursive: true });
          cpSync(path.join(REPO, file), path.join(context, file));
        }
        const stage = stages.find((s) => s.name === 'build')!;
        mkdirSync(build);
        for (const instruction of stage.instructions) {
          if (instruction.keyword === 'COPY') {
            const copy = copies({ ...stage, instructions: [instruction] })[0];
            for (const source of copy.sources) cpSync(path.join(context, source), path.join(build, copy.destination === './' ? path.basename(source) : copy.destination), { recursive: true });
          } else if (instruction.keyword === 'RUN' && /^npm /.test(instruction.args)) {
            // The apt-get line installs a compiler into the image; this machine brings its own.
            const ran = spawnSync('sh', ['-c', instruction.args], { cwd: build, encoding: 'utf8' });
            expect(ran.status, `${instruction.args}\n${ran.stdout}\n${ran.stderr}`).toBe(0);
          }
        }
        expect(existsSync(path.join(build, 'node_modules/typescript')), 'dev dependencies pruned').toBe(false);
        const app = layOutRuntime(root, finalStage, (source) => path.join(build, path.relative(workdir(stage), source)), false);
        await serveAndProbe(root, app);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  );

  const dockerWanted = process.env.SIDEKICK_TEST_DOCKER === '1';
  const daemon = dockerWanted && spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
  it.skipIf(!daemon)(
    `builds with docker build and answers its health check${dockerWanted ? (daemon ? '' : ' (skipped: no Docker daemon answers `docker info`)') : ' (opt-in: SIDEKICK_TEST_DOCKER=1 with a Docker daemon)'}`,
    { timeout: 1_800_000 },
    async () => {
      const tag = `sidekick-docs-test:${process.pid}`;
      const built = spawnSync('docker', ['build', '-t', tag, '.'], { cwd: REPO, encoding: 'utf8' });
      expect(built.status, built.stderr).toBe(0);
      const name = `sidekick-docs-test-${process.pid}`;
      try {
        expect(spawnSync('docker', ['run', '-d', '--name', name, tag]).status).toBe(0);
        let health = '';
        for (let i = 0; i < 60 && health !== 'healthy'; i++) {
          await new Promise((resolve) => setTimeout(resolve, 2000));
          health = spawnSync('docker', ['inspect', '--format', '{{.State.Health.Status}}', name], { encoding: 'utf8' }).stdout.trim();
        }
        expect(health).toBe('healthy');
        expect(spawnSync('docker', ['exec', name, 'id', '-u'], { encoding: 'utf8' }).stdout.trim()).not.toBe('0');
      } finally {
        spawnSync('docker', ['rm', '-f', name]);
        spawnSync('docker', ['rmi', tag]);
      }
    },
  );
});

function healthCheckCommand(): string {
  const { args } = finalStage.instructions.find((i) => i.keyword === 'HEALTHCHECK')!;
  const match = /^(?:--[a-z-]+=\S+\s+)*CMD\s+(.*)$/.exec(args);
  expect(match, `HEALTHCHECK … CMD […]: ${args}`).not.toBeNull();
  return match![1];
}

/**
 * The final stage's files under `<root>/app`, each COPY --from taken from where `resolve` says the
 * build stage left it; node_modules is linked rather than copied while `linkModules`.
 */
function layOutRuntime(root: string, stage: Stage, resolve: (source: string) => string, linkModules = true): string {
  const app = path.join(root, 'app');
  mkdirSync(app, { recursive: true });
  for (const copy of copies(stage)) {
    for (const source of copy.sources) {
      const from = resolve(source);
      const to = copy.destination === './' ? path.join(app, path.basename(source)) : path.resolve(app, copy.destination);
      if (linkModules && path.basename(source) === 'node_modules') symlinkSync(from, to, 'dir');
      else cpSync(from, to, { recursive: true });
    }
  }
  return app;
}

/** Runs the final stage's CMD in `app` with its ENV (/data in `root`), and its HEALTHCHECK while it serves and after. */
async function serveAndProbe(root: string, app: string): Promise<void> {
  const data = path.join(root, 'data');
  mkdirSync(data, { recursive: true, mode: 0o700 });
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, ...stageEnv(finalStage), SIDEKICK_DATA_DIR: data, SIDEKICK_PORT: String(port) };
  expect(env.SIDEKICK_HOST).toBe('0.0.0.0');
  const [command, ...args] = execForm(finalStage.instructions.find((i) => i.keyword === 'CMD')!.args)!;
  const health = () => {
    const [probe, ...probeArgs] = execForm(healthCheckCommand())!;
    return spawnSync(probe === 'node' ? process.execPath : probe, probeArgs, { cwd: app, env, timeout: 5000 }).status;
  };
  const server = spawn(command === 'node' ? process.execPath : command, args, { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
  let output = '';
  server.stdout!.on('data', (chunk) => (output += chunk));
  server.stderr!.on('data', (chunk) => (output += chunk));
  try {
    for (let i = 0; i < 100 && !output.includes(`Sidekick listening on http://0.0.0.0:${port}`); i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(output).toContain(`Sidekick listening on http://0.0.0.0:${port}`);
    expect(health()).toBe(0);
    expect(statSync(path.join(data, 'secret.key')).mode & 0o777).toBe(0o600);
  } finally {
    const signal = finalStage.instructions.find((i) => i.keyword === 'STOPSIGNAL')?.args ?? 'SIGTERM';
    server.kill(signal as NodeJS.Signals);
  }
  expect(await exited, output).toBe(0);
  expect(health()).not.toBe(0);
}
