import { describe, expect, it } from 'vitest';
import { diffReleases } from '../../src/bundle/diffReleases.js';
import { manifestFor } from '../helpers/craft.js';
import type { Manifest } from '../../src/bundle/manifest.js';

/** A release with the given entries (path -> content and kind) and manifest.artifacts. */
function release(version: string, entries: Record<string, [string, Manifest['entries'][number]['kind']]>, artifacts: Record<string, unknown> = {}) {
  const files = Object.entries(entries).map(([path, [text]]) => ({ path, data: Buffer.from(text) }));
  const m = manifestFor(files, { name: 'site', version, artifacts });
  for (const e of m.entries) e.kind = entries[e.path]![1];
  return { manifest: m, digest: version.replace(/\./g, '').padEnd(64, '0') };
}

describe('diffReleases', () => {
  it('lists apt packages from manifest.artifacts.apt with their versions', () => {
    const apt = (pkgs: Array<[string, string]>) => ({ apt: { suite: 'bookworm', packages: pkgs.map(([name, version]) => ({ name, version, architecture: 'amd64', services: [] })) } });
    const a = release('1', { 'apt/pool/main/n/nginx/nginx_1.22.1-9_amd64.deb': ['n1', 'apt'] }, apt([['nginx', '1.22.1-9'], ['curl', '7.88.1-10']]));
    const b = release('2', { 'apt/pool/main/n/nginx/nginx_1.22.1-9+deb12u1_amd64.deb': ['n2', 'apt'] }, apt([['nginx', '1.22.1-9+deb12u1'], ['jq', '1.6-2.1']]));
    const d = diffReleases(a, b);
    expect(d.sections.packages).toEqual({
      added: [{ name: 'jq:amd64', version: '1.6-2.1' }],
      removed: [{ name: 'curl:amd64', version: '7.88.1-10' }],
      changed: [{ name: 'nginx:amd64', from: '1.22.1-9', to: '1.22.1-9+deb12u1' }],
    });
  });

  it('falls back to the .deb file names (epochs encoded as %3a) when the manifest has no apt artifacts', () => {
    const a = release('1', { 'apt/pool/main/f/foo/foo_1%3a2.0-1_all.deb': ['f1', 'apt'] });
    const b = release('2', { 'apt/pool/main/f/foo/foo_1%3a2.1-1_all.deb': ['f2', 'apt'] });
    expect(diffReleases(a, b).sections.packages.changed).toEqual([{ name: 'foo:all', from: '1:2.0-1', to: '1:2.1-1' }]);
  });

  it('lists wheels by normalized project name, rootfs, git and files by content', () => {
    const a = release('1', {
      'python/files/Jinja2-3.1.2-py3-none-any.whl': ['j1', 'python'],
      'python/files/six-1.16.0-py2.py3-none-any.whl': ['s', 'python'],
      'rootfs/base.tar.zst': ['r1', 'rootfs'],
      'git/app.bundle': ['g', 'git'],
    });
    const b = release('2', {
      'python/files/jinja2-3.1.4-py3-none-any.whl': ['j2', 'python'],
      'python/files/six-1.16.0-py2.py3-none-any.whl': ['s', 'python'],
      'rootfs/base.tar.zst': ['r2', 'rootfs'],
      'git/app.bundle': ['g', 'git'],
    });
    const d = diffReleases(a, b);
    expect(d.sections.wheels.changed).toEqual([{ name: 'jinja2', from: '3.1.2', to: '3.1.4' }]);
    expect(d.sections.rootfs.changed.map((c) => c.name)).toEqual(['rootfs/base.tar.zst']);
    expect(d.sections.git).toEqual({ added: [], removed: [], changed: [] });
    // the differential bundle carries the two changed files only
    expect(d.differential).toMatchObject({ entries: 2, bytes: 4, omitted: 2 });
  });
});
