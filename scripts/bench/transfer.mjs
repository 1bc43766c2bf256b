// Benchmark: import of a split bundle of >= 2 GiB (volumes + index), measuring peak RSS with /usr/bin/time -v
// (Debian package `time`) and wall time against the standard pipeline doing the same checks:
// `sha256sum -c` of the volumes, `cat volumes | tar -x`, `sha256sum -c` of the entries, `sync` (ferry
// fsyncs what it imports: same durability). ferry runs as a new process each time; runs interleaved.
// Usage: node scripts/bench/transfer.mjs [GiB]   (default 2; FERRY_BENCH_RUNS, default 3)
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { buildBenchBundle, ferryCmd, have, interleave, printTable, row, RUNS, writeRandomFile, writeResults } from './lib.mjs';

if (!have('/usr/bin/time')) throw new Error('/usr/bin/time is missing: apt-get install time (scripts/deps/transfer.apt)');
const gib = Number(process.argv[2] ?? 2);
const dir = join(process.env.FERRY_BENCH_DIR ?? tmpdir(), 'ferry-bench-transfer');
rmSync(dir, { recursive: true, force: true });
mkdirSync(join(dir, 'spec/files'), { recursive: true });

// gib GiB as 8 large artifacts, each its own content (so the store cannot share blobs between them)
const large = 8;
const largeSize = Math.floor((gib * 2 ** 30) / large);
const files = [];
for (let i = 0; i < large; i++) {
  const name = `large-${i}.bin`;
  writeRandomFile(join(dir, 'spec/files', name), largeSize);
  files.push(name);
}
buildBenchBundle(dir, files, `--out ${dir}/vols --split 700M`);
rmSync(join(dir, 'spec'), { recursive: true, force: true });
const index = JSON.parse(readFileSync(join(dir, 'vols/bench-1.0.0.ferry.index.json'), 'utf8'));
const vols = index.volumes.map((v) => join(dir, 'vols', v.file));

// the peer pipeline's inputs, prepared untimed: the volumes' and the entries' SHA256SUMS
writeFileSync(join(dir, 'VOLUMES.sha256'), index.volumes.map((v) => `${v.sha256}  ${join(dir, 'vols', v.file)}`).join('\n') + '\n');
const manifest = JSON.parse(spawnSync('bash', ['-c', `cat ${vols.join(' ')} | tar -xOf - manifest.json`]).stdout.toString());
writeFileSync(join(dir, 'SHA256SUMS'), manifest.entries.map((e) => `${e.sha256}  ${e.path}`).join('\n') + '\n');

/** run under /usr/bin/time -v: wall seconds and peak RSS in MiB */
function measure(cmd) {
  const t = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-v', 'bash', '-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'] });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  const err = r.stderr.toString();
  if (r.status !== 0) throw new Error(`benchmark command failed (${r.status}): ${cmd}\n${err}`);
  const kb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(err)?.[1]);
  return { s, rss: kb / 1024 };
}
const clean = () => rmSync(join(dir, 'out'), { recursive: true, force: true });
const { ferry: f, peer: p } = await interleave(
  RUNS,
  () => measure(ferryCmd(`import ${dir}/vols/bench-1.0.0.ferry.index.json --keyring ${dir}/team.asc --store ${dir}/out`)),
  () => measure(`sha256sum --quiet -c ${dir}/VOLUMES.sha256 && mkdir -p ${dir}/out && cat ${vols.join(' ')} | tar -x -C ${dir}/out && cd ${dir}/out && sha256sum --quiet -c ${dir}/SHA256SUMS && sync`),
  clean,
);
clean();

const label = `${(index.size / 2 ** 30).toFixed(2)} GiB in ${vols.length} volumes`;
const rows = [
  row(`import split bundle, ${label}: peak RSS within budget`, Math.max(...f.map((x) => x.rss)), 200, 'budget of issue #9 (200 MiB)', 'MiB', '<= 1'),
  row(`import split bundle, ${label}: peak RSS`, f.map((x) => x.rss), p.map((x) => x.rss), 'sha256sum -c + cat | tar -x + sha256sum -c + sync', 'MiB'),
  row(`import split bundle, ${label}: wall time`, f.map((x) => x.s), p.map((x) => x.s), 'sha256sum -c + cat | tar -x + sha256sum -c + sync', 's', '<= 1.1'),
];
printTable(rows);
writeResults('transfer', rows);
rmSync(dir, { recursive: true, force: true });
