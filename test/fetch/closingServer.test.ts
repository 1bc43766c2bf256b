import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePep503Index } from '../../src/sources/python/writePep503Index.js';
import { buildDeb, readPrivate, signRelease, writeUpstream } from '../apt/fixtureUpstream.js';
import { ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { buildWheels, hostPython, requirementsFor, sha256 } from '../python/fixtures.js';

/**
 * undici 7's HTTP/1 parser throws an uncatchable AssertionError (undici issue 5360) when it is paused
 * on the last bytes of a body and the server then closes the connection, as HTTP/1.0 servers do after
 * every response. These tests run the real client in a child process, because the failure kills the
 * process rather than failing a call.
 */
describe('fetching from servers that close the connection after each response', () => {
  const dist = fileURLToPath(new URL('../../dist/fetch/createDispatcher.js', import.meta.url));

  it('a response body ignored on purpose does not crash the process', async () => {
    // Each response is sent whole, then the server closes: a body just over the reader's 64 KiB
    // buffer arrives in one read, which fills the buffer on its final bytes.
    const closed: Array<Promise<void>> = [];
    const server: Server = createServer((sock: Socket) => {
      closed.push(new Promise((r) => sock.on('close', () => r())));
      sock.once('data', () => {
        const body = Buffer.alloc(65_536 + closed.length, 0x61);
        sock.write(`HTTP/1.0 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
        sock.end(body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    const script = `
      import { request } from 'undici';
      import { createDispatcher } from ${JSON.stringify(dist)};
      const dispatcher = createDispatcher({ maxRetries: 0 });
      const ignored = [];
      for (let i = 0; i < 4; i++) ignored.push(await request(${JSON.stringify(url)}, { dispatcher }));
      // a last request read to its end: by then the ignored responses' connections have closed
      const last = await request(${JSON.stringify(url)}, { dispatcher });
      await last.body.arrayBuffer();
      await new Promise((r) => setImmediate(r));
      process.stdout.write('alive ' + ignored.length + '\\n');
      process.exit(0);
    `;
    try {
      const child = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../..', import.meta.url)) });
      expect(child.stderr).not.toContain('AssertionError');
      expect(child.stdout).toBe('alive 4\n');
      expect(child.code).toBe(0);
      await Promise.all(closed);
    } finally {
      server.close();
    }
  });

  describe('ferry lock with a cold cache against `python3 -m http.server`', () => {
    let dir: string;
    let httpServer: ChildProcess;
    let spec: string;
    let wheelNames: string[];

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ferry-closing-server-'));
      const root = join(dir, 'served');
      // an apt upstream whose Packages.gz is about 11 MiB, like a Debian main index
      const key = await writeKey(dir, 'upstream');
      await writeUpstream(join(root, 'debian'), [await buildDeb(dir, { name: 'app', version: '1.0' })], { suite: 'fixture', key: await readPrivate(key.secretArmored) });
      await growPackagesIndex(join(root, 'debian/dists/fixture'), await readPrivate(key.secretArmored), 11 << 20);
      // a static PEP 503 wheel index, as people publish one with http.server
      const py = hostPython();
      const wheels = join(root, 'python/files');
      wheelNames = buildWheels(wheels, [
        { name: 'alpha', version: '1.0', requires: ['beta>=1'], files: { 'alpha/__init__.py': 'A = 1\n' } },
        { name: 'beta', version: '1.2', files: { 'beta/__init__.py': 'B = 2\n' } },
      ]);
      writePep503Index(
        await Promise.all(wheelNames.map(async (f) => ({ project: f.split('-')[0]!, filename: f, sha256: sha256(await readFile(join(wheels, f))) }))),
        root,
      );
      await mkdir(join(dir, 'requirements'));
      await writeFile(join(dir, 'requirements/app.txt'), await requirementsFor(wheels, [{ name: 'alpha', version: '1.0' }, { name: 'beta', version: '1.2' }]));

      const started = await startHttpServer(root);
      httpServer = started.child;
      spec = join(dir, 'closing.yaml');
      await writeFile(
        spec,
        [
          'name: closing',
          'version: 1.0.0',
          'epoch: 2026-11-25T00:00:00Z',
          'targets:',
          '  debian: { suite: bookworm, architectures: [amd64] }',
          `  python: { version: "${py.version}", platforms: [manylinux_2_36_${py.machine}] }`,
          'upstreams:',
          `  apt: [{ uri: "${started.url}/debian", suites: [fixture], keyring: ${key.public} }]`,
          `  python: { index: "${started.url}/python/simple/" }`,
          'services:',
          '  app:',
          '    version: 1.0.0',
          '    groups: [app]',
          '    artifacts:',
          '      apt: [app]',
          '      python: { requirements: requirements/app.txt }',
          '',
        ].join('\n'),
      );
    });
    afterAll(async () => {
      httpServer?.kill();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('locks every time, downloading the whole index afresh in each run', async () => {
      // Before the fix, about 2 runs in 5 died with the AssertionError.
      for (let i = 0; i < 4; i++) {
        const cache = join(dir, `cache-${i}`);
        const r = await ferry(['lock', spec, '--cache', cache]);
        expect(r.stderr).not.toContain('AssertionError');
        expect(r.code, r.stderr).toBe(0);
        const lock = JSON.parse(await readFile(spec.replace(/\.yaml$/, '.lock.json'), 'utf8'));
        expect(lock.kinds.apt.packages.map((p: { name: string }) => p.name)).toEqual(['app']);
        expect(lock.kinds.python.files.map((f: { filename: string }) => f.filename).sort()).toEqual([...wheelNames].sort());
      }
    });
  });
});

/**
 * Append generated stanzas to the upstream's Packages until Packages.gz is about `bytes` long, then
 * re-sign the Release (with apt-ftparchive's sums of the new files).
 */
async function growPackagesIndex(distDir: string, key: Awaited<ReturnType<typeof readPrivate>>, bytes: number): Promise<void> {
  const bin = join(distDir, 'main/binary-amd64');
  const stanzas: string[] = [gunzipSync(await readFile(join(bin, 'Packages.gz'))).toString('utf8').trimEnd()];
  // random digests keep the text from compressing: about 70 bytes of gzip per stanza
  const count = Math.ceil(bytes / 70);
  for (let i = 0; i < count; i++) {
    stanzas.push(
      `Package: filler${i}\nVersion: 1.${i}\nArchitecture: amd64\nFilename: pool/main/f/filler${i}_1.${i}_amd64.deb\n` +
        `Size: ${1000 + i}\nSHA256: ${randomBytes(32).toString('hex')}\nDescription: generated filler ${i}`,
    );
  }
  const packages = stanzas.join('\n\n') + '\n';
  await writeFile(join(bin, 'Packages'), packages);
  await writeFile(join(bin, 'Packages.gz'), gzipSync(packages));
  const release = execFileSync(
    'apt-ftparchive',
    ['-o', 'APT::FTPArchive::Release::Suite=fixture', '-o', 'APT::FTPArchive::Release::Codename=fixture', '-o', 'APT::FTPArchive::Release::Architectures=amd64', '-o', 'APT::FTPArchive::Release::Components=main', 'release', '.'],
    { cwd: distDir },
  ).toString('utf8');
  await rm(join(bin, 'Packages'));
  await signRelease(distDir, release, key);
}

/** `python3 -m http.server` on 127.0.0.1 with a port the system picks; resolves once it listens. */
function startHttpServer(root: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', root], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = / port (\d+) /.exec(out);
      if (m) resolve({ child, url: `http://127.0.0.1:${m[1]}` });
    });
    child.stderr!.resume();
    child.on('exit', (code) => reject(new Error(`python3 -m http.server exited (${code}): ${out}`)));
  });
}
