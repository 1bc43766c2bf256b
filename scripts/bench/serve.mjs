#!/usr/bin/env node
// Benchmark: ferry serve against Debian's nginx (with the server block ferry prints) on the same store,
// in the same run, with the same load generator (wrk -t1). Peer as an expert runs it: worker_processes =
// the cores, access_log off, sendfile on (with tcp_nopush), open_file_cache for the small files; ferry
// serve on the same cores (its default --workers: one per core) with --no-access-log. Each small-file row is
// followed by the servers' CPU per request in the same runs (ferry's primary and workers, nginx's master
// and workers, from /proc), which says how much work a request costs even when the machine is busy.
// Warm: each server first answers 20 000 requests (untimed, at most 8 s), then --rounds rounds (at least 3)
// alternating which server goes first; rows give medians (lib.mjs). Bounded: a few seconds per round.
// After each small-file row, the node:http floor (nodeHttpFloor.mjs: one fixed answer per request, no routing,
// the same workers) against the same nginx: the CPU per request no server built on node:http goes below.
// Usage: npm run build && node scripts/bench/serve.mjs [--seconds 5] [--rounds 3] [--large-mib 64] [--nginx-workers CORES] [--no-floor]
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, link, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FORMAT, serializeManifest } from '../../dist/bundle/manifest.js';
import { ferryBin, freePort, interleave, printTable, row, RUNS, stopChild, waitForPort, writeResults } from './lib.mjs';

const run = promisify(execFile);
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1];
};
const SECONDS = Number(arg('seconds', '5'));
const ROUNDS = Math.max(3, Number(arg('rounds', String(RUNS))));
const LARGE_MIB = Number(arg('large-mib', '64'));
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

/** A store with one bundle: apt index files of a few KiB and one large rootfs, as ferry import lays it out. */
async function makeStore() {
  const store = await mkdtemp(join(tmpdir(), 'ferry-bench-serve-'));
  await chmod(store, 0o755);
  const files = {
    'apt/dists/bookworm/InRelease': randomBytes(1500).toString('base64'),
    'apt/dists/bookworm/main/binary-amd64/Packages.gz': randomBytes(3000),
    'python/simple/demo/index.html': '<!DOCTYPE html><html><body>' + '<a href="x">x</a>\n'.repeat(40) + '</body></html>\n',
    'rootfs/base.tar.gz': randomBytes(LARGE_MIB * 1024 * 1024),
  };
  const entries = Object.entries(files)
    .map(([path, c]) => ({ path, content: Buffer.from(c) }))
    .sort((a, b) => (a.path < b.path ? -1 : 1));
  const manifest = serializeManifest({
    format: FORMAT, name: 'bench', version: '1', epoch: '2026-11-25T00:00:00Z', created_by: 'bench', targets: {}, services: {}, artifacts: {},
    entries: entries.map((e) => ({ path: e.path, size: e.content.length, sha256: sha256(e.content), kind: 'file', services: [] })),
  });
  const digest = sha256(manifest);
  const bundle = join(store, 'bundles', digest);
  for (const e of [...entries, { path: 'manifest.json', content: manifest }]) {
    const blob = join(store, 'blobs', 'sha256', sha256(e.content));
    await mkdir(dirname(blob), { recursive: true });
    await writeFile(blob, e.content, { mode: 0o444 });
    await mkdir(dirname(join(bundle, e.path)), { recursive: true });
    await link(blob, join(bundle, e.path));
  }
  await mkdir(join(store, 'refs', 'bench'), { recursive: true });
  await writeFile(join(store, 'refs', 'bench', '1'), `${digest}\n`);
  return { store, digest };
}

async function startFerry(store) {
  const port = await freePort();
  const child = spawn(process.execPath, [ferryBin, 'serve', '--store', store, '--listen', `127.0.0.1:${port}`, '--no-access-log'], { stdio: 'ignore' });
  await waitForPort(port, child, 'ferry serve');
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop: () => stopChild(child, 'SIGTERM') };
}

