// Benchmark: index + fetch a requirements set of >= 100 wheels from a local fixture index (127.0.0.1):
// ferry's python lock + collect (pages, file choice, metadata, concurrent downloads into the cache)
// against `pip download --no-deps --only-binary=:all: -r` on the same index and requirements in the same
// run; then the bytes each moves on a second, warm run. Peer as an expert runs it: the interpreter itself
// (`PYTHON -m pip`, PYTHON the real executable python3 names, never a version manager's shim, which adds
// a fixed start-up), no config file, no version check. ferry runs as a new process each time (this script
// with --fetch), like pip; cold (both caches empty) and warm (both caches filled) are separate rows, each
// FERRY_BENCH_RUNS (at least 3) runs interleaved with pip, medians (lib.mjs). Durability: ferry makes its
// downloads durable before it ends (one syncfs of the cache's file system, as `ferry build` does), pip writes
// without syncing, so the cold row with the goal times pip followed by `sync -f` of its destination (the
// same durability on both sides, as scripts/bench/import.mjs does), and a row below gives pip without it.
// Every run starts with nothing left to write back (`sync -f`, untimed): a run's sync never pays for the
// other tool's writes.
// Usage: node scripts/bench/python.mjs [wheels]   (default 120; needs `npm run build` first)
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { interleave, median, printTable, root, row, RUNS, runDir, timeShell, writeResults } from './lib.mjs';

