#!/usr/bin/env node
// Benchmark: `skopeo copy` of the same image from ferry serve (/v2/ over its store) and from Debian's
// docker-registry (the distribution registry 2.8, filesystem storage, access log off: as it is usually
// run), in the same run. The image (umoci, one layer of --mib MiB of incompressible data plus a small
// one) is pushed to docker-registry with skopeo and imported into a ferry store; both serve the same
// digests. Two untimed copies from each warm both servers; then each round copies to a fresh OCI layout,
// alternating which server goes first (lib.mjs);
// the row gives median seconds; goal: ferry takes at most as long (>= 1x the registry's throughput).
// Usage: npm run build && node scripts/bench/images-serve.mjs [--mib 256] [--rounds 3]
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, link, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { FORMAT, serializeManifest } from '../../dist/bundle/manifest.js';
import { ferryBin, freePort, have, interleave, printTable, row, RUNS, stopChild, timeShell, waitForPort, writeRandomFile, writeResults } from './lib.mjs';

const run = promisify(execFile);
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1];
};
const MIB = Number(arg('mib', '256'));
const ROUNDS = Math.max(3, Number(arg('rounds', String(RUNS))));
const sha256 = (b) => createHash('sha256').update(b).digest('hex');
const REF = 'registry.example/team/app:1.4';

for (const tool of ['skopeo', 'umoci', 'docker-registry']) {
  if (!have(tool)) {
    process.stderr.write(`images-serve: ${tool} is missing (apt-get install skopeo umoci docker-registry); skipped\n`);
    process.exit(0);
  }
}

/** The test image as an OCI layout (tag `upstream`). */
async function makeImage(dir) {
  const layout = join(dir, 'layout');
  await mkdir(join(dir, 'root'), { recursive: true });
  writeRandomFile(join(dir, 'root', 'data'), MIB * 1024 * 1024);
  await writeFile(join(dir, 'root', 'app.conf'), 'bench\n');
  await run('umoci', ['init', '--layout', layout]);
  await run('umoci', ['new', '--image', `${layout}:upstream`]);
  await run('umoci', ['insert', '--image', `${layout}:upstream`, join(dir, 'root', 'data'), '/data'], { maxBuffer: 1 << 20 });
  await run('umoci', ['insert', '--image', `${layout}:upstream`, join(dir, 'root', 'app.conf'), '/app.conf']);
  await run('umoci', ['gc', '--layout', layout]);
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
  return { layout, top: index.manifests[0] };
}

/** A store holding one release that carries the image, laid out as ferry import leaves it. */
async function makeStore(dir, image) {
  const store = join(dir, 'store');
  const blobNames = await readdir(join(image.layout, 'blobs', 'sha256'));
  const files = [
    { path: 'oci/index.json', content: Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ ...image.top, annotations: { 'org.opencontainers.image.ref.name': REF, 'io.ferry.services': 'app' } }] })) },
    { path: 'oci/oci-layout', content: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
  ];
  const entries = [...files.map((f) => ({ path: f.path, size: f.content.length, sha256: sha256(f.content), kind: 'image', services: [] }))];
  for (const hex of blobNames) {
    const src = join(image.layout, 'blobs', 'sha256', hex);
    const size = (await readFile(src)).length;
    entries.push({ path: `oci/blobs/sha256/${hex}`, size, sha256: hex, kind: 'image', services: ['app'], src });
  }
  entries.sort((a, b) => (a.path < b.path ? -1 : 1));
  const manifest = serializeManifest({
    format: FORMAT, name: 'bench', version: '1', epoch: '2026-11-25T00:00:00Z', created_by: 'bench', targets: {}, services: {},
    artifacts: { image: { images: [{ ref: REF, registry: 'registry.example', repository: 'team/app', tag: '1.4', digest: image.top.digest, mediaType: image.top.mediaType, services: ['app'] }] } },
    entries: entries.map(({ src: _src, ...e }) => e),
  });
  const digest = sha256(manifest);
  const bundle = join(store, 'bundles', digest);
  await mkdir(join(store, 'blobs', 'sha256'), { recursive: true });
  for (const e of [...entries, { path: 'manifest.json', content: manifest }]) {
    const blob = join(store, 'blobs', 'sha256', e.sha256 ?? sha256(e.content));
    if (e.src) await link(e.src, blob).catch(async () => writeFile(blob, await readFile(e.src)));
    else await writeFile(blob, e.content ?? files.find((f) => f.path === e.path).content);
    await chmod(blob, 0o444);
    await mkdir(dirname(join(bundle, e.path)), { recursive: true });
    await link(blob, join(bundle, e.path));
  }
  await mkdir(join(store, 'refs', 'bench'), { recursive: true });
  await writeFile(join(store, 'refs', 'bench', '1'), `${digest}\n`);
  return store;
}

async function startFerry(store) {
  const port = await freePort();
  const child = spawn(process.execPath, [ferryBin, 'serve', '--store', store, '--listen', `127.0.0.1:${port}`, '--no-access-log'], { stdio: 'ignore' });
  await waitForPort(port, child, 'ferry serve');
  return { host: `127.0.0.1:${port}`, stop: () => stopChild(child, 'SIGTERM') };
}

async function startRegistry(dir) {
  const port = await freePort();
  const config = join(dir, 'registry.yml');
  await writeFile(config, `version: 0.1\nlog: { level: error, accesslog: { disabled: true } }\nstorage: { filesystem: { rootdirectory: ${join(dir, 'registry')} }, delete: { enabled: false } }\nhttp: { addr: 127.0.0.1:${port} }\n`);
  const child = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  await waitForPort(port, child, 'docker-registry');
  return { host: `127.0.0.1:${port}`, stop: () => stopChild(child, 'SIGTERM') };
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-images-'));
  let ferry;
  let registry;
  try {
    const image = await makeImage(dir);
    const store = await makeStore(dir, image);
    ferry = await startFerry(store);
    registry = await startRegistry(dir);
    timeShell(`skopeo copy -q --dest-tls-verify=false oci:${image.layout}:upstream docker://${registry.host}/team/app:1.4`);
    // both answer the same digest for the tag
    for (const s of [ferry, registry]) {
      const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${s.host}/team/app:1.4`]);
      if (`sha256:${sha256(Buffer.from(stdout))}` !== image.top.digest) throw new Error(`${s.host} serves another manifest than ${image.top.digest}`);
    }
    let n = 0;
    const copy = (host) => () => {
      const out = join(dir, `copy-${n++}`);
      const s = timeShell(`skopeo copy -q --src-tls-verify=false docker://${host}/team/app:1.4 oci:${out}:got`);
      timeShell(`rm -rf ${out}`);
      return s;
    };
    // both warmed first, as serve.mjs warms its servers: a long-running server answers from warm code and
    // caches, and each of ferry serve's worker processes compiles its request path on its first requests
    // (a fresh worker took 19 ms for the manifest and 24 ms for a 101-byte blob, then 1-3 ms)
    for (let i = 0; i < 2; i++) for (const host of [ferry.host, registry.host]) copy(host)();
    const r = await interleave(ROUNDS, copy(ferry.host), copy(registry.host));
    const rows = [row(`skopeo copy of a ${MIB} MiB image (2 layers)`, r.ferry, r.peer, 'docker-registry 2.8 (filesystem)', 's', '<= 1')];
    process.stdout.write(`ferry serve /v2/ vs docker-registry, skopeo copy to an OCI layout, median of ${ROUNDS} interleaved runs, loopback\n`);
    printTable(rows);
    writeResults('images-serve', rows);
  } finally {
    await ferry?.stop();
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
