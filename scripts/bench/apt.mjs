// Benchmark of the apt area.
// 1. Publishing a signed apt repository of N >= 500 .deb files (the machine's /var/cache/apt/archives
//    when it holds that many, else N small packages built with dpkg-deb): ferry's writeAptRepository
//    against `aptly repo add + publish` and `apt-ftparchive packages/release + gpg`, same files, same run.
//    All three read every control file, hash every file, write Packages(.gz), Release, InRelease and
//    Release.gpg. Peers as experts run them: apt-ftparchive writes only SHA256 (what apt needs: MD5, SHA1
//    and SHA512 off), aptly runs with -skip-contents (Contents indexes are work the others do not do).
//    ferry publishes in a new process (this script with --publish) each run.
// 2. Resolving the dependency closure of 20 packages on Debian's real index (the machine's apt lists,
//    offline): a new ferry process (this script with --resolve: each index parsed and packed as `ferry
//    lock` does when it has not seen the index before) timed whole with its peak memory, against
//    `apt-get install --simulate` on an empty status with the same lists, its package cache built once
//    untimed (as on any host after `apt-get update`); ferry's parse and resolve times are reported too.
// 3. `ferry lock` of one set, a new process timed whole, against apt-get on the same index (below).
// Every pair runs interleaved, FERRY_BENCH_RUNS times (at least 3); rows give medians (lib.mjs).
// Usage: node scripts/bench/apt.mjs   (FERRY_BENCH_DEBS=N, FERRY_BENCH_RUNS=R, FERRY_BENCH_APT=publish|closure|lock)
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ferryBin, have, interleave, median, printTable, root, row, RUNS, timeShell, writeResults } from './lib.mjs';

const dist = (p) => pathToFileURL(join(root, 'dist', p)).href;

// ---- worker modes (run in a fresh process so time and peak memory are the job's own) ----
if (process.argv[2] === '--publish') {
  await import(dist('cli/v8Flags.js')); // as bin/ferry.js sets them
  const [, , , listFile, outDir, keyFile] = process.argv;
  const { writeAptRepository } = await import(dist('sources/apt/writeAptRepository.js'));
  const debs = readFileSync(listFile, 'utf8').split('\n').filter(Boolean).map((file) => ({ file }));
  // the key is read as `ferry build` reads it: when publishing asks for it, beside the reading of the .debs
  const signingKeys = async () => [await (await import(dist('pgp/keyring.js'))).readSecretKey(keyFile)];
  await writeAptRepository({ outDir, suite: 'bench', architectures: ['amd64'], debs, date: new Date('2026-11-25T00:00:00Z'), signingKeys, jobs: 4 });
  process.exit(0);
}
if (process.argv[2] === '--resolve') {
  await import(dist('cli/v8Flags.js')); // as bin/ferry.js sets them
  const files = process.argv[3].split(',');
  const roots = process.argv[4].split(',');
  const { readIndexText } = await import(dist('sources/apt/fetchPackagesIndex.js'));
  const { readPackagesIndex } = await import(dist('sources/apt/readPackagesIndex.js'));
  const { PackedIndex, PackedIndexWriter } = await import(dist('sources/apt/packedIndex.js'));
  const { indexPackedSources } = await import(dist('sources/apt/buildPackageIndex.js'));
  const { resolveAptClosure } = await import(dist('sources/apt/resolveAptClosure.js'));
  const t0 = performance.now();
  // as `ferry lock` reads an index it has not parsed before (fetchPackagesIndex): each package packed as it is parsed
  const sources = [];
  for (const f of files) {
    const origin = { uri: 'bench', suite: f, component: 'main' };
    const writer = new PackedIndexWriter();
    for await (const p of readPackagesIndex(readIndexText(f, '', f), origin, f)) writer.add(p);
    sources.push(PackedIndex.fromParts(writer.finish(), origin));
  }
  const packages = sources.reduce((n, s) => n + s.count, 0);
  const t1 = performance.now();
  const index = indexPackedSources(sources, 'amd64');
  const closure = resolveAptClosure(index, roots, { recommends: false, installed: new Map() });
  const t2 = performance.now();
  process.stdout.write(JSON.stringify({ packages, closure: closure.length, parseS: (t1 - t0) / 1000, resolveS: (t2 - t1) / 1000, maxRssMiB: process.resourceUsage().maxRSS / 1024 }) + '\n');
  process.exit(0);
}

