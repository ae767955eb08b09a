// The bench's moving parts: processes that print a URL once they listen, their CPU time and memory from
// /proc, autocannon runs, and the median and range of repeated rounds.
import { spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';

/** Starts a process that prints a URL on stdout once it listens; its logs go to `<logDir>/<name>.log`, as in production. */
export function startProcess({ name, args, cwd, env, logDir, children }) {
  const logFd = openSync(path.join(logDir, `${name}.log`), 'a');
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', logFd] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start; see ${logDir}/${name}.log`)), 20_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /(http:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ name, child, url: match[1] });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}; see ${logDir}/${name}.log`));
    });
  });
}

export function stopProcess({ child }) {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal));
    child.kill('SIGTERM');
  });
}

export function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
}

/** User and system CPU seconds of one process so far (clock ticks are 1/100 s on Linux); undefined once gone. */
function processCpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** CPU seconds used so far by a process and its children (cluster workers); undefined where there is no /proc. */
export function cpuSeconds(pid) {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean);
    const all = [pid, ...children].map(processCpuSeconds);
    return all.includes(undefined) ? undefined : all.reduce((sum, seconds) => sum + seconds, 0);
  } catch {
    return undefined;
  }
}

export function load(url, { connections, request, duration }) {
  return autocannon({ url, connections, duration, timeout: 30, requests: Array.isArray(request) ? request : [request] });
}

export const failures = (result) => result.errors + result.timeouts + result.non2xx;

/**
 * One round of one scenario: throughput, latency, failures, and the CPU time per request of the server
 * (all its processes), of the load generator (this process) and, where given, of other processes the
 * server depends on (PostgreSQL's).
 */
export async function measureRound(server, { connections, request, duration, others }) {
  const serverBefore = cpuSeconds(server.child.pid);
  const othersBefore = others?.();
  const generatorBefore = process.cpuUsage();
  const result = await load(server.url, { connections, request, duration });
  const generator = process.cpuUsage(generatorBefore);
  const serverAfter = cpuSeconds(server.child.pid);
  const othersAfter = others?.();
  const requests = result.requests.total;
  const perRequest = (seconds) => (seconds === undefined || requests === 0 ? undefined : Math.round((seconds / requests) * 1e7) / 10);
  return {
    rps: Math.round(result.requests.average * 10) / 10,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: failures(result),
    requests,
    statusCodes: result.statusCodeStats,
    serverCpuUs: perRequest(serverBefore === undefined || serverAfter === undefined ? undefined : serverAfter - serverBefore),
    othersCpuUs: perRequest(othersBefore === undefined || othersAfter === undefined ? undefined : othersAfter - othersBefore),
    generatorCpuUs: perRequest((generator.user + generator.system) / 1e6),
  };
}

/** The median and range of `values` (undefined ones left out); undefined when none is left. */
export function spread(values) {
  const known = values.filter((value) => value !== undefined && Number.isFinite(value)).sort((a, b) => a - b);
  if (known.length === 0) return undefined;
  const middle = known.length >> 1;
  const median = known.length % 2 ? known[middle] : (known[middle - 1] + known[middle]) / 2;
  return { median, min: known[0], max: known.at(-1) };
}

/** The node flags `npm start` runs the server with (package.json's start script): the bench runs what users run. */
export function startFlags(root) {
  const words = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).scripts.start.split(/\s+/);
  return words.slice(1, words.indexOf('bin/run.js'));
}
