// Shared helpers for benchmark scripts: timing, a table with ratios, JSON results.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
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

/** Best (minimum) of n runs, each preceded by `before` (untimed). */
export function best(n, fn, before = () => {}) {
  let min = Infinity;
  for (let i = 0; i < n; i++) {
    before();
    min = Math.min(min, fn());
  }
  return min;
}

export function have(cmd) {
  return spawnSync('bash', ['-c', `command -v ${cmd}`]).status === 0;
}

/**
 * rows: { name, ferry, peer, peerName, unit, goal, lowerIsBetter = true }
 * ratio = ferry / peer for times (lower is better), peer / ferry for rates, so ratio < 1 always means ferry is better... no:
 * ratio is always ferry/peer in the row's unit; `goal` says which way it must go, e.g. "<= 1.1".
 */
export function printTable(rows) {
  const header = ['measurement', 'ferry', 'peer', 'peer tool', 'ratio', 'goal', 'met'];
  const body = rows.map((r) => [r.name, fmt(r.ferry, r.unit), fmt(r.peer, r.unit), r.peerName, r.ratio === undefined ? '-' : r.ratio.toFixed(2) + '×', r.goal ?? '-', r.met === undefined ? '-' : r.met ? 'yes' : 'NO']);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ');
  process.stdout.write(line(header) + '\n' + widths.map((w) => '-'.repeat(w)).join('  ') + '\n' + body.map(line).join('\n') + '\n');
}

function fmt(v, unit) {
  if (v === undefined || v === null) return '-';
  return `${Number(v).toFixed(unit === 's' ? 2 : 1)} ${unit}`;
}

/** goal like "<= 1.1" or ">= 0.5" checked against ratio */
export function row(name, ferry, peer, peerName, unit, goal) {
  const ratio = peer ? ferry / peer : undefined;
  let met;
  if (goal && ratio !== undefined) {
    const [op, num] = goal.split(/\s+/);
    met = op === '<=' ? ratio <= Number(num) : ratio >= Number(num);
  }
  return { name, ferry, peer, peerName, unit, ratio, goal, met };
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