// ---- the benchmark ----
const dir = join(process.env.FERRY_BENCH_DIR ?? tmpdir(), 'ferry-bench-apt');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const N = Math.max(500, Number(process.env.FERRY_BENCH_DEBS ?? 500));
const node = (args) => `${JSON.stringify(process.execPath)} ${args}`;
const rows = [];
// FERRY_BENCH_APT=publish|closure|lock runs one part only (the parts take minutes on a busy machine)
const part = (name) => !process.env.FERRY_BENCH_APT || process.env.FERRY_BENCH_APT === name;
if (part('publish')) {

  // the .deb files
  const cacheDir = '/var/cache/apt/archives';
  let debs = existsSync(cacheDir) ? readdirSync(cacheDir).filter((f) => f.endsWith('.deb')).sort().map((f) => join(cacheDir, f)) : [];
  let source = `${cacheDir} (real Debian packages)`;
  if (debs.length < N) {
    source = 'generated with dpkg-deb';
    debs = [];
    for (let i = 0; i < N; i++) {
      const name = `bench-pkg-${String(i).padStart(4, '0')}`;
      const p = join(dir, 'src', name);
      mkdirSync(join(p, 'DEBIAN'), { recursive: true });
      mkdirSync(join(p, 'usr/share', name), { recursive: true });
      writeFileSync(join(p, 'usr/share', name, 'data'), Buffer.alloc(20_000 + ((i * 7919) % 200_000), i % 251));
      writeFileSync(join(p, 'DEBIAN/control'), `Package: ${name}\nVersion: 1.${i}-1\nArchitecture: amd64\nMaintainer: Bench <bench@example.invalid>\nDepends: libc6 (>= 2.36)\nDescription: benchmark package ${i}\n`);
      execFileSync('dpkg-deb', ['--root-owner-group', '--build', p, join(dir, `${name}.deb`)], { stdio: 'ignore' });
      debs.push(join(dir, `${name}.deb`));
    }
  }
  debs = debs.slice(0, N);
  const bytes = debs.reduce((n, f) => n + statSync(f).size, 0);
  const listFile = join(dir, 'debs.txt');
  writeFileSync(listFile, debs.join('\n') + '\n');
  mkdirSync(join(dir, 'pool'), { recursive: true });
  for (const f of debs) symlinkSync(f, join(dir, 'pool', f.split('/').pop()));
  process.stdout.write(`publishing ${debs.length} .deb files, ${(bytes / 2 ** 20).toFixed(0)} MiB, ${source}\n`);

  // one signing key for everyone: made by ferry, imported into a private GnuPG home for the peers
  timeShell(node(`${JSON.stringify(ferryBin)} key generate --name bench --out ${dir}/bench`));
  const gnupg = join(dir, 'gnupg');
  mkdirSync(gnupg, { mode: 0o700 });
  const genv = { GNUPGHOME: gnupg };
  timeShell(`gpg --batch --import ${dir}/bench.secret.asc`, { env: genv });
  const fpr = spawnSync('gpg', ['--batch', '--with-colons', '--list-secret-keys'], { env: { ...process.env, ...genv } }).stdout.toString().match(/^fpr:+([0-9A-F]{40}):/m)[1];

  const ferryPublish = () => timeShell(node(`${JSON.stringify(join(root, 'scripts/bench/apt.mjs'))} --publish ${listFile} ${dir}/ferry-out ${dir}/bench.secret.asc`));
  const cleanOut = () => ['ferry-out', 'aptly', 'ftp'].forEach((d) => rmSync(join(dir, d), { recursive: true, force: true }));
  const what = `publish ${debs.length} .deb (${(bytes / 2 ** 20).toFixed(0)} MiB), signed`;
  if (have('apt-ftparchive')) {
    const d = `${dir}/ftp/dists/bench`;
    const sha256Only = '-o APT::FTPArchive::MD5=false -o APT::FTPArchive::SHA1=false -o APT::FTPArchive::SHA512=false';
    const ftpCmd = [
      `mkdir -p ${d}/main/binary-amd64 && cd ${dir}/ftp && ln -sfn ${dir}/pool pool`,
      `apt-ftparchive ${sha256Only} packages pool > ${d}/main/binary-amd64/Packages`,
      `gzip -9nk ${d}/main/binary-amd64/Packages`,
      `cd ${d} && apt-ftparchive ${sha256Only} -o APT::FTPArchive::Release::Suite=bench -o APT::FTPArchive::Release::Architectures=amd64 -o APT::FTPArchive::Release::Components=main release . > Release`,
      `gpg --batch -u ${fpr} --clearsign -o InRelease Release && gpg --batch -u ${fpr} -abs -o Release.gpg Release`,
    ].join(' && ');
    const r = await interleave(RUNS, ferryPublish, () => timeShell(ftpCmd, { env: genv }), cleanOut);
    rows.push(row(what, r.ferry, r.peer, 'apt-ftparchive (SHA256 only) + gpg', 's', '<= 1'));
  }
  if (have('aptly')) {
    writeFileSync(join(dir, 'aptly.conf'), JSON.stringify({ rootDir: join(dir, 'aptly'), architectures: ['amd64'], gpgProvider: 'gpg' }));
    const aptly = `aptly -config=${dir}/aptly.conf`;
    const aptlyCmd = `${aptly} repo create -distribution=bench -component=main r >/dev/null && ${aptly} repo add r ${dir}/pool >/dev/null && ${aptly} publish repo -batch -gpg-key=${fpr} -skip-contents r >/dev/null`;
    const r = await interleave(RUNS, ferryPublish, () => timeShell(aptlyCmd, { env: genv }), cleanOut);
    rows.push(row(what, r.ferry, r.peer, 'aptly repo add + publish -skip-contents', 's', '<= 1'));
  }
  cleanOut();
}