async function startFloor(file, workers) {
  const port = await freePort();
  const child = spawn(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'nodeHttpFloor.mjs'), String(port), file, String(workers)], { stdio: 'ignore' });
  await waitForPort(port, child, 'the node:http floor');
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop: () => stopChild(child, 'SIGTERM') };
}

async function startNginx(store, workers) {
  const port = await freePort();
  const { stdout: serverBlock } = await run(process.execPath, [ferryBin, 'serve', '--nginx-config', '--store', store, '--listen', `127.0.0.1:${port}`]);
  const prefix = await mkdtemp(join(tmpdir(), 'ferry-bench-nginx-'));
  await mkdir(join(prefix, 'tmp'));
  await writeFile(join(prefix, 'ferry.conf'), serverBlock);
  await writeFile(join(prefix, 'nginx.conf'), `worker_processes ${workers};
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    open_file_cache max=10000 inactive=60s;
    open_file_cache_valid 60s;
    open_file_cache_errors on;
    client_body_temp_path ${prefix}/tmp/body;
    proxy_temp_path ${prefix}/tmp/proxy;
    fastcgi_temp_path ${prefix}/tmp/fastcgi;
    uwsgi_temp_path ${prefix}/tmp/uwsgi;
    scgi_temp_path ${prefix}/tmp/scgi;
    include ${prefix}/ferry.conf;
}
`);
  const child = spawn('nginx', ['-p', prefix, '-e', `${prefix}/error.log`, '-c', `${prefix}/nginx.conf`, '-g', 'daemon off;'], { stdio: 'ignore' });
  await waitForPort(port, child, 'nginx');
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    stop: async () => {
      await stopChild(child, 'SIGQUIT');
      await rm(prefix, { recursive: true, force: true });
    },
  };
}

const UNITS = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };
/** Linux's USER_HZ: the unit of the CPU times in /proc/PID/stat */
const TICKS_PER_SECOND = 100;

/**
 * CPU seconds (user + system) used so far by a server: the process and its children (ferry's workers,
 * nginx's workers). Unlike requests per second, CPU per request hardly depends on how much of the cores
 * other work takes, so it compares the two servers on a busy machine too.
 */
function serverCpuSeconds(pid) {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  let ticks = 0;
  for (const p of [String(pid), ...children]) {
    const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
    // fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / TICKS_PER_SECOND;
}

/** wrk's summary: requests/s, bytes/s, errors (connect/read/write/timeout and non-2xx), and the server's CPU µs per request. */
async function wrk(server, path, connections, seconds) {
  const cpuBefore = serverCpuSeconds(server.pid);
  const { stdout } = await run('wrk', ['-t', '1', '-c', String(connections), '-d', `${seconds}s`, '--timeout', '10s', server.url + path], { timeout: (seconds + 30) * 1000 });
  const cpu = serverCpuSeconds(server.pid) - cpuBefore;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1]);
  const [, n, unit] = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(stdout) ?? [];
  const bytesPerSec = Number(n) * (UNITS[unit] ?? 1);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  const errors = non2xx + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, requests, bytesPerSec, errors, cpuMicrosPerRequest: (cpu * 1e6) / requests };
}

/**
 * Bring a server to its steady state before it is measured: a JIT-compiled server (ferry runs on V8) takes
 * a few thousand requests to get there, and on a busy machine one second may hold only a few hundred, so
 * warm by requests answered (WARM_REQUESTS), in one-second runs, at most WARM_RUNS of them.
 */
const WARM_REQUESTS = 20_000;
const WARM_RUNS = 8;
async function warm(server, c) {
  let answered = 0;
  for (let i = 0; i < WARM_RUNS && answered < WARM_REQUESTS; i++) {
    const r = await wrk(server, c.path, c.connections, 1);
    answered += r.requests;
  }
}

