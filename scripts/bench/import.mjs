// Benchmark: verify + import of a bundle of >= 1 GiB of artifacts, against the standard pipeline doing the
// same checks: `tar -x` + `sha256sum -c` + `gpgv`. Both end with data on disk and every byte checked.
// Usage: node scripts/bench/import.mjs [GiB]   (default 1)
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, readFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { best, ferryBin, printTable, row, timeShell, writeResults } from './lib.mjs';

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
  const fd = openSync(join(dir, 'spec/files', name), 'w');
  const chunk = randomBytes(8 << 20);
  for (let w = 0; w < largeSize; w += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, largeSize - w));
  closeSync(fd);
  files.push(name);
}
for (let i = 0; i < 2000; i++) {
  const name = `small-${String(i).padStart(4, '0')}.txt`;
  writeFileSync(join(dir, 'spec/files', name), randomBytes(2048).toString('hex'));
  files.push(name);
}
writeFileSync(
  join(dir, 'spec/bench.yaml'),
  `name: bench\nversion: 1.0.0\nepoch: 2026-11-25T00:00:00Z\nservices:\n  bench:\n    version: "1"\n    groups: [all]\n    artifacts:\n      files:\n${files.map((f) => `        - src: files/${f}\n`).join('')}`,
);
const ferry = (args) => `${JSON.stringify(process.execPath)} ${JSON.stringify(ferryBin)} ${args}`;
timeShell(ferry(`key generate --name bench --out ${dir}/team`));
timeShell(ferry(`build ${dir}/spec/bench.yaml --key ${dir}/team.secret.asc --out ${dir} --cache ${dir}/cache`));
const bundle = join(dir, 'bench-1.0.0.ferry');

// the peer pipeline's inputs, prepared untimed: a binary keyring and a SHA256SUMS from the manifest
spawnSync('bash', ['-c', `gpg --dearmor < ${dir}/team.asc > ${dir}/team.gpg`]);
const manifest = JSON.parse(spawnSync('tar', ['-xOf', bundle, 'manifest.json']).stdout.toString());
writeFileSync(join(dir, 'SHA256SUMS'), manifest.entries.map((e) => `${e.sha256}  ${e.path}`).join('\n') + '\n');

const runs = Number(process.env.FERRY_BENCH_RUNS ?? 3);
const clean = () => rmSync(join(dir, 'out'), { recursive: true, force: true });
const ferryS = best(runs, () => timeShell(ferry(`import ${bundle} --keyring ${dir}/team.asc --store ${dir}/out`)), clean);
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
