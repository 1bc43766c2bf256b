import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { curl } from './curl.js';
import { spawnServe, type ServeProcess } from './spawnServe.js';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const url = (path: string) => path.split('/').map(encodeURIComponent).join('/');

/** Names a bundle may carry: each needs percent-encoding in a URL, or is a Debian/wheel file name character. */
const NAMES = ['my notes.txt', 'release #2.conf', 'café.conf', '日本語 設定.txt', 'tool-1.0+local~rc1,a=b@c!d:e.txt', 'two  spaces.txt'];

function spec(files: string[]): string {
  return stringify({
    name: 'names',
    version: '1.0.0',
    epoch: '2026-11-25T00:00:00Z',
    services: { web: { version: '1.0.0', groups: ['web'], artifacts: { files: files.map((f) => ({ src: `files/${f}` })) } } },
  });
}

describe('bundle paths with spaces, # and letters of any script', () => {
  let dir: string;
  let store: string;
  let digest: string;
  let serve: ServeProcess;
  let key: Awaited<ReturnType<typeof writeKey>>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-special-names-'));
    key = await writeKey(dir, 'team');
    await mkdir(join(dir, 'spec/files'), { recursive: true });
    for (const n of NAMES) await writeFile(join(dir, 'spec/files', n), `content of ${n}\n`);
    await writeFile(join(dir, 'spec/names.yaml'), spec(NAMES));
    const built = await ferry(['build', join(dir, 'spec/names.yaml'), '--key', key.secret, '--out', dir, '--cache', join(dir, 'cache')]);
    expect(built.code, built.stderr).toBe(0);
    store = join(dir, 'store');
    const imported = await ferry(['import', join(dir, 'names-1.0.0.ferry'), '--keyring', key.public, '--store', store, '--json']);
    expect(imported.code, imported.stderr).toBe(0);
    digest = (JSON.parse(imported.stdout) as { digest: string }).digest;
    serve = await spawnServe(['--store', store, '--listen', '127.0.0.1:0']);
  });
  afterAll(async () => {
    serve?.child.kill('SIGTERM');
    await serve?.exited;
    await rm(dir, { recursive: true, force: true });
  });

  it('ferry serve answers each to curl, by digest and by release name', async () => {
    for (const n of NAMES) {
      for (const base of [`${serve.url}/bundles/${digest}`, `${serve.url}/releases/names/1.0.0`]) {
        const r = await curl(`${base}/${url(`files/web/${n}`)}`);
        expect([n, r.status]).toEqual([n, 200]);
        expect(r.body.toString()).toBe(`content of ${n}\n`);
      }
    }
  });

  it.each([
    ['fetched from ferry serve', (server: string) => ['--server', server]],
    ['pushed over the transport', () => ['--push']],
  ])('the stage stage puts each on the host, checked by sha256 (%s)', async (label, how) => {
    const host = join(dir, `host-${label.split(' ')[0]}`);
    const inventory = join(dir, `inventory-${label.split(' ')[0]}.yaml`);
    await writeFile(inventory, stringify({ groups: { web: { hosts: ['runner'] } }, hosts: { runner: { transport: 'local', vars: { ferry_data_dir: host } } } }));
    const r = await ferry(['deploy', 'names@1.0.0', '--allow-local', '-i', inventory, '--store', store, ...how(serve.url)]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const staged = join(host, 'bundles', digest, 'files/web');
    expect((await readdir(staged)).sort()).toEqual([...NAMES].sort());
    for (const n of NAMES) expect(sha256(await readFile(join(staged, n)))).toBe(sha256(`content of ${n}\n`));
  });

  it.each([
    ['a question mark (a glob)', 'what?.txt'],
    ['a percent sign', '100%.txt'],
    ['a leading -', '-rf.txt'],
    ['a newline', 'new\nline.txt'],
    ['an ANSI escape', 'red\x1b[31m.txt'],
    ['a right-to-left override', 'invoice\u202etxt.exe'],
    ['a dollar sign', '$HOME.txt'],
    ['a trailing space', 'trailing.txt '],
  ])('ferry build refuses a file name with %s, exit 65, and writes no bundle', async (label, n) => {
    const d = join(dir, `refused-${sha256(n).slice(0, 8)}`);
    await mkdir(join(d, 'files'), { recursive: true });
    await writeFile(join(d, 'files', n), 'x\n');
    await writeFile(join(d, 'names.yaml'), spec([n]));
    const r = await ferry(['build', join(d, 'names.yaml'), '--key', key.secret, '--out', join(d, 'out'), '--cache', join(dir, 'cache')]);
    expect(r.code, r.stderr).toBe(65);
    expect(r.stderr).toMatch(/services\.web\.artifacts\.files\[0\]\.src: the bundle cannot carry a file named .*; give it a name:/);
    expect(r.stderr).not.toMatch(/[\x1b\u202e]/);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(existsSync(join(d, 'out'))).toBe(false);
  });
});