async function main() {
  await run('wrk', ['--version']).catch((err) => {
    if (err.code === 'ENOENT') throw new Error('wrk is not installed: apt-get install -y wrk (see scripts/deps/serve.apt)');
  });
  const { store, digest } = await makeStore();
  const workers = Number(arg('nginx-workers', String(cpus().length)));
  const ferry = await startFerry(store);
  const nginx = await startNginx(store, workers);
  const cases = [
    { name: 'small file by release name (1.5 KiB InRelease), 50 connections', path: '/releases/bench/1/apt/dists/bookworm/InRelease', file: 'apt/dists/bookworm/InRelease', connections: 50, metric: 'rps', goal: 0.8 },
    { name: 'small file by digest (3 KiB Packages.gz), 50 connections', path: `/bundles/${digest}/apt/dists/bookworm/main/binary-amd64/Packages.gz`, file: 'apt/dists/bookworm/main/binary-amd64/Packages.gz', connections: 50, metric: 'rps', goal: 0.8 },
    { name: `large file (${LARGE_MIB} MiB rootfs), 8 connections`, path: `/bundles/${digest}/rootfs/base.tar.gz`, connections: 8, metric: 'throughput', goal: 1 },
  ];
  const rows = [];
  try {
    for (const c of cases) {
      // warm both (page cache, JIT, manifest cache), then measure each in turn
      await warm(ferry, c);
      await warm(nginx, c);
      const r = await interleave(ROUNDS, () => wrk(ferry, c.path, c.connections, SECONDS), () => wrk(nginx, c.path, c.connections, SECONDS));
      const errors = [...r.ferry, ...r.peer].reduce((n, x) => n + x.errors, 0);
      if (errors) throw new Error(`${c.name}: ${errors} errors during the runs`);
      const value = (x) => (c.metric === 'rps' ? x.rps : x.bytesPerSec / 2 ** 20);
      const unit = c.metric === 'rps' ? 'req/s' : 'MiB/s';
      const peerName = `nginx (${workers} worker${workers === 1 ? '' : 's'}, sendfile, open_file_cache)`;
      rows.push(row(c.name, r.ferry.map(value), r.peer.map(value), peerName, unit, `>= ${c.goal}`));
      // the same runs, as server CPU per request (lower is better): the goal's reciprocal
      if (c.metric === 'rps') rows.push(row(`  server CPU per request (same runs)`, r.ferry.map((x) => x.cpuMicrosPerRequest), r.peer.map((x) => x.cpuMicrosPerRequest), peerName, 'µs', `<= ${(1 / c.goal).toFixed(2)}`));
      if (c.file && !process.argv.includes('--no-floor')) {
        // what any server on node:http costs per request, against the same nginx (nodeHttpFloor.mjs)
        const floor = await startFloor(join(store, 'bundles', digest, c.file), workers);
        try {
          await warm(floor, c);
          await warm(nginx, c);
          const f = await interleave(ROUNDS, () => wrk(floor, c.path, c.connections, SECONDS), () => wrk(nginx, c.path, c.connections, SECONDS));
          rows.push(row(`  node:http floor: CPU per request (fixed answer, no routing, ${workers} workers)`, f.ferry.map((x) => x.cpuMicrosPerRequest), f.peer.map((x) => x.cpuMicrosPerRequest), peerName, 'µs'));
        } finally {
          await floor.stop();
        }
      }
    }
  } finally {
    await ferry.stop();
    await nginx.stop();
    await rm(store, { recursive: true, force: true });
  }
  process.stdout.write(`ferry serve vs nginx on the same store: wrk -t1, median of ${ROUNDS} interleaved runs of ${SECONDS} s, ${cpus().length} CPUs, loopback, access logs off\n`);
  printTable(rows);
  writeResults('serve', rows);
}

main().catch((err) => {
  console.error(err.message);
  process.exitCode = 1;
});
