// Benchmark: verify + import of a bundle of >= 1 GiB of artifacts, against the standard pipeline doing the
// same checks: `tar -x` + `sha256sum -c` + `gpgv`. Both end with data on disk and every byte checked.
// Usage: node scripts/bench/import.mjs [GiB]   (default 1)
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { best, buildBenchBundle, ferryCmd, printTable, row, timeShell, writeRandomFile, writeResults } from './lib.mjs';

const gib = Number(process.argv[2] ?? 1);
const dir = join(process.env.FERRY_BENCH_DIR ?? tmpdir(), 'ferry-bench-import');
rmSync(dir, { recursive: true, force: true });
mkdirSync(join(dir, 'spec/files'), { recursive: true });

// 1 GiB as 16 large artifacts plus 2000 small ones (indexes, configs)
const large = 16;
const largeSize = Math.floor((gib * 1024 * 1024 * 1024) / large);
const files = [];
for (let i = 0; i < large; i++) {
  const name = `large-${String(i).padStart(2, '0')}.bin`;
  writeRandomFile(join(dir, 'spec/files', name), largeSize);
  files.push(name);
}
for (let i = 0; i < 2000; i++) {
  const name = `small-${String(i).padStart(4, '0')}.txt`;
  writeFileSync(join(dir, 'spec/files', name), randomBytes(2048).toString('hex'));
  files.push(name);
}
buildBenchBundle(dir, files, `--out ${dir}`);
const bundle = join(dir, 'bench-1.0.0.ferry');

// the peer pipeline's inputs, prepared untimed: a binary keyring and a SHA256SUMS from the manifest
spawnSync('bash', ['-c', `gpg --dearmor < ${dir}/team.asc > ${dir}/team.gpg`]);
const manifest = JSON.parse(spawnSync('tar', ['-xOf', bundle, 'manifest.json']).stdout.toString());
writeFileSync(join(dir, 'SHA256SUMS'), manifest.entries.map((e) => `${e.sha256}  ${e.path}`).join('\n') + '\n');

const runs = Number(process.env.FERRY_BENCH_RUNS ?? 3);
const clean = () => rmSync(join(dir, 'out'), { recursive: true, force: true });
const ferryS = best(runs, () => timeShell(ferryCmd(`import ${bundle} --keyring ${dir}/team.asc --store ${dir}/out`)), clean);
const peerCmd = `mkdir -p ${dir}/out && tar -xf ${bundle} -C ${dir}/out && cd ${dir}/out && gpgv --keyring ${dir}/team.gpg manifest.json.asc manifest.json && sha256sum --quiet -c ${dir}/SHA256SUMS`;
const peerS = best(runs, () => timeShell(peerCmd), clean);
const peerSyncS = best(runs, () => timeShell(`${peerCmd} && sync`), clean);
clean();

const size = readFileSync(join(dir, 'SHA256SUMS')) && manifest.entries.reduce((n, e) => n + e.size, 0);
const rows = [
  row(`verify+import ${(size / 2 ** 30).toFixed(2)} GiB (ferry fsyncs each file)`, ferryS, peerSyncS, 'tar -x + gpgv + sha256sum -c + sync', 's', '<= 1.1'),
  row(`verify+import ${(size / 2 ** 30).toFixed(2)} GiB, peer without sync`, ferryS, peerS, 'tar -x + gpgv + sha256sum -c', 's', '<= 1.1'),
];
printTable(rows);
writeResults('import', rows);
rmSync(dir, { recursive: true, force: true });
