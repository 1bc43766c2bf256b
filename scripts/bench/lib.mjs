// Shared helpers for benchmark scripts: timing, a table with ratios, JSON results.
import { spawn, spawnSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ferryBin = join(root, 'bin', 'ferry.js');

/** Run a shell command, fail loudly, return wall seconds. */
export function timeShell(cmd, opts = {}) {
  const t = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', cmd], { stdio: opts.quiet === false ? 'inherit' : ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...opts.env } });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`benchmark command failed (${r.status}): ${cmd}\n${r.stderr?.toString() ?? ''}`);
  return s;
}

/** Runs per measurement (FERRY_BENCH_RUNS, at least 3): enough for a median and a spread. */
export const RUNS = Math.max(3, Number(process.env.FERRY_BENCH_RUNS ?? 3));

/**
 * Time ferry and its peer `runs` times each, interleaved (ferry, peer, peer, ferry, ...: neither always goes
 * first into a cache the other warmed), each run preceded by `before` (untimed). fns return seconds (or any
 * sample). Returns the samples, paired in run order, for row().
 */
export async function interleave(runs, ferryFn, peerFn, before = () => {}) {
  const ferry = [];
  const peer = [];
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? [[ferryFn, ferry], [peerFn, peer]] : [[peerFn, peer], [ferryFn, ferry]];
    for (const [fn, out] of order) {
      await before();
      out.push(await fn());
    }
  }
  return { ferry, peer };
}

let runs = 0;
/**
 * A folder path no run of this script has used: `parent/label-N`. A run that needs an empty cache or output
 * folder takes a new one instead of removing the previous run's (the script removes its whole folder at
 * its end). ext4 keeps an inode freed in the last 60-300 s from being reused and checks each such free
 * inode in turn when it allocates one (recently_deleted under __ext4_new_inode), so right after thousands
 * of files were removed every file created costs ~0.7 ms of kernel CPU instead of ~0.03 ms (perf record of a
 * cold mirror build after `rm -rf` of the previous cache: 1.5 s of its 3.2 s in those calls). A tool whose
 * run followed such a removal was measured against the benchmark's own cleanup, not against its peer.
 */