/** `cmd` under /usr/bin/time: wall seconds, peak RSS in MiB, and its stdout. */
function timed(cmd) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', 'bash', '-c', cmd], { maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  const [s, kib] = r.stderr.toString().trim().split('\n').pop().split(' ').map(Number);
  return { s, mib: kib / 1024, stdout: r.stdout.toString() };
}

if (part('closure')) {

  // closure of 20 packages on the machine's real index
  const ROOTS = ['nginx-light', 'python3-venv', 'postgresql', 'openssh-server', 'git', 'curl', 'rsyslog', 'cron', 'apache2', 'libapache2-mod-wsgi-py3', 'mariadb-server', 'ansible-core', 'build-essential', 'default-jre-headless', 'chrony', 'sudo', 'vim', 'haproxy', 'keepalived', 'python3-pip'];
  const lists = spawnSync('apt-get', ['indextargets', '--format', '$(FILENAME)', 'Created-By: Packages', 'Architecture: amd64']).stdout?.toString().split('\n').filter((l) => l.startsWith('/')) ?? [];
  if (lists.length > 0) {
    const plain = lists.map((f, i) => {
      const out = join(dir, `Packages-${i}`);
      writeFileSync(out, spawnSync('/usr/lib/apt/apt-helper', ['cat-file', f], { maxBuffer: 1 << 30 }).stdout);
      return out;
    });
    // apt-get on an empty status with the same lists; its package cache is built once, untimed, as on any host after `apt-get update`
    mkdirSync(join(dir, 'aptcache'), { recursive: true });
    writeFileSync(join(dir, 'status'), '');
    const aptCmd = `apt-get -q -o Debug::NoLocking=1 -o Dir::State::status=${dir}/status -o Dir::Cache=${dir}/aptcache/ -o Dir::Cache::pkgcache=${dir}/aptcache/pkgcache.bin -o Dir::Cache::srcpkgcache=${dir}/aptcache/srcpkgcache.bin -o APT::Architectures::=amd64 install --simulate --no-install-recommends ${ROOTS.join(' ')}`;
    timeShell(`${aptCmd} >/dev/null`);
    const r = await interleave(RUNS, () => timed(node(`${JSON.stringify(join(root, 'scripts/bench/apt.mjs'))} --resolve ${plain.join(',')} ${ROOTS.join(',')}`)), () => timed(`${aptCmd} >/dev/null`));
    const inner = r.ferry.map((x) => JSON.parse(x.stdout));
    const label = `closure of 20 packages in ${inner[0].packages} (${inner[0].closure} chosen)`;
    const peer = 'apt-get install --simulate (cache built)';
    rows.push(row(`${label}: new process, whole`, r.ferry.map((x) => x.s), r.peer.map((x) => x.s), peer, 's'));
    rows.push(row(`${label}: ferry's parse + resolve only`, median(inner.map((x) => x.parseS + x.resolveS)), undefined, '-', 's'));
    rows.push(row(`${label}: peak memory`, r.ferry.map((x) => x.mib), r.peer.map((x) => x.mib), peer, 'MiB', '<= 1.5'));
  }
}


