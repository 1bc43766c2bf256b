import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/util/canonicalJson.js';
import { parseManifest } from '../../src/bundle/manifest.js';
import { isSafeBundlePath } from '../../src/util/names.js';
import { manifestFor } from '../helpers/craft.js';

describe('canonical JSON', () => {
  it('sorts keys at every depth, drops undefined, no whitespace, ends with LF', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: true, y: null }], c: 'x' }, u: undefined })).toBe('{"a":{"c":"x","d":[1,{"y":null,"z":true}]},"b":1}\n');
  });
  it('does not depend on insertion order', () => {
    expect(canonicalJson({ x: 1, y: 2 })).toBe(canonicalJson({ y: 2, x: 1 }));
  });
  it('refuses values JSON cannot carry exactly', () => {
    expect(() => canonicalJson({ n: NaN })).toThrow(/cannot encode NaN/);
  });
});

describe('bundle paths', () => {
  it.each(['files/a', 'apt/pool/main/n/nginx_1.0_all.deb', 'python/simple/x/index.html'])('accepts %s', (p) => expect(isSafeBundlePath(p)).toBe(true));
  it.each(['', '/etc/passwd', '../x', 'a/../b', 'a//b', './a', 'a/.', 'a\\b', 'a\0b', 'a/'])('refuses %j', (p) => expect(isSafeBundlePath(p)).toBe(false));
});

describe('parseManifest', () => {
  const files = [
    { path: 'files/a', data: Buffer.from('a') },
    { path: 'files/b', data: Buffer.from('b') },
  ];
  const bytes = (m: unknown) => Buffer.from(canonicalJson(m));

  it('reads a valid manifest', () => {
    expect(parseManifest(bytes(manifestFor(files)), 'x').entries.map((e) => e.path)).toEqual(['files/a', 'files/b']);
  });
  it('refuses entries listed twice or out of order', () => {
    const m = manifestFor(files);
    expect(() => parseManifest(bytes({ ...m, entries: [m.entries[0], m.entries[0]] }), 'x')).toThrow(/lists files\/a twice/);
    expect(() => parseManifest(bytes({ ...m, entries: [m.entries[1], m.entries[0]] }), 'x')).toThrow(/not sorted at files\/a/);
  });
  it('refuses a path that is both a file and a folder', () => {
    const m = manifestFor([{ path: 'files/a', data: Buffer.from('a') }, { path: 'files/a/b', data: Buffer.from('b') }]);
    expect(() => parseManifest(bytes(m), 'x')).toThrow(/lists files\/a as a file and as a folder/);
  });
  it('refuses a name that would escape the store refs', () => {
    expect(() => parseManifest(bytes({ ...manifestFor(files), name: '../evil' }), 'x')).toThrow(/does not match format/);
  });
  it('names the field that is wrong', () => {
    const m = manifestFor(files);
    expect(() => parseManifest(bytes({ ...m, entries: [{ ...m.entries[0], sha256: 'nope' }] }), 'b.ferry')).toThrow(/manifest.json: entries\[0\].sha256/);
  });
});
