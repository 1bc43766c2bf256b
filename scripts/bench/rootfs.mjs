// Packing a rootfs folder (>= 1 GiB of many small files): ferry against GNU tar piped into the compressor an
// expert would use on the same cores: `pigz -6 -n` (parallel gzip, no name or time in the header: the output
// is deterministic like ferry's) and `zstd -T0 -10` (every core). Both read the same warm page cache; ferry
// packs in a new process each run (this script with --pack), like its peer; runs interleaved, median of
// FERRY_BENCH_RUNS (at least 3). Output sizes are compared too (goal: within 1 %).
//   node scripts/bench/rootfs.mjs [--gib 1] [--dir /tmp/ferry-bench-rootfs]
// The fixture is generated once and kept (its .complete marker records its size). Writes bench-results/rootfs.json.
import '../../dist/cli/v8Flags.js'; // first: as bin/ferry.js sets them
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { packDirectory } from '../../dist/sources/rootfs/packDirectory.js';
import { writeCompressed } from '../../dist/sources/rootfs/writeCompressed.js';
import { interleave, printTable, row, RUNS, timeShell, writeResults } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : dflt);
if (args[0] === '--pack') {
  // one ferry pack in this (new) process: FIXTURE OUT gzip|zstd|none [LEVEL]
  const [, from, to, compression, level] = args;
  const pack = (out) => packDirectory(from, out, { epoch: new Date(0) });
  if (compression === 'none') {
    const out = createWriteStream(to);
    await pack(out);
    out.end();
    await finished(out);
  } else await writeCompressed(pack, to, compression, level ? Number(level) : undefined);
  process.exit(0);
}
const gib = Number(opt('gib', '1'));
const fixture = opt('dir', '/tmp/ferry-bench-rootfs');
// the outputs, beside the fixture and unique per run: other benchmarks may run at the same time
const out = `${fixture}-out-${process.pid}`;
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

process.stderr.write(`fixture: ${fixture} (${gib} GiB of 1-32 KiB files)\n`);
makeFixture(fixture, Math.round(gib * 1024 ** 3));
mkdirSync(out, { recursive: true });
// the same warm page cache for both sides
timeShell(`tar -cf - -C ${fixture} . > /dev/null`);
const epoch = new Date(0);
const rows = [];

const pack = (file, compression, level = '') => () => timeShell(`${JSON.stringify(process.execPath)} ${JSON.stringify(fileURLToPath(import.meta.url))} --pack ${fixture} ${join(out, file)} ${compression} ${level}`);

const gz = await interleave(RUNS, pack('ferry.tar.gz', 'gzip'), () => timeShell(`${TAR} -cf - -C ${fixture} . | pigz -6 -n > ${out}/tar.tar.gz`));
rows.push(row(`pack ${gib} GiB of small files, gzip -6`, gz.ferry, gz.peer, `${TAR} -cf - | pigz -6 -n`, 's', '<= 1'));

const zst = await interleave(RUNS, pack('ferry.tar.zst', 'zstd', 10), () => timeShell(`${TAR} -I 'zstd -T0 -10' -cf ${out}/tar.tar.zst -C ${fixture} .`));
rows.push(row(`pack ${gib} GiB of small files, zstd -10`, zst.ferry, zst.peer, `${TAR} -I 'zstd -T0 -10' -cf`, 's', '<= 1'));

// the tar stream alone (no compression): where ferry's own time goes; through a pipe, because GNU tar skips
// reading file data when its output is /dev/null itself
const raw = await interleave(RUNS, pack('ferry.tar', 'none'), () => timeShell(`${TAR} -cf - -C ${fixture} . | cat > ${out}/tar.tar`));
rows.push(row('tar stream only, no compression', raw.ferry, raw.peer, `${TAR} -cf - | cat`, 's'));

const size = (f) => statSync(join(out, f)).size;
rows.push(row('gzip output size', size('ferry.tar.gz') / 2 ** 20, size('tar.tar.gz') / 2 ** 20, 'pigz -6 -n', 'MiB', '<= 1.01'));
rows.push(row('zstd output size', size('ferry.tar.zst') / 2 ** 20, size('tar.tar.zst') / 2 ** 20, 'zstd -T0 -10', 'MiB', '<= 1.01'));
printTable(rows);
writeResults('rootfs', rows);
rmSync(out, { recursive: true, force: true });