// 3. `ferry lock` of one set as a whole new process, against `apt-get install --simulate` of the same
//    set on the same index (one suite's main, copied from the machine's lists into a local mirror, the
//    signed InRelease as apt fetched it): time and peak RSS of each process (/usr/bin/time). The first
//    lock parses the index; later ones read its parsed form from the cache (docs/apt.md).
const [first] = spawnSync('apt-get', ['indextargets', '--format', '$(FILENAME) $(REPO_URI) $(RELEASE) $(COMPONENT)', 'Created-By: Packages', 'Architecture: amd64']).stdout?.toString().split('\n').filter((l) => l.startsWith('/')) ?? [];
const keyring = '/usr/share/keyrings/debian-archive-keyring.gpg';
if (part('lock') && first && existsSync(keyring)) {
  const [listFile1, repoUri, suite, component] = first.split(' ');
  const inRelease = listFile1.replace(/_[^_]+_binary-amd64_Packages(\.\w+)?$/, '_InRelease');
  const mirror = join(dir, 'mirror');
  mkdirSync(join(mirror, 'dists', suite, component, 'binary-amd64'), { recursive: true });
  writeFileSync(join(mirror, 'dists', suite, 'InRelease'), readFileSync(inRelease));
  writeFileSync(join(mirror, 'dists', suite, component, 'binary-amd64', 'Packages'), spawnSync('/usr/lib/apt/apt-helper', ['cat-file', listFile1], { maxBuffer: 1 << 30 }).stdout);
  const set = ['nginx-light', 'python3-venv'];
  const spec = join(dir, 'lockbench.yaml');
  writeFileSync(spec, [
    'name: lockbench', 'version: 1.0.0', 'epoch: 2026-11-25T00:00:00Z',
    'targets: { debian: { suite: bookworm, architectures: [amd64] } }',
    `upstreams: { apt: [{ uri: "file://${mirror}", suites: [${suite}], components: [${component}], keyring: ${keyring} }] }`,
    `services: { s: { version: "1", groups: [g], artifacts: { apt: [${set.join(', ')}] } } }`, '',
  ].join('\n'));
  const lockCmd = node(`${JSON.stringify(ferryBin)} lock ${spec} --cache ${dir}/lockcache`);
  const aptDir = join(dir, 'aptlock');
  mkdirSync(join(aptDir, 'lists/partial'), { recursive: true });
  mkdirSync(join(aptDir, 'cache'), { recursive: true });
  writeFileSync(join(aptDir, 'status'), '');
  writeFileSync(join(aptDir, 'sources.list'), `deb [signed-by=${keyring}] ${repoUri} ${suite} ${component}\n`);
  for (const f of [inRelease, listFile1]) symlinkSync(f, join(aptDir, 'lists', f.split('/').pop()));
  const aptCmd1 = `apt-get -q -o Debug::NoLocking=1 -o Dir::Etc::SourceList=${aptDir}/sources.list -o Dir::Etc::SourceParts=/nonexistent -o Dir::State::Lists=${aptDir}/lists -o Dir::State::status=${aptDir}/status -o Dir::Cache=${aptDir}/cache/ -o Dir::Cache::pkgcache=${aptDir}/cache/pkgcache.bin -o Dir::Cache::srcpkgcache=${aptDir}/cache/srcpkgcache.bin -o APT::Architecture=amd64 -o APT::Architectures::=amd64 install --simulate --no-install-recommends ${set.join(' ')}`;
  // cold: ferry without its parsed-index cache, apt-get without its package cache; warm: both caches built
  const cold = await interleave(RUNS, () => timed(`${lockCmd} >/dev/null`), () => timed(`${aptCmd1} >/dev/null`), () => {
    rmSync(join(dir, 'lockcache'), { recursive: true, force: true });
    rmSync(join(aptDir, 'cache'), { recursive: true, force: true });
    mkdirSync(join(aptDir, 'cache'), { recursive: true });
  });
  // the cold runs' last cleanup removed ferry's parsed index again: one untimed lock builds it (apt-get's cache is built)
  timed(`${lockCmd} >/dev/null`);
  const warm = await interleave(RUNS, () => timed(`${lockCmd} >/dev/null`), () => timed(`${aptCmd1} >/dev/null`));
  const what = `ferry lock of ${set.join(' + ')}`;
  const [s, mib] = [(xs) => xs.map((x) => x.s), (xs) => xs.map((x) => x.mib)];
  rows.push(row(`${what}, new process, warm (parsed index cached)`, s(warm.ferry), s(warm.peer), 'apt-get install --simulate (cache built)', 's', '<= 1'));
  rows.push(row(`${what}, peak RSS, warm`, mib(warm.ferry), mib(warm.peer), 'apt-get install --simulate (cache built)', 'MiB', '<= 1.5'));
  rows.push(row(`${what}, cold (parses the index)`, s(cold.ferry), s(cold.peer), 'apt-get install --simulate (builds its cache)', 's'));
  rows.push(row(`${what}, peak RSS, cold`, mib(cold.ferry), mib(cold.peer), 'apt-get install --simulate (builds its cache)', 'MiB'));
}

printTable(rows);
writeResults('apt', rows);
rmSync(dir, { recursive: true, force: true });