// child mode: a static file server that counts the bytes it sends (GET /__bytes answers the count)
if (process.argv[2] === '--serve') {
  const dir = process.argv[3];
  let sent = 0;
  const server = createServer((req, res) => {
    let path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (path === '/__bytes') return res.end(String(sent));
    if (path.endsWith('/')) path += 'index.html';
    try {
      const body = readFileSync(join(dir, path));
      sent += body.length;
      res.writeHead(200, { 'content-type': path.endsWith('.html') ? 'text/html' : 'application/octet-stream', 'content-length': body.length });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  // the benchmark blocks in spawnSync between reads of /__bytes; keep its idle connection open meanwhile
  server.keepAliveTimeout = 600_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
} else if (process.argv[2] === '--fetch') {
  // child mode: one ferry lock + collect of SPEC's python artifacts into CACHE, in this new process
  const [, , , specFile, cacheDir, workDir, count] = process.argv;
  await import(join(root, 'dist/cli/v8Flags.js')); // as bin/ferry.js sets them
  const { loadSpec } = await import(join(root, 'dist/specfile/loadSpec.js'));
  const { lockPython } = await import(join(root, 'dist/sources/python/lockPython.js'));
  const { collectPython } = await import(join(root, 'dist/sources/python/collectPython.js'));
  const { silentLogger } = await import(join(root, 'dist/ui/log.js'));
  const { createSyncBatch } = await import(join(root, 'dist/util/createSyncBatch.js'));
  const loaded = await loadSpec(specFile);
  // the downloads synced in one pass at the end, as `ferry lock` and `ferry build` sync theirs
  const ctx = { syncBatch: createSyncBatch(), spec: loaded.spec, baseDir: loaded.baseDir, epoch: loaded.epoch, cacheDir, workDir, signingKeys: [], jobs: 8, log: silentLogger, previous: new Map() };
  const result = await collectPython(await lockPython(ctx), ctx);
  await ctx.syncBatch.flush();
  if (result.entries.filter((e) => e.kind === 'python').length !== Number(count)) throw new Error('ferry did not collect every wheel');
} else {
  await main();
}

async function main() {
  const count = Number(process.argv[2] ?? 120);
  const dir = mkdtempSync(join(process.env.FERRY_BENCH_DIR ?? tmpdir(), 'ferry-bench-python-'));
  const py = spawnSync('python3', ['-c', 'import sys, platform; print("%d.%d" % sys.version_info[:2]); print(platform.machine()); print(sys.executable)'], { encoding: 'utf8' }).stdout.trim().split('\n');
  // the interpreter itself: a shim (pyenv) in front of it would add its own start-up to every pip run
  const [version, machine, python] = py;
  const cp = `cp${version.replace('.', '')}`;

  // wheels: per project a pure wheel (the one chosen), a Windows wheel (listed, never fetched), sizes 50-400 KiB
  const files = join(dir, 'index/files');
  const wheels = [];
  for (let i = 0; i < count; i++) {
    const name = `bench-pkg-${String(i).padStart(3, '0')}`;
    const payload = randomBytes(25_000 + ((i * 7919) % 175_000)).toString('base64');
    wheels.push({ out: files, name, version: '1.0', files: { [`${name.replace(/-/g, '_')}/data.py`]: `DATA = ${JSON.stringify(payload)}\n` } });
    wheels.push({ out: files, name, version: '1.0', tag: `${cp}-${cp}-win_amd64` });
  }
  const made = spawnSync('python3', [join(root, 'scripts/fixtures/make_wheel.py')], { input: JSON.stringify(wheels), encoding: 'utf8' });
  if (made.status !== 0) throw new Error(made.stderr);

  // a static PEP 503 index over them, and the requirements pip-compile would write (all hashes per pin)
  const byProject = new Map();
  for (const f of readdirSync(files).sort()) {
    const project = f.split('-')[0].replace(/_/g, '-');
    const sha = createHash('sha256').update(readFileSync(join(files, f))).digest('hex');
    byProject.set(project, [...(byProject.get(project) ?? []), { f, sha }]);
  }
  const req = [];
  for (const [project, list] of byProject) {
    mkdirSync(join(dir, 'index/simple', project), { recursive: true });
    writeFileSync(join(dir, 'index/simple', project, 'index.html'), `<!DOCTYPE html><html><body>\n${list.map((x) => `<a href="../../files/${x.f}#sha256=${x.sha}">${x.f}</a><br/>`).join('\n')}\n</body></html>\n`);
    req.push(`${project}==1.0 \\\n${list.map((x) => `    --hash=sha256:${x.sha}`).join(' \\\n')}`);
  }
  mkdirSync(join(dir, 'spec'), { recursive: true });
  writeFileSync(join(dir, 'spec/requirements.txt'), req.join('\n') + '\n');
  const totalBytes = [...byProject.values()].reduce((n, list) => n + statSync(join(files, list.find((x) => x.f.endsWith('none-any.whl')).f)).size, 0);

  const server = spawn(process.execPath, [new URL(import.meta.url).pathname, '--serve', join(dir, 'index')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve) => server.stdout.once('data', (d) => resolve(String(d).trim())));
  const base = `http://127.0.0.1:${port}`;
  const served = async () => Number(await (await fetch(`${base}/__bytes`)).text());
  try {
    writeFileSync(
      join(dir, 'spec/bench.yaml'),
      `name: bench\nversion: 1.0.0\nepoch: 2026-11-25T00:00:00Z\ntargets:\n  python: { version: "${version}", platforms: [manylinux_2_36_${machine}] }\nupstreams:\n  python: { index: "${base}/simple/" }\nservices:\n  bench:\n    version: "1"\n    groups: [all]\n    artifacts:\n      python: { requirements: requirements.txt }\n`,
    );
    const ferryRun = async (cacheDir) => {
      const before = await served();
      const s = timeShell(`${JSON.stringify(process.execPath)} ${JSON.stringify(new URL(import.meta.url).pathname)} --fetch ${dir}/spec/bench.yaml ${cacheDir} ${mkdtempSync(join(dir, 'work-'))} ${count}`);
      return { s, bytes: (await served()) - before };
    };
    const pipArgs = `download --no-deps --only-binary=:all: --platform manylinux_2_36_${machine} --python-version ${version} --implementation cp --abi ${cp} --index-url ${base}/simple/ --disable-pip-version-check -q -r ${dir}/spec/requirements.txt`;
    const pipEnv = { PIP_CONFIG_FILE: '/dev/null', NO_PROXY: '127.0.0.1', no_proxy: '127.0.0.1' };
    const pipRun = async (dest, cache, sync = false) => {
      const before = await served();
      const s = timeShell(`${python} -m pip ${pipArgs} -d ${dest} ${cache ? `--cache-dir ${cache}` : '--no-cache-dir'}${sync ? ` && sync -f ${dest}` : ''}`, { env: pipEnv });
      if (readdirSync(dest).length !== count) throw new Error('pip did not download every wheel');
      return { s, bytes: (await served()) - before };
    };

    const ferryCache = join(dir, 'cache');
    const pipCache = join(dir, 'pip-cache');
    /** untimed, before every run: the previous runs' writes on their way to disk, not in the next run's sync */
    const settle = () => timeShell(`sync -f ${dir}`);
    // cold: a new cache and destination each run (runDir in lib.mjs: not the previous run's, removed just before);
    // pip with and without the sync that gives it ferry's durability, each against its own ferry runs
    const cold = await interleave(RUNS, () => ferryRun(runDir(dir, 'cache')), () => pipRun(runDir(dir, 'pip-dest'), undefined, true), settle);
    const coldNoSync = await interleave(RUNS, () => ferryRun(runDir(dir, 'cache')), () => pipRun(runDir(dir, 'pip-dest')), settle);
    // warm: each with its own cache filled by one run first
    await ferryRun(ferryCache);
    rmSync(join(dir, 'pip-dest'), { recursive: true, force: true });
    await pipRun(join(dir, 'pip-dest'), pipCache);
    const warm = await interleave(RUNS, () => ferryRun(ferryCache), () => pipRun(join(dir, 'pip-dest'), pipCache), () => {
      rmSync(join(dir, 'pip-dest'), { recursive: true, force: true });
      settle();
    });
    const warmBytes = { ferry: Math.max(...warm.ferry.map((x) => x.bytes)) - indexBytes(dir), peer: median(warm.peer.map((x) => x.bytes)) - indexBytes(dir) };
    const seconds = (xs) => xs.map((x) => x.s);
    const mib = (totalBytes / 2 ** 20).toFixed(1);
    const rows = [
      row(`index + fetch ${count} wheels (${mib} MiB), cold, same durability`, seconds(cold.ferry), seconds(cold.peer), 'python -m pip download --no-deps --only-binary=:all: -r + sync -f', 's', '<= 0.5'),
      row(`same, cold, pip without sync (ferry syncs)`, seconds(coldNoSync.ferry), seconds(coldNoSync.peer), 'python -m pip download --no-deps --only-binary=:all: -r', 's', undefined),
      row(`same, warm cache`, seconds(warm.ferry), seconds(warm.peer), 'python -m pip download (its http cache warm)', 's', undefined),
      { ...row(`bytes of wheels downloaded, warm cache`, warmBytes.ferry, warmBytes.peer, 'python -m pip download (its http cache warm)', 'B', undefined), ratio: undefined, goal: 'ferry = 0', met: warmBytes.ferry === 0 },
    ];
    printTable(rows);
    writeResults('python', rows);
  } finally {
    server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Bytes of all index pages: a warm run still reads them (indexes change upstream), so they are taken out of "wheel bytes". */
function indexBytes(dir) {
  let n = 0;
  const simple = join(dir, 'index/simple');
  for (const p of readdirSync(simple)) n += statSync(join(simple, p, 'index.html')).size;
  return n;
}
