// Benchmark: start-up, which every ferry command pays. `ferry --version` (loads no command) and
// `ferry verify --help` (loads one command's file) against the floor, `node -e 0` started the same way
// (a bare Node.js process: what no Node.js program can go below). Each run is a new process under GNU time;
// runs interleave (ferry, node, node, ferry, ...), 9 of each unless FERRY_BENCH_RUNS says more. Rows give
// the medians of wall time and of CPU (user + sys); the ratio is ferry's wall time over node's, the goal is
// the issue's: at most 0.2 s of wall time in all (the floor here is about 0.09 s).
// Usage: npm run build && node scripts/bench/startup.mjs
import { ferryBin, interleave, printTable, row, runMeasured, writeResults } from './lib.mjs';

const RUNS = Math.max(9, Number(process.env.FERRY_BENCH_RUNS ?? 9));
const measure = async (args) => {
  const r = await runMeasured(process.execPath, args);
  if (r.code !== 0) throw new Error(`${args.join(' ')} failed (${r.code}): ${r.out}`);
  return r;
};
const wall = (xs) => xs.map((x) => x.wall);
const cpu = (xs) => xs.map((x) => x.cpu);
const rows = [];
for (const args of [['--version'], ['verify', '--help']]) {
  const r = await interleave(
    RUNS,
    () => measure([ferryBin, ...args]),
    () => measure(['-e', '0']),
  );
  // the goal is absolute (0.2 s): row() checks it on ferry's median, not on the ratio
  rows.push(row(`ferry ${args.join(' ')}: wall`, wall(r.ferry), wall(r.peer), 'node -e 0 (the floor)', 's', '<= 0.2 s'));
  rows.push(row(`ferry ${args.join(' ')}: CPU (user + sys)`, cpu(r.ferry), cpu(r.peer), 'node -e 0 (the floor)', 's'));
}
printTable(rows);
writeResults('startup', rows);
