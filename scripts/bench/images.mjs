// Benchmark: fetch container images from a local registry (Debian's docker-registry on 127.0.0.1) into a
// bundle: `ferry build --locked` with an empty cache (every blob fetched, checked as it streams, packed
// into the signed bundle) against `skopeo copy --all` of the same images into an OCI layout (what an
// expert uses to carry images), interleaved in the same run, medians (lib.mjs). The images are written
// directly as an OCI layout (config, layers of random bytes, as registries and both tools treat layers
// as opaque blobs) and pushed once with skopeo (untimed).
//
// What each side does, so the ratio is read right: both download every blob and check its digest as it
// arrives. ferry writes each layer once, as it arrives, into its place in the bundle's one tar file (signed
// from the lock when the first bytes came), fdatasyncs the bundle one sync at a time as layers complete and
// every 32 MiB written, and once before its rename, and keeps the layers in its download cache as a hard link to the bundle
// (docs/images.md, "Written once"); it builds a manifest and an SBOM and signs them; skopeo writes each blob once into the layout and syncs it too (a `sync --data` of its
// layout right after it took ~0.01 s for 1 GiB, 2026-12-03: nothing was left to write back), so both
// sides have the same durability. Each run starts with nothing left to write back (`sync -f`, untimed).
// The first row is the goal (registry -> bundle vs registry -> layout). The second row gives
// skopeo the step it would need to carry the same thing in one file: the same skopeo run plus `tar -cf`
// of its layout (timed right after it, same run); it still signs nothing.
// Usage: node scripts/bench/images.mjs [MiB]   (default 1024: the 1 GiB; use less on a shared
// machine, e.g. 256; needs `npm run build` first, docker-registry and skopeo installed)
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ferryCmd, have, interleave, printTable, row, RUNS, timeShell, writeRandomFile, writeResults } from './lib.mjs';

const mib = Number(process.argv[2] ?? 1024);
const IMAGES = 2;
const LAYER = 64 << 20;

for (const tool of ['docker-registry', 'skopeo']) if (!have(tool)) throw new Error(`${tool} is not installed (scripts/deps/images.apt)`);
const dir = mkdtempSync(join(process.env.FERRY_BENCH_DIR ?? tmpdir(), 'ferry-bench-images-'));
let registry;
try {
  const port = await new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
  writeFileSync(join(dir, 'registry.yml'), `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/registry\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  registry = spawn('docker-registry', ['serve', join(dir, 'registry.yml')], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/v2/`)).status === 200) break;
    } catch {
      if (i > 200) throw new Error('docker-registry did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  // IMAGES images of mib/IMAGES MiB each, in LAYER-sized layers, written as one OCI layout
  const layout = join(dir, 'layout');
  mkdirSync(join(layout, 'blobs/sha256'), { recursive: true });
  const blob = (bytes) => {
    const hex = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(layout, 'blobs/sha256', hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  const index = [];
  const perImage = Math.ceil((mib << 20) / IMAGES);
  for (let i = 0; i < IMAGES; i++) {
    const layers = [];
    for (let left = perImage; left > 0; left -= LAYER) {
      const tmp = join(layout, 'tmp');
      writeRandomFile(tmp, Math.min(LAYER, left));
      layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...blob(readFileSync(tmp)) });
      rmSync(tmp);
    }
    const config = blob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) }, config: {} })));
    const manifest = blob(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers })));
    index.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': `img${i}` } });
  }
  writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: index }));
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const policy = join(dir, 'policy.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  for (let i = 0; i < IMAGES; i++) timeShell(`skopeo --policy ${policy} copy --quiet --dest-tls-verify=false oci:${layout}:img${i} docker://127.0.0.1:${port}/bench/img${i}:1`);
  rmSync(layout, { recursive: true, force: true });

  mkdirSync(join(dir, 'spec'));
  const spec = join(dir, 'spec/bench.yaml');
  writeFileSync(
    spec,
    `name: bench\nversion: 1.0.0\nepoch: 2026-11-25T00:00:00Z\nupstreams:\n  images:\n    registries:\n      registry.example: { url: "http://127.0.0.1:${port}" }\nservices:\n  bench:\n    version: "1"\n    groups: [all]\n    artifacts:\n      images:\n${Array.from({ length: IMAGES }, (_, i) => `        - { ref: "registry.example/bench/img${i}:1" }\n`).join('')}`,
  );
  const env = { REGISTRY_AUTH_FILE: join(dir, 'no-auth.json'), NO_PROXY: '127.0.0.1', no_proxy: '127.0.0.1' };
  timeShell(ferryCmd(`key generate --name bench --out ${dir}/team`));
  timeShell(ferryCmd(`lock ${spec} --cache ${dir}/cache`), { env });

  const fresh = () => {
    for (const d of ['cache', 'out', 'skopeo']) rmSync(join(dir, d), { recursive: true, force: true });
  };
  let bundleBytes = 0;
  const tarSeconds = [];
  const samples = await interleave(
    RUNS,
    () => {
      const s = timeShell(ferryCmd(`build ${spec} --locked --key ${dir}/team.secret.asc --out ${dir}/out --cache ${dir}/cache`), { env });
      bundleBytes = statSync(join(dir, 'out/bench-1.0.0.ferry')).size;
      return s;
    },
    () => {
      const s = timeShell(Array.from({ length: IMAGES }, (_, i) => `skopeo --policy ${policy} copy --all --quiet --src-tls-verify=false docker://127.0.0.1:${port}/bench/img${i}:1 oci:${dir}/skopeo:img${i}`).join(' && '));
      tarSeconds.push(timeShell(`tar -cf ${dir}/skopeo.tar -C ${dir}/skopeo .`));
      return s;
    },
    () => {
      fresh();
      rmSync(join(dir, 'skopeo.tar'), { force: true });
      // nothing of the previous run left to flush (as import-many.mjs): the removed GiBs' discards and any
      // write-back otherwise land in the next run, whichever tool it is (rows swung 1.08-1.72x with it)
      timeShell(`sync -f ${dir}`);
    },
  );
  const bundleMiB = (bundleBytes / 2 ** 20).toFixed(0);
  const rows = [
    row(`${IMAGES} images, ${mib} MiB, registry -> bundle (${bundleMiB} MiB), cold`, samples.ferry, samples.peer, 'skopeo copy --all docker:// -> oci: layout', 's', '<= 1'),
    row(`  the same, peer packs its layout too`, samples.ferry, samples.peer.map((s, i) => s + tarSeconds[i]), 'the same skopeo copy, then tar -cf of the layout', 's'),
  ];
  printTable(rows);
  writeResults('images', rows);
} finally {
  registry?.kill();
  rmSync(dir, { recursive: true, force: true });
}
