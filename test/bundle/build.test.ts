import { describe, expect, it, beforeAll } from 'vitest';
import { mkdtemp, readFile, readdir, writeFile, cp, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ferry, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';

const DEMO = new URL('../../bundles/demo/', import.meta.url).pathname;

describe('ferry build', () => {
  let dir: string;
  let key: Awaited<ReturnType<typeof writeKey>>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-build-test-'));
    key = await writeKey(dir, 'team');
    await cp(DEMO, join(dir, 'demo'), { recursive: true });
  });

  it('gives byte-identical bundles for the same spec built into two clean folders', async () => {
    const a = await ferry(['build', join(dir, 'demo/demo.yaml'), '--key', key.secret, '--out', join(dir, 'a'), '--cache', join(dir, 'cache-a')]);
    const b = await ferry(['build', join(dir, 'demo/demo.yaml'), '--key', key.secret, '--out', join(dir, 'b'), '--cache', join(dir, 'cache-b')]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const bytesA = await readFile(join(dir, 'a/demo-1.0.0.ferry'));
    const bytesB = await readFile(join(dir, 'b/demo-1.0.0.ferry'));
    expect(bytesA.length).toBeGreaterThan(2048);
    expect(bytesA.equals(bytesB)).toBe(true);
  });

  it('changes the digest when an input file changes', async () => {
    const spec = join(dir, 'changed');
    await cp(join(dir, 'demo'), spec, { recursive: true });
    const before = await ferry(['build', join(spec, 'demo.yaml'), '--key', key.secret, '--out', join(dir, 'c1'), '--cache', join(dir, 'cache'), '--json']);
    await writeFile(join(spec, 'files/hello.sh'), '#!/bin/sh\necho changed\n');
    const after = await ferry(['build', join(spec, 'demo.yaml'), '--key', key.secret, '--out', join(dir, 'c2'), '--cache', join(dir, 'cache'), '--json']);
    expect(before.code, before.stderr).toBe(0);
    expect(after.code, after.stderr).toBe(0);
    expect(JSON.parse(after.stdout).digest).not.toBe(JSON.parse(before.stdout).digest);
  });

  it('writes a tar of sorted regular files with owner 0, no names and the spec epoch as mtime', async () => {
    await ferry(['build', join(dir, 'demo/demo.yaml'), '--key', key.secret, '--out', join(dir, 't'), '--cache', join(dir, 'cache')]);
    const list = await run('tar', ['--numeric-owner', '--full-time', '-tvf', join(dir, 't/demo-1.0.0.ferry')], { env: { TZ: 'UTC' } });
    const lines = list.stdout.trim().split('\n');
    expect(lines.map((l) => l.split(/\s+/).pop())).toEqual(['manifest.json', 'manifest.json.asc', 'files/hello/hello.conf.tmpl', 'files/hello/hello.sh', 'keys/bundle.asc', 'sbom.cdx.json']);
    for (const l of lines) expect(l).toMatch(/^-rw-r--r-- 0\/0 +\d+ 2026-11-25 00:00:00 /);
  });

  it('honours SOURCE_DATE_EPOCH over the spec epoch', async () => {
    const r = await ferry(['build', join(dir, 'demo/demo.yaml'), '--key', key.secret, '--out', join(dir, 'sde'), '--cache', join(dir, 'cache')], { env: { SOURCE_DATE_EPOCH: '1800000000' } });
    expect(r.code, r.stderr).toBe(0);
    const list = await run('tar', ['--full-time', '-tvf', join(dir, 'sde/demo-1.0.0.ferry')], { env: { TZ: 'UTC' } });
    expect(list.stdout).toContain('2027-01-15 08:00:00');
  });

  it('refuses an epoch an OpenPGP signature cannot carry (after 2106-02-07T06:28:15Z) before fetching anything; the last one builds', async () => {
    const spec = join(dir, 'far-epoch');
    await cp(join(dir, 'demo'), spec, { recursive: true });
    const text = await readFile(join(spec, 'demo.yaml'), 'utf8');
    const at = (epoch: string) => writeFile(join(spec, 'demo.yaml'), text.replace(/^epoch: .*$/m, `epoch: ${epoch}`));
    await at('2400-01-01T00:00:00Z');
    const r = await ferry(['build', join(spec, 'demo.yaml'), '--key', key.secret, '--out', join(spec, 'out'), '--cache', join(dir, 'cache')]);
    expect(r.code, r.stderr).toBe(65);
    expect(r.stderr.trim().split('\n')).toEqual(['ferry: epoch 2400-01-01T00:00:00.000Z: a bundle\'s epoch must lie between 1970-01-01T00:00:00Z and 2106-02-07T06:28:15.000Z (OpenPGP signature times are 32-bit seconds)']);
    const sde = await ferry(['build', join(dir, 'demo/demo.yaml'), '--key', key.secret, '--out', join(spec, 'out'), '--cache', join(dir, 'cache')], { env: { SOURCE_DATE_EPOCH: String(2 ** 32) } });
    expect(sde.code, sde.stderr).toBe(65);
    expect(sde.stderr).toContain(`SOURCE_DATE_EPOCH ${2 ** 32}: a bundle's epoch must lie between`);
    await expect(readdir(join(spec, 'out')).catch(() => [])).resolves.toEqual([]);
    await at('2106-02-07T06:28:15Z');
    const last = await ferry(['build', join(spec, 'demo.yaml'), '--key', key.secret, '--out', join(spec, 'out'), '--cache', join(dir, 'cache')]);
    expect(last.code, last.stderr).toBe(0);
    // verified now, its signature is from the future: refused as such (66), not as a signature from 1970-something
    const v = await ferry(['verify', join(spec, 'out/demo-1.0.0.ferry'), '--keyring', key.public]);
    expect(v.code, v.stderr).toBe(66);
    expect(v.stderr).toContain('Signature creation time is in the future');
  });

  it('refuses a spec with a schema error, naming the file and the field', async () => {
    await mkdir(join(dir, 'bad'), { recursive: true });
    await writeFile(join(dir, 'bad/spec.yaml'), 'name: x\nversion: 1\nepoch: 2026-01-01T00:00:00Z\nservices:\n  web:\n    version: "1"\n    groups: [g]\n    artifacts:\n      files: [{ src: "https://h.invalid/f" }]\n');
    const r = await ferry(['build', join(dir, 'bad/spec.yaml'), '--key', key.secret, '--out', join(dir, 'bad/out')]);
    expect(r.code).toBe(65);
    expect(r.stderr).toContain('spec.yaml: version:');
    expect(r.stderr).toContain('services.web.artifacts.files[0].sha256: a file fetched from a URL needs its sha256');
  });

  it('refuses a spec whose step has a mistyped option before fetching anything', async () => {
    const spec = join(dir, 'badstep');
    await cp(join(dir, 'demo'), spec, { recursive: true });
    const text = await readFile(join(spec, 'demo.yaml'), 'utf8');
    await writeFile(join(spec, 'demo.yaml'), text.replace('mode: "0644" }', 'mdoe: "0644" }'));
    const r = await ferry(['build', join(spec, 'demo.yaml'), '--key', key.secret, '--out', join(spec, 'out'), '--cache', join(dir, 'cache')]);
    expect(r.code).toBe(65);
    expect(r.stderr).toMatch(/services\.hello\.configure\[0\]/);
    expect(r.stderr).toMatch(/mdoe/);
    await expect(readFile(join(spec, 'out/demo-1.0.0.ferry'))).rejects.toThrow();
  });

  it('build --locked refuses a local file that changed after ferry lock', async () => {
    const spec = join(dir, 'locked');
    await cp(join(dir, 'demo'), spec, { recursive: true });
    const lock = await ferry(['lock', join(spec, 'demo.yaml'), '--cache', join(dir, 'cache')]);
    expect(lock.code, lock.stderr).toBe(0);
    const lockJson = JSON.parse(await readFile(join(spec, 'demo.lock.json'), 'utf8'));
    expect(lockJson.kinds.files).toHaveLength(2);
    const ok = await ferry(['build', join(spec, 'demo.yaml'), '--locked', '--key', key.secret, '--out', join(spec, 'out'), '--cache', join(dir, 'cache')]);
    expect(ok.code, ok.stderr).toBe(0);
    await writeFile(join(spec, 'files/hello.conf.tmpl'), 'tampered\n');
    const bad = await ferry(['build', join(spec, 'demo.yaml'), '--locked', '--key', key.secret, '--out', join(spec, 'out2'), '--cache', join(dir, 'cache')]);
    expect(bad.code).toBe(67);
    expect(bad.stderr).toMatch(/hello.conf.tmpl changed since it was locked/);
  });
});
