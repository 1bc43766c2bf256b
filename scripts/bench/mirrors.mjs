// Benchmark of offline mirrors (docs/mirrors.md).
// Generated upstreams (each app-N depends on lib-(N mod 25); the .debs are written directly by
// writeDeb.mjs, thousands in seconds), indexed by apt-ftparchive, signed with gpg and served on 127.0.0.1 by
// Debian's nginx (one worker, sendfile, HTTP/1.1 keep-alive, as mirrors serve), the same for both tools.
// Python's http.server is not used: it speaks HTTP/1.0 (a new connection per file, which both tools then
// pay for), and with HTTP/1.1 it writes headers and body in two sends, so on a kept-alive connection each
// small file waits ~40 ms for the client's delayed ACK (measured: ferry's 1,136 files 1.3 s -> 6.8 s).
// 1. A filtered mirror of the same selection (names app-1*, with dependencies) of an upstream of
//    FERRY_BENCH_MIRROR_DEBS packages (default 300): `ferry lock` + `ferry build` (a new cache each run)
//    against `aptly mirror create -filter 'Name (~ ^app-1)' -filter-with-deps` + `mirror update` +
//    `snapshot create` + `publish snapshot -skip-contents` (a new aptly root each run; new folders, not the
//    previous run's removed: see runDir in lib.mjs); both verify the
//    upstream's signature and download the same files. Goal: ferry <= 0.5x aptly.
// 2. A refresh with no upstream change, of the same selection from an upstream of
//    FERRY_BENCH_MIRROR_REFRESH_DEBS packages (default 5,000): `ferry lock` + `ferry build --since` the
//    previous bundle with a warm cache (what a weekly refresh does when nothing changed), ferry alone,
//    wall and CPU (user + system of both processes). Goal: <= 2 s.
// Runs interleave, FERRY_BENCH_RUNS times (at least 3); rows give medians (lib.mjs).
// Usage: node scripts/bench/mirrors.mjs   (FERRY_BENCH_MIRROR_DEBS=N, FERRY_BENCH_MIRROR_REFRESH_DEBS=M, FERRY_BENCH_RUNS=R)
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ferryBin, freePort, have, interleave, median, printTable, row, RUNS, runDir, runMeasured, stopChild, timeShell, waitForPort, writeResults } from './lib.mjs';
import { writeDeb } from './writeDeb.mjs';

const dir = join(process.env.FERRY_BENCH_DIR ?? tmpdir(), `ferry-bench-mirrors-${process.pid}`);
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const N = Math.max(50, Number(process.env.FERRY_BENCH_MIRROR_DEBS ?? 300));
const REFRESH_N = Math.max(50, Number(process.env.FERRY_BENCH_MIRROR_REFRESH_DEBS ?? 5000));
const node = (args) => `${JSON.stringify(process.execPath)} ${args}`;
const ferry = (args) => node(`${JSON.stringify(ferryBin)} ${args}`);
const rows = [];

timeShell(ferry(`key generate --name bench --out ${dir}/bench`));
const gnupg = join(dir, 'gnupg');
mkdirSync(gnupg, { mode: 0o700 });
const genv = { GNUPGHOME: gnupg };
timeShell(`gpg --batch --import ${dir}/bench.secret.asc`, { env: genv });
const fpr = spawnSync('gpg', ['--batch', '--with-colons', '--list-secret-keys'], { env: { ...process.env, ...genv } }).stdout.toString().match(/^fpr:+([0-9A-F]{40}):/m)[1];
timeShell(`gpg --batch --export ${fpr} > ${dir}/upstream.gpg`, { env: genv });
copyFileSync(join(dir, 'bench.asc'), join(dir, 'upstream.asc'));
const servers = [];

/** A signed upstream of n packages in dir/upstream-n, served on loopback: its URL. */
async function upstream(n) {
  const up = join(dir, `upstream-${n}`);
  mkdirSync(join(up, 'pool/main'), { recursive: true });
  const deb = (name, version, depends) =>
    writeDeb(join(up, 'pool/main', `${name}_${version}_amd64.deb`), {
      name,
      version,
      fields: { Maintainer: 'Bench <bench@example.invalid>', Priority: 'optional', Section: 'misc', ...(depends ? { Depends: depends } : {}), Description: `benchmark package ${name}` },
      files: { data: Buffer.alloc(4_000 + ((name.length * 7919) % 20_000), name.length) },
    });
  for (let i = 0; i < 25; i++) deb(`lib-${i}`, '1.0-1');
  for (let i = 0; i < n - 25; i++) deb(`app-${i}`, '1.0-1', `lib-${i % 25} (>= 1.0)`);
  const dist = join(up, 'dists/fixture');
  mkdirSync(join(dist, 'main/binary-amd64'), { recursive: true });
  timeShell(`cd ${up} && apt-ftparchive packages pool/main > dists/fixture/main/binary-amd64/Packages && gzip -9nk dists/fixture/main/binary-amd64/Packages`);
  timeShell(
    `cd ${dist} && apt-ftparchive -o APT::FTPArchive::Release::Suite=fixture -o APT::FTPArchive::Release::Codename=fixture -o APT::FTPArchive::Release::Architectures=amd64 -o APT::FTPArchive::Release::Components=main release . > Release.tmp && mv Release.tmp Release && gpg --batch -u ${fpr} --clearsign -o InRelease Release && gpg --batch -u ${fpr} -abs -o Release.gpg Release`,
    { env: genv },
  );
  // Debian's nginx serves the upstream as a mirror's web server does: HTTP/1.1 keep-alive, sendfile
  const port = await freePort();
  const conf = join(dir, `nginx-${n}`);
  mkdirSync(join(conf, 'tmp'), { recursive: true });
  writeFileSync(
    join(conf, 'nginx.conf'),
    `worker_processes 1;\npid ${conf}/nginx.pid;\nerror_log ${conf}/error.log warn;\nevents { worker_connections 1024; }\nhttp {\n  access_log off;\n  sendfile on;\n  keepalive_requests 100000;\n` +
      ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${conf}/tmp/${t};\n`).join('') +
      `  server { listen 127.0.0.1:${port}; root ${up}; }\n}\n`,
  );
  const child = spawn('nginx', ['-p', conf, '-e', `${conf}/error.log`, '-c', `${conf}/nginx.conf`, '-g', 'daemon off;'], { stdio: 'ignore' });
  servers.push(child);
  await waitForPort(port, child, 'nginx');
  const url = `http://127.0.0.1:${port}`;
  return url;
}

