// Packing a rootfs folder (>= 1 GiB of many small files): ferry against GNU tar, same machine, same run.
//   node scripts/bench/rootfs.mjs [--gib 1] [--dir /tmp/ferry-bench-rootfs] [--runs 1]
// The fixture is generated once and kept (its .complete marker records its size). Writes bench-results/rootfs.json.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packDirectory } from '../../dist/sources/rootfs/packDirectory.js';
import { writeCompressed } from '../../dist/sources/rootfs/writeCompressed.js';
import { printTable, root, row, timeShell, writeResults } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : dflt);
const gib = Number(opt('gib', '1'));
const runs = Number(opt('runs', '1'));
const fixture = opt('dir', '/tmp/ferry-bench-rootfs');
const out = '/tmp/ferry-bench-rootfs-out';
const TAR = 'tar --sort=name --mtime=@0 --owner=0 --group=0';

/** Many small files like a real rootfs: two thirds text-like (compressible), one third random, 1-32 KiB each, 50 to a folder. */
function makeFixture(dir, bytes) {
  const marker = join(dir, '.complete');
  if (existsSync(marker) && Number(readFileSync(marker, 'utf8')) >= bytes) return;
  rmSync(dir, { recursive: true, force: true });
  const words = 'the quick brown fox jumps over lazy dog lorem ipsum dolor sit amet config value path usr lib share bin etc'.split(' ');
  let seed = 1;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const pool = [];
  for (let len = 0; len < 1 << 20; ) {
    const w = words[Math.floor(rnd() * words.length)] + (rnd() < 0.1 ? '\n' : ' ') + (rnd() < 0.05 ? randomBytes(4).toString('hex') : '');
    pool.push(w);
    len += w.length;
  }
  const text = Buffer.from(pool.join(''));
  let total = 0;
  for (let n = 0; total < bytes; n++) {
    const d = join(dir, `usr/d${Math.floor(n / 500)}`, `s${Math.floor(n / 50) % 10}`);
    if (n % 50 === 0) mkdirSync(d, { recursive: true });
    const size = 1024 + Math.floor(rnd() * 31 * 1024);
    const at = Math.floor(rnd() * (text.length - size));
    writeFileSync(join(d, `f${n}.dat`), n % 3 === 0 ? randomBytes(size) : text.subarray(at, at + size));
    total += size;
  }
  writeFileSync(marker, String(total));
}

async function seconds(fn) {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    await fn();
    min = Math.min(min, Number(process.hrtime.bigint() - t) / 1e9);
  }
  return min;
}

process.stderr.write(`fixture: ${fixture} (${gib} GiB of 1-32 KiB files)\n`);
makeFixture(fixture, Math.round(gib * 1024 ** 3));
mkdirSync(out, { recursive: true });
// the same warm page cache for both sides
timeShell(`tar -cf - -C ${fixture} . > /dev/null`);
const epoch = new Date(0);
const rows = [];

const gzFerry = await seconds(() => writeCompressed(packDirectory(fixture, { epoch }), join(out, 'ferry.tar.gz'), 'gzip'));
const gzTar = await seconds(() => timeShell(`${TAR} -czf ${out}/tar.tar.gz -C ${fixture} .`));
rows.push(row('pack 1 GiB of small files, gzip -6', gzFerry, gzTar, `${TAR} -czf`, 's', '<= 1.2'));

const zFerry = await seconds(() => writeCompressed(packDirectory(fixture, { epoch }), join(out, 'ferry.tar.zst'), 'zstd', 10));
const zTar = await seconds(() => timeShell(`${TAR} -I 'zstd -T0 -10' -cf ${out}/tar.tar.zst -C ${fixture} .`));
rows.push(row('pack 1 GiB of small files, zstd -10', zFerry, zTar, `${TAR} -I 'zstd -T0 -10' -cf`, 's', '<= 1.2'));

// the tar stream alone (no compression): where ferry's own time goes
const rawFerry = await seconds(async () => {
  for await (const _ of packDirectory(fixture, { epoch }));
});
// through a pipe: GNU tar skips reading file data when its output is /dev/null itself
const rawTar = await seconds(() => timeShell(`${TAR} -cf - -C ${fixture} . | cat > /dev/null`));
rows.push(row('tar stream only, no compression', rawFerry, rawTar, `${TAR} -cf - | cat > /dev/null`, 's'));

const size = (f) => statSync(join(out, f)).size;
rows.push(row('gzip output size', size('ferry.tar.gz') / 2 ** 20, size('tar.tar.gz') / 2 ** 20, 'GNU gzip -6', 'MiB', '<= 1.05'));
printTable(rows);
writeResults('rootfs', rows);
rmSync(out, { recursive: true, force: true });
