// Benchmark: packing a rootfs folder (>= 1 GiB of many small files) with ferry against GNU tar in
// the same run. Usage: node scripts/bench/rootfs.mjs [--gib 1] [--dir /tmp/ferry-bench-rootfs]
// Writes bench-results/rootfs.json. The fixture is generated once and kept between runs.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packDirectory } from '../../dist/sources/rootfs/packDirectory.js';
import { writeCompressed } from '../../dist/sources/rootfs/writeCompressed.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const gib = Number(opt('gib', '1'));
const fixture = opt('dir', '/tmp/ferry-bench-rootfs');
const out = opt('out', '/tmp/ferry-bench-rootfs-out');
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Many small files like a real rootfs: text-like (compressible) and binary-like (random), 1-32 KiB. */
function makeFixture(dir, bytes) {
  const marker = join(dir, '.complete');
  if (existsSync(marker) && Number(readFileSync(marker, 'utf8')) >= bytes) return;
  rmSync(dir, { recursive: true, force: true });
  const words = 'the quick brown fox jumps over lazy dog lorem ipsum dolor sit amet config value path usr lib share bin etc'.split(' ');
  let total = 0;
  let n = 0;
  let seed = 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  while (total < bytes) {
    const d = join(dir, `usr/d${Math.floor(n / 500)}`, `s${Math.floor(n / 50) % 10}`);
    if (n % 50 === 0) mkdirSync(d, { recursive: true });
    const size = 1024 + Math.floor(rnd() * 31 * 1024);
    let data;
    if (n % 3 === 0) data = randomBytes(size);
    else {
      const parts = [];
      let len = 0;
      while (len < size) {
        const w = words[Math.floor(rnd() * words.length)] + (rnd() < 0.1 ? '\n' : ' ') + (rnd() < 0.05 ? randomBytes(4).toString('hex') : '');
        parts.push(w);
        len += w.length;
      }
      data = Buffer.from(parts.join('')).subarray(0, size);
    }
    writeFileSync(join(d, `f${n}.dat`), data);
    total += size;
    n++;
  }
  writeFileSync(marker, String(total));
}

function time(fn) {
  const t = process.hrtime.bigint();
  return Promise.resolve(fn()).then(() => Number(process.hrtime.bigint() - t) / 1e9);
}

function sh(cmd) {
  const r = spawnSync('sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} failed`);
}

const bytes = Math.round(gib * 1024 ** 3);
console.error(`fixture: ${fixture} (${gib} GiB of 1-32 KiB files)`);
makeFixture(fixture, bytes);
const files = Number(execFileSync('sh', ['-c', `find ${fixture} -type f | wc -l`]).toString().trim());
mkdirSync(out, { recursive: true });
// warm the page cache the same way for both
sh(`tar -cf - -C ${fixture} . > /dev/null`);

const epoch = new Date(0);
const rows = [];
const cases = [
  {
    name: 'pack 1 GiB folder, gzip',
    ferry: () => writeCompressed(packDirectory(fixture, { epoch }), join(out, 'ferry.tar.gz'), 'gzip'),
    peerName: 'tar --sort=name --mtime=@0 --owner=0 --group=0 -czf',
    peer: () => sh(`tar --sort=name --mtime=@0 --owner=0 --group=0 -czf ${out}/tar.tar.gz -C ${fixture} .`),
    goal: 1.2,
  },
  {
    name: 'pack 1 GiB folder, zstd -10',
    ferry: () => writeCompressed(packDirectory(fixture, { epoch }), join(out, 'ferry.tar.zst'), 'zstd', 10),
    peerName: "tar --sort=name --mtime=@0 --owner=0 --group=0 -I 'zstd -T0 -10' -cf",
    peer: () => sh(`tar --sort=name --mtime=@0 --owner=0 --group=0 -I 'zstd -T0 -10' -cf ${out}/tar.tar.zst -C ${fixture} .`),
    goal: 1.2,
  },
  {
    // the alternative design: GNU tar makes the stream, ferry compresses it; shows where time goes
    name: 'GNU tar stream + ferry gzip (alternative)',
    ferry: () => sh(`tar --sort=name --mtime=@0 --numeric-owner --format=gnu -cf - -C ${fixture} . | node -e "import('${repo}/dist/util/parallelGzip.js').then(m=>process.stdin.pipe(m.parallelGzip()).pipe(process.stdout))" > ${out}/alt.tar.gz`),
    peerName: 'tar --sort=name --mtime=@0 --owner=0 --group=0 -czf',
    peer: () => sh(`tar --sort=name --mtime=@0 --owner=0 --group=0 -czf ${out}/tar.tar.gz -C ${fixture} .`),
    goal: null,
  },
];
for (const c of cases) {
  const ferry = await time(c.ferry);
  const peer = await time(c.peer);
  const row = { name: c.name, ferry: +ferry.toFixed(2), peer: +peer.toFixed(2), peerName: c.peerName, unit: 's', ratio: +(ferry / peer).toFixed(3), goal: c.goal };
  rows.push(row);
  console.error(`${c.name}: ferry ${row.ferry} s, peer ${row.peer} s, ratio ${row.ratio}`);
}
const sizes = { files, ferryGz: statSync(join(out, 'ferry.tar.gz')).size, tarGz: statSync(join(out, 'tar.tar.gz')).size, ferryZst: statSync(join(out, 'ferry.tar.zst')).size };
console.log('| case | ferry | peer | ratio | goal |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.name} | ${r.ferry} s | ${r.peer} s (${r.peerName}) | ${r.ratio} | ${r.goal ?? '-'} |`);
console.log(`files: ${files}; sizes: ferry .tar.gz ${sizes.ferryGz} B, tar .tar.gz ${sizes.tarGz} B, ferry .tar.zst ${sizes.ferryZst} B`);
mkdirSync(join(repo, 'bench-results'), { recursive: true });
writeFileSync(join(repo, 'bench-results', 'rootfs.json'), JSON.stringify({ date: new Date().toISOString(), fixtureBytes: bytes, ...sizes, rows }, null, 2) + '\n');
rmSync(out, { recursive: true, force: true });
