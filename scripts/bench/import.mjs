// Benchmark: verify + import of a bundle of >= 1 GiB of artifacts, against the standard pipeline doing the
// same checks. Peer, as an expert runs it: `tar -x` + `gpgv` + `sha256sum -c`, then `sync`: ferry fsyncs
// what it imports, so the row with the same durability is the one that counts; the row without sync is
// reported too. Hashing floor: `ferry verify` (one read pass, sha256 of every byte) against
// `openssl dgst -sha256` of the same bundle, the fastest sha256 on the machine (coreutils sha256sum is
// about half its speed). Page cache warm for both sides (the bundle was just written and is read once
// untimed); ferry runs as a new process each time, like its peer; runs interleaved (lib.mjs).
// Usage: node scripts/bench/import.mjs [GiB]   (default 1; FERRY_BENCH_RUNS, default 3)
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { buildBenchBundle, ferryCmd, interleave, printTable, row, RUNS, timeShell, writeRandomFile, writeResults } from './lib.mjs';

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

const clean = () => rmSync(join(dir, 'out'), { recursive: true, force: true });
const ferryImport = () => timeShell(ferryCmd(`import ${bundle} --keyring ${dir}/team.asc --store ${dir}/out`));
const peerCmd = `mkdir -p ${dir}/out && tar -xf ${bundle} -C ${dir}/out && cd ${dir}/out && gpgv --keyring ${dir}/team.gpg manifest.json.asc manifest.json && sha256sum --quiet -c ${dir}/SHA256SUMS`;
// warm the page cache the same way for every run that follows
timeShell(`cat ${bundle} > /dev/null`);
const withSync = await interleave(RUNS, ferryImport, () => timeShell(`${peerCmd} && sync`), clean);
const noSync = await interleave(RUNS, ferryImport, () => timeShell(peerCmd), clean);
const verify = await interleave(RUNS, () => timeShell(ferryCmd(`verify ${bundle} --keyring ${dir}/team.asc`)), () => timeShell(`openssl dgst -sha256 ${bundle}`));
clean();

const size = manifest.entries.reduce((n, e) => n + e.size, 0);
const gibs = `${(size / 2 ** 30).toFixed(2)} GiB`;
const rows = [
  row(`verify+import ${gibs}, same durability (ferry fsyncs)`, withSync.ferry, withSync.peer, 'tar -x + gpgv + sha256sum -c + sync', 's', '<= 0.9'),
  row(`verify+import ${gibs}, peer without sync`, noSync.ferry, noSync.peer, 'tar -x + gpgv + sha256sum -c', 's', '<= 1.1'),
  row(`verify ${gibs} bundle: hashing floor`, verify.ferry, verify.peer, 'openssl dgst -sha256 (the floor)', 's', '<= 1.3'),
];
printTable(rows);
writeResults('import', rows);
rmSync(dir, { recursive: true, force: true });