/** The app-1* packages of an upstream of n (the selection, before its dependencies). */
const selectedOf = (n) => Array.from({ length: n - 25 }, (_, i) => `app-${i}`).filter((name) => name.startsWith('app-1')).length;

try {
  const specFor = (url) => (version) =>
    writeFileSync(
      join(dir, 'mirror.yaml'),
      `name: bench-mirror\nversion: ${version}\nepoch: 2026-11-25T00:00:00Z\nmirrors:\n  apt:\n    bench:\n      uri: "${url}"\n      keyring: upstream.asc\n      suites: [fixture]\n      filter: { packages: ["app-1*"], with_dependencies: true }\n`,
    );
  // each cold run gets a new cache and output folder (runDir: not the previous run's, removed just before)
  let cache = runDir(dir, 'cache');
  let out = runDir(dir, 'out');
  const lockCmd = () => ferry(`lock ${dir}/mirror.yaml --cache ${cache}`);
  const buildCmd = (since = '') => ferry(`build ${dir}/mirror.yaml --locked --key ${dir}/bench.secret.asc --out ${out} --cache ${cache}${since && ` --since ${since}`}`);
  const ferryRun = () => {
    cache = runDir(dir, 'cache');
    out = runDir(dir, 'out');
    return timeShell(`${lockCmd()} && ${buildCmd()}`);
  };

  const url = await upstream(N);
  specFor(url)('1.0.0');
  process.stdout.write(`upstream: ${N} packages; selection: ${selectedOf(N)} app-1* packages with their dependencies\n`);
  if (have('aptly')) {
    const aptlyRun = () => {
      writeFileSync(join(dir, 'aptly.conf'), JSON.stringify({ rootDir: runDir(dir, 'aptly'), architectures: ['amd64'], gpgProvider: 'gpg', downloadConcurrency: 8 }));
      const aptly = `aptly -config=${dir}/aptly.conf`;
      return timeShell(
        `${aptly} mirror create -keyring=${dir}/upstream.gpg -filter='Name (~ ^app-1)' -filter-with-deps m ${url} fixture main >/dev/null && ${aptly} mirror update -keyring=${dir}/upstream.gpg m >/dev/null && ${aptly} snapshot create s from mirror m >/dev/null && ${aptly} publish snapshot -batch -gpg-key=${fpr} -skip-contents s >/dev/null`,
        { env: genv },
      );
    };
    const r = await interleave(RUNS, ferryRun, aptlyRun);
    rows.push(row(`filtered mirror of ${N} packages (${selectedOf(N)} selected + deps): lock + build`, r.ferry, r.peer, 'aptly mirror create -filter-with-deps + update + snapshot + publish', 's', '<= 0.5'));
  } else {
    rows.push(row(`filtered mirror of ${N} packages: lock + build`, median(Array.from({ length: RUNS }, ferryRun)), undefined, 'aptly not installed', 's'));
  }

  // a refresh of an unchanged upstream: lock again and build --since the previous bundle, warm cache
  const refreshSpec = specFor(await upstream(REFRESH_N));
  refreshSpec('1.0.0');
  process.stdout.write(`refresh upstream: ${REFRESH_N} packages; selection: ${selectedOf(REFRESH_N)} app-1* packages with their dependencies\n`);
  ferryRun();
  refreshSpec('1.0.1');
  const wall = [];
  const cpu = [];
  for (let i = 0; i < RUNS; i++) {
    rmSync(join(out, 'bench-mirror-1.0.1.ferry'), { force: true });
    let w = 0;
    let c = 0;
    for (const cmd of [lockCmd(), buildCmd(`${out}/bench-mirror-1.0.0.ferry`)]) {
      const r = await runMeasured('bash', ['-c', cmd]);
      if (r.code !== 0) throw new Error(`benchmark command failed (${r.code}): ${cmd}\n${r.out}`);
      w += r.wall;
      c += r.cpu;
    }
    wall.push(w);
    cpu.push(c);
  }
  rows.push(row(`refresh of an unchanged upstream (${REFRESH_N} packages): lock + build --since, wall`, median(wall), undefined, '-', 's', '<= 2 s'));
  rows.push(row(`refresh of an unchanged upstream (${REFRESH_N} packages): lock + build --since, CPU (user + sys)`, median(cpu), undefined, '-', 's'));
} finally {
  for (const s of servers) await stopChild(s, 'SIGQUIT');
  rmSync(dir, { recursive: true, force: true });
}

printTable(rows);
writeResults('mirrors', rows);
