#!/usr/bin/env node
// `npm run bench`: install the peer tools, run every benchmark script in scripts/bench/, print one table.
// Each script writes bench-results/AREA.json; this collects them into bench-results/all.json.
// Every row: ferry, the fair peer (see each script's header for its configuration), the median ratio of
// at least 3 interleaved runs, their spread, the goal, and the load average before the script's own work.
// `node scripts/bench/run.js --markdown` prints the last run's table as Markdown (README.md's table).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { HIGH_LOAD, printTable, root } from './lib.mjs';

const PEERS = readFileSync(join(root, 'scripts/deps/bench.apt'), 'utf8').replace(/#.*/g, '').split(/\s+/).filter(Boolean);
const ON_REQUEST = ['deploy-scale.mjs'];
const LIMIT_S = Number(process.env.FERRY_BENCH_SCRIPT_TIMEOUT ?? 900);

const resultsDir = join(root, 'bench-results');
// --markdown: print the last run's collected table (bench-results/all.json) as Markdown, for README.md; runs nothing
if (process.argv.includes('--markdown')) {
  const { date, cores, rows } = JSON.parse(readFileSync(join(resultsDir, 'all.json'), 'utf8'));
  process.stdout.write(`${cores ?? '?'} cores, ${date}; medians of interleaved runs; ratio = ferry / peer\n\n`);
  printTable(rows, { markdown: true });
  process.exit(0);
}
if (process.getuid?.() === 0 && process.env.FERRY_BENCH_NO_INSTALL !== '1') {
  const missing = PEERS.filter((p) => spawnSync('dpkg-query', ['-W', '-f=${Status}', p]).stdout?.toString() !== 'install ok installed');
  if (missing.length) {
    process.stdout.write(`installing peer tools: ${missing.join(' ')}\n`);
    spawnSync('bash', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${missing.join(' ')}`], { stdio: 'inherit' });
  }
}

const only = process.argv.slice(2);
const scripts = readdirSync(join(root, 'scripts/bench'))
  // lib.mjs and writeDeb.mjs are helpers the scripts import, not benchmarks
  .filter((f) => f.endsWith('.mjs') && !['lib.mjs', 'writeDeb.mjs'].includes(f))
  // deploy-scale (10, 50 and 200 lab hosts against ansible-playbook) takes one to two hours: only when named
  .filter((f) => (only.length === 0 ? !ON_REQUEST.includes(f) : only.includes(f.replace(/\.mjs$/, ''))))
  .sort();
if (loadavg()[0] > HIGH_LOAD) {
  process.stdout.write(
    `load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores (above ${HIGH_LOAD}): other work shares the cores, so the ratios below are marked HIGH and say little; run again on a quiet machine (FERRY_BENCH_MAX_LOAD sets the threshold)\n`,
  );
}
const all = [];
for (const s of scripts) {
  const area = s.replace(/\.mjs$/, '');
  rmSync(join(resultsDir, `${area}.json`), { force: true });
  process.stdout.write(`\n== ${area}\n`);
  // the previous script's own load lingers in the 1-minute average: let it settle (at most 2 minutes), so
  // the load a row records is other work's
  for (let waited = 0; loadavg()[0] > HIGH_LOAD && waited < 120; waited += 5) {
    if (waited === 0) process.stdout.write(`waiting for the load average (${loadavg()[0].toFixed(1)}) to fall below ${HIGH_LOAD}\n`);
    spawnSync('sleep', ['5']);
  }
  const r = spawnSync(process.execPath, [join(root, 'scripts/bench', s)], { stdio: 'inherit', timeout: LIMIT_S * 1000 });
  const file = join(resultsDir, `${area}.json`);
  if (r.status !== 0 || !existsSync(file)) {
    all.push({ name: `${area}: did not finish (${r.signal ?? `exit ${r.status}`})`, peerName: '-', unit: '' });
    continue;
  }
  for (const row of JSON.parse(readFileSync(file, 'utf8')).rows) all.push({ ...row, name: `${area}: ${row.name}` });
}
process.stdout.write('\n== all benchmarks\n');
printTable(all);
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, 'all.json'), JSON.stringify({ date: new Date().toISOString(), cores: cpus().length, rows: all }, null, 2) + '\n');
