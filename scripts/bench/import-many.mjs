// Benchmark: import of a bundle of many tiny files (the case where a sync per file cost minutes), against
// `tar -x` + `sync` of the same bundle. Both end with every file on disk and durable; ferry also checks
// the signature and every sha256. Goal: within 2x of the peer.
// ferry runs as a new process each time; runs interleaved with the peer, medians (lib.mjs).
// Usage: node scripts/bench/import-many.mjs [FILES]   (default 100000; FERRY_BENCH_RUNS, default 3)
// The bundle is written with ferry's own tar writer and signer from dist/ (ferry build would spend its
// time hashing and caching 100,000 sources, which is not what is measured here).
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ferryCmd, interleave, printTable, root, row, RUNS, timeShell, writeResults } from './lib.mjs';

const count = Number(process.argv[2] ?? 100_000);
const dir = join(process.env.FERRY_BENCH_DIR ?? tmpdir(), 'ferry-bench-import-many');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });

const { writeTar } = await import(join(root, 'dist/bundle/writeTar.js'));
const { FORMAT } = await import(join(root, 'dist/bundle/manifest.js'));
const { signDetached } = await import(join(root, 'dist/pgp/sign.js'));
const { canonicalJson } = await import(join(root, 'dist/util/canonicalJson.js'));
// ferry's own copy of openpgp.js (src/pgp/openpgp.ts): keys read by another copy are foreign classes to it
const { pgp: openpgp } = await import(join(root, 'dist/pgp/openpgp.js'));

timeShell(ferryCmd(`key generate --name bench --out ${dir}/team`));
const key = await openpgp.readPrivateKey({ armoredKey: (await import('node:fs')).readFileSync(`${dir}/team.secret.asc`, 'utf8') });

// 100 folders of tiny files (a few dozen bytes each, like configs, metadata, small scripts)
const files = [];
for (let i = 0; i < count; i++) {
  const path = `files/bench/d${String(i % 100).padStart(2, '0')}/f${String(i).padStart(6, '0')}.txt`;
  const data = Buffer.from(`small file ${i}\n`);
  files.push({ path, data, size: data.length, sha256: createHash('sha256').update(data).digest('hex') });
}
files.sort((a, b) => (a.path < b.path ? -1 : 1));
const manifest = {
  format: FORMAT,
  name: 'bench',
  version: '1.0.0',
  epoch: '2026-11-25T00:00:00.000Z',
  created_by: 'bench',
  targets: {},
  services: {},
  artifacts: {},
  entries: files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256, kind: 'file', services: [] })),
};
const manifestBytes = Buffer.from(canonicalJson(manifest));
const signature = Buffer.from(await signDetached(manifestBytes, [key], key.getCreationTime()));
const bundle = join(dir, 'bench-1.0.0.ferry');
const out = createWriteStream(bundle);
await writeTar(
  out,
  [{ path: 'manifest.json', data: manifestBytes, size: manifestBytes.length }, { path: 'manifest.json.asc', data: signature, size: signature.length }, ...files],
  new Date('2026-11-25T00:00:00Z'),
);
out.end();
await once(out, 'close');

const clean = () => {
  rmSync(join(dir, 'out'), { recursive: true, force: true });
  timeShell(`sync -f ${dir}`); // nothing of the previous run left to flush
};
const peer = () => timeShell(`mkdir -p ${dir}/out && tar -xf ${bundle} -C ${dir}/out && sync`);
const imported = await interleave(RUNS, () => timeShell(ferryCmd(`import ${bundle} --keyring ${dir}/team.asc --store ${dir}/out`)), peer, clean);
const verified = await interleave(RUNS, () => timeShell(ferryCmd(`verify ${bundle} --keyring ${dir}/team.asc`)), peer, clean);
clean();

const rows = [
  row(`import ${count} tiny files`, imported.ferry, imported.peer, 'tar -x + sync', 's', '<= 2'),
  row(`verify ${count} tiny files (writes nothing)`, verified.ferry, verified.peer, 'tar -x + sync', 's'),
];
printTable(rows);
writeResults('import-many', rows);
rmSync(dir, { recursive: true, force: true });