export function runDir(parent, label) {
  runs += 1;
  return join(parent, `${label}-${runs}`);
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
export function have(cmd) {
  return spawnSync('bash', ['-c', `command -v ${cmd}`]).status === 0;
}

/** The 1-minute load average above which ratios are marked unreliable: other work shares the cores. */
export const HIGH_LOAD = Number(process.env.FERRY_BENCH_MAX_LOAD ?? Math.max(1.5, cpus().length * 0.75));

/**
 * The 1-minute load average when this script started, before its own work: what other work put on the
 * cores. A row records this, not the load at its end, which the benchmark itself raises (a serve run keeps
 * both cores busy: its load nears 2 on a quiet machine). run.js waits for the load to settle between scripts.
 */
export const LOAD_BEFORE = loadavg()[0];

/**
 * One line per row: ferry and the peer (medians), the median of the per-run ratios ferry/peer, their spread
 * (lowest to highest per-run ratio), the goal and whether the median ratio meets it. A row measured while
 * the load average was above HIGH_LOAD before the script started is marked: its ratio says little.
 */
export function printTable(rows, { markdown = false } = {}) {
  const header = ['measurement', 'ferry', 'peer', 'peer tool', 'ratio', 'spread', 'goal', 'met', 'load'];
  const body = tableCells(rows);
  if (markdown) {
    const cell = (c) => String(c).replaceAll('|', '\\|');
    process.stdout.write(`| ${header.join(' | ')} |\n|${header.map(() => ' --- |').join('')}\n${body.map((b) => `| ${b.map(cell).join(' | ')} |`).join('\n')}\n`);
    return;
  }
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ');
  process.stdout.write(`${cpus().length} cores; medians of interleaved runs; ratio = ferry / peer\n`);
  process.stdout.write(line(header) + '\n' + widths.map((w) => '-'.repeat(w)).join('  ') + '\n' + body.map(line).join('\n') + '\n');
  const high = rows.filter((r) => r.load > HIGH_LOAD).length;
  if (high) process.stdout.write(`${high} row(s) measured with the load average above ${HIGH_LOAD}: other work shared the cores; measure again on a quiet machine\n`);
}

function tableCells(rows) {
  return rows.map((r) => [
    r.name,
    fmt(r.ferry, r.unit),
    fmt(r.peer, r.unit),
    r.peerName,
    r.ratio === undefined ? '-' : r.ratio.toFixed(2) + '×',
    r.spread ? `${r.spread[0].toFixed(2)}–${r.spread[1].toFixed(2)}` : '-',
    r.goal ?? '-',
    r.met === undefined ? '-' : r.met ? 'yes' : 'NO',
    r.load === undefined ? '-' : `${r.load.toFixed(1)}${r.load > HIGH_LOAD ? ' HIGH' : ''}`,
  ]);
}

function fmt(v, unit) {
  if (v === undefined || v === null) return '-';
  return `${Number(v).toFixed(unit === 's' ? 2 : 1)} ${unit}`;
}

/**
 * A result row. ferry and peer are one number each, or the paired samples of interleave(): then the row
 * holds their medians, the median of the per-run ratios and their spread. goal like "<= 1.1" or ">= 0.8"
 * is checked against the (median) ratio, one with a unit like "<= 2 s" against ferry's (median) value. The load average before the script's own work is recorded with the row.
 */
export function row(name, ferry, peer, peerName, unit, goal) {
  let ratio;
  let spread;
  if (Array.isArray(ferry) && Array.isArray(peer)) {
    const ratios = ferry.map((f, i) => f / peer[i]);
    ratio = median(ratios);
    spread = [Math.min(...ratios), Math.max(...ratios)];
  } else if (peer) ratio = ferry / peer;
  const value = (v) => (Array.isArray(v) ? median(v) : v);
  // a goal with a unit ("<= 2 s") bounds ferry's own value; without one ("<= 0.5") the ratio
  const [op, num, goalUnit] = goal?.split(/\s+/) ?? [];
  const measured = goalUnit ? value(ferry) : ratio;
  const met = goal && measured !== undefined ? (op === '<=' ? measured <= Number(num) : measured >= Number(num)) : undefined;
  return { name, ferry: value(ferry), peer: value(peer), peerName, unit, ratio, spread, goal, met, load: LOAD_BEFORE };
}

export function writeResults(area, rows) {
  const dir = join(root, 'bench-results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${area}.json`), JSON.stringify({ area, date: new Date().toISOString(), rows }, null, 2) + '\n');
}

/** A shell command line running the built ferry binary. */
export function ferryCmd(args) {
  return `${JSON.stringify(process.execPath)} ${JSON.stringify(ferryBin)} ${args}`;
}

/** A file of `size` bytes: one random 8 MiB block repeated (fast to write, its own content per call). */
export function writeRandomFile(path, size) {
  const fd = openSync(path, 'w');
  const chunk = randomBytes(8 << 20);
  for (let w = 0; w < size; w += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, size - w));
  closeSync(fd);
}

/**
 * Write DIR/spec/bench.yaml (release bench 1.0.0, one service, the given files under DIR/spec/files),
 * a key DIR/team, and build it with `ferry build ... buildArgs`.
 */
export function buildBenchBundle(dir, files, buildArgs) {
  writeFileSync(
    join(dir, 'spec/bench.yaml'),
    `name: bench\nversion: 1.0.0\nepoch: 2026-11-25T00:00:00Z\nservices:\n  bench:\n    version: "1"\n    groups: [all]\n    artifacts:\n      files:\n${files.map((f) => `        - src: files/${f}\n`).join('')}`,
  );
  timeShell(ferryCmd(`key generate --name bench --out ${dir}/team`));
  timeShell(ferryCmd(`build ${dir}/spec/bench.yaml --key ${dir}/team.secret.asc --cache ${dir}/cache ${buildArgs}`));
}

/** A loopback port free right now. */
export async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * Wait until something listens on 127.0.0.1:port, failing if `child` exits first. On a busy machine a
 * start may take long, so only the child's exit is a failure; the 5-minute bound is a hang detector.
 */
export async function waitForPort(port, child, what) {
  for (let i = 0; i < 6000; i++) {
    const up = await new Promise((r) => {
      const s = connect(port, '127.0.0.1', () => (s.destroy(), r(true)));
      s.on('error', () => r(false));
    });
    if (up) return;
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not start on port ${port}`);
}

/** Signal a child process and wait for it to exit. */
export async function stopChild(child, signal) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

/**
 * Run a program as a new process under GNU time and return what the run cost: wall seconds, CPU seconds
 * (user + sys of the program and every descendant it waited for: for ferry, its ssh clients and master
 * connections) and peak RSS in MiB (of the largest single process of that tree). `out` is the program's
 * output, kept for the error message when code is not 0. Needs /usr/bin/time (Debian package `time`).
 */
export async function runMeasured(cmd, args, opts = {}) {
  const stats = join(tmpdir(), `ferry-bench-time-${process.pid}-${randomBytes(4).toString('hex')}`);
  const t = process.hrtime.bigint();
  // asynchronous: the benchmark's own servers (the store the hosts fetch from) keep answering meanwhile
  const child = spawn('/usr/bin/time', ['-f', '%U %S %M', '-o', stats, cmd, ...args], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = [];
  child.stdout.on('data', (b) => out.push(b));
  child.stderr.on('data', (b) => out.push(b));
  const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
  const code = await new Promise((resolve) => {
    child.on('error', () => resolve(-1));
    child.on('close', (c) => resolve(c ?? -1));
  });
  clearTimeout(timer);
  const wall = Number(process.hrtime.bigint() - t) / 1e9;
  let user = NaN;
  let sys = NaN;
  let rssKiB = NaN;
  try {
    [user, sys, rssKiB] = readFileSync(stats, 'utf8').trim().split('\n').pop().split(' ').map(Number);
  } catch {
    /* killed before time wrote */
  }
  rmSync(stats, { force: true });
  return { code, out: Buffer.concat(out).toString('utf8'), wall, cpu: user + sys, rssMiB: rssKiB / 1024 };
}
