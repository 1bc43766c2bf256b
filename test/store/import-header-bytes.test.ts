import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ferry, FERRY_BIN, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { buildDemoBundle, DEMO_SPEC_DIR } from '../helpers/demoBundle.js';
import { snapshotTree } from '../helpers/tree.js';

/**
 * A bundle holds no byte its signature does not fix: every tar header (and pax header) must be the one
 * ferry's writer makes for the entry's path and size, with the manifest's epoch as mtime. Each case below
 * changes one header of a real signed bundle (built by `ferry build`) in a way the tar readers accept (the
 * entry's path, size and type read the same, the checksum is made right again), so only that rule can
 * refuse it: verify and import refuse it with one line and exit 68, and nothing reaches the store.
 */
describe('verify and import refuse tar header bytes that ferry does not write', () => {
  let dir: string;
  let team: Awaited<ReturnType<typeof writeKey>>;
  let second: Awaited<ReturnType<typeof writeKey>>;
  let store: string;
  let bundle: Buffer;
  let bundlePath: string;
  let headers: Map<string, { at: number; pax?: number; paxSize?: number }>;
  const LONG = `files/hello/long-${'n'.repeat(110)}.txt`;
  const SHORT = 'files/hello/hello.sh';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-header-bytes-'));
    team = await writeKey(dir, 'team');
    second = await writeKey(dir, 'second');
    // the demo, plus a file whose bundle path is over 100 bytes: ferry writes a pax header for it
    const spec = join(dir, 'demo');
    await cp(DEMO_SPEC_DIR, spec, { recursive: true });
    await writeFile(join(spec, 'files/long.txt'), 'long\n');
    const yaml = (await readFile(join(spec, 'demo.yaml'), 'utf8')).replace('        - src: files/hello.sh\n', `        - src: files/hello.sh\n        - { src: files/long.txt, name: ${LONG.slice('files/hello/'.length)} }\n`);
    // another version than the plain demo the store holds
    await writeFile(join(spec, 'demo.yaml'), yaml.replace('version: 1.0.0\nepoch', 'version: 1.5.0\nepoch'));
    for (const args of [['lock', join(spec, 'demo.yaml'), '--cache', join(dir, 'cache')], ['build', join(spec, 'demo.yaml'), '--key', team.secret, '--out', dir, '--cache', join(dir, 'cache')]]) {
      const r = await ferry(args);
      expect(r.code, r.stderr).toBe(0);
    }
    bundlePath = join(dir, 'demo-1.5.0.ferry');
    bundle = await readFile(bundlePath);
    headers = walk(bundle);
    expect(headers.get(LONG)?.pax, 'the long path has a pax header').toBeDefined();
    expect(headers.get(SHORT)?.pax).toBeUndefined();
    // the store holds another release (the plain demo), so "unchanged" is not trivially "empty"
    await mkdir(join(dir, 'plain'));
    store = join(dir, 'store');
    const imported = await ferry(['import', await buildDemoBundle(join(dir, 'plain'), team.secret), '--keyring', team.public, '--store', store]);
    expect(imported.code, imported.stderr).toBe(0);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** where each entry's header (and its pax header) starts */
  function walk(tar: Buffer): Map<string, { at: number; pax?: number; paxSize?: number }> {
    const out = new Map<string, { at: number; pax?: number; paxSize?: number }>();
    let pax: { at: number; size: number; path: string } | undefined;
    for (let at = 0; !tar.subarray(at, at + 512).every((b) => b === 0); ) {
      const size = parseInt(tar.toString('latin1', at + 124, at + 136).replace(/[\0 ]/g, ''), 8);
      const name = tar.toString('utf8', at, at + 100).replace(/\0.*$/s, '');
      if (tar[at + 156] === 0x78) {
        const body = tar.toString('utf8', at + 512, at + 512 + size);
        pax = { at, size, path: /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body)![1]! };
      } else {
        out.set(pax?.path ?? name, pax ? { at, pax: pax.at, paxSize: pax.size } : { at });
        pax = undefined;
      }
      at += 512 + Math.ceil(size / 512) * 512;
    }
    return out;
  }

  /** the checksum made right again, spelled as ferry does ("NNNNNN \0") or as GNU tar does ("NNNNNN\0 ") */
  function fixChecksum(tar: Buffer, at: number, { gnu = false } = {}): void {
    tar.fill(0x20, at + 148, at + 156);
    let sum = 0;
    for (let i = at; i < at + 512; i++) sum += tar[i]!;
    tar.write(`${sum.toString(8).padStart(6, '0')}${gnu ? '\0 ' : ' \0'}`, at + 148, 'latin1');
  }

  /** the bundle with `bytes` written at `offset` of the header of `path` (its pax header's with `pax`), checksum made right */
  function edited(path: string, offset: number, bytes: Buffer | string | ((field: string) => string), { pax = false } = {}): Buffer {
    const h = headers.get(path)!;
    const at = pax ? h.pax! : h.at;
    const out = Buffer.from(bundle);
    const field = out.toString('latin1', at + offset, at + offset + 12);
    out.write(typeof bytes === 'function' ? bytes(field) : typeof bytes === 'string' ? bytes : bytes.toString('latin1'), at + offset, 'latin1');
    fixChecksum(out, at);
    return out;
  }

  /** the bundle with the pax records of `path` replaced by `records` (its header's size and checksum made right) */
  function withPaxRecords(path: string, records: string[]): Buffer {
    const h = headers.get(path)!;
    const body = Buffer.from(records.map((r) => paxRecord(r)).join(''));
    const header = Buffer.from(bundle.subarray(h.pax!, h.pax! + 512));
    header.write(`${body.length.toString(8).padStart(10, '0')} \0`, 124, 'latin1');
    fixChecksum(header, 0);
    return Buffer.concat([bundle.subarray(0, h.pax!), header, body, Buffer.alloc((512 - (body.length % 512)) % 512), bundle.subarray(h.at)]);
  }

  function paxRecord(record: string): string {
    const rest = ` ${record}\n`;
    let len = Buffer.byteLength(rest) + 1;
    while (String(len).length + Buffer.byteLength(rest) !== len) len = String(len).length + Buffer.byteLength(rest);
    return `${len}${rest}`;
  }

  /** the records ferry wrote for `path` */
  function paxRecords(path: string): string[] {
    const h = headers.get(path)!;
    return bundle.toString('utf8', h.pax! + 512, h.pax! + 512 + h.paxSize!).split('\n').slice(0, -1).map((r) => r.slice(r.indexOf(' ') + 1));
  }

  async function refused(name: string, bytes: Buffer, message: RegExp): Promise<void> {
    const file = join(dir, `${name}.ferry`);
    await writeFile(file, bytes);
    const before = await snapshotTree(store);
    const v = await ferry(['verify', file, '--keyring', team.public]);
    const i = await ferry(['import', file, '--keyring', team.public, '--store', store]);
    expect(await snapshotTree(store)).toEqual(before);
    for (const r of [v, i]) {
      expect(r.code, r.stderr).toBe(68);
      // one line (after verify's progress line, which comes before the entries are read)
      expect(r.stderr).toMatch(/(?:^|\n)ferry: [^\n]*\n$/);
      expect(r.stderr.match(/^ferry: /gm)).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
    await rm(file);
  }

  const DIFFERS = (field: string) => new RegExp(`differs from the one ferry writes in its ${field} field \\(byte \\d+\\): the bundle was changed after it was written\\n$`);

  // [case, path of the entry, field offset, bytes written there (or made from the field's 12 bytes), the field named]
  const ustarCases: Array<[string, string, number, string | ((field: string) => string), string]> = [
    ['a user name (uname)', SHORT, 265, 'root', 'user name'],
    ['a group name (gname)', SHORT, 297, 'root', 'group name'],
    ['a link name on a regular file', SHORT, 157, '/etc/passwd', 'link name'],
    ['a byte after the NUL that ends the name', SHORT, 99, 'A', 'name'],
    ['a byte after the NUL that ends the (empty) prefix', SHORT, 400, 'A', 'name prefix'],
    ['a byte in the last 12 bytes no field uses', SHORT, 505, 'A', 'unused last 12 bytes'],
    // ferry writes 11 digits and a NUL; 12 bytes of a space and the 11 digits read the same
    ['the mtime with a leading space (same value)', SHORT, 136, (f) => ` ${f.slice(0, 11)}`, 'mtime'],
    ['the mtime with 12 digits (same value)', SHORT, 136, (f) => `0${f.slice(0, 11)}`, 'mtime'],
    ['the mode spelled with 7 digits (same value)', SHORT, 100, '0000644\0', 'mode'],
    ['another mode (0755)', SHORT, 100, '000755 \0', 'mode'],
    ['the uid spelled with 7 digits (same value)', SHORT, 108, '0000000\0', 'uid'],
    ['the size spelled with 11 digits (same value)', SHORT, 124, `${(123).toString(8).padStart(11, '0')}\0`, 'size'],
    ['a device major number on a regular file', SHORT, 329, '000001 \0', 'device major'],
    ['a device minor number on a regular file', SHORT, 337, '000007 \0', 'device minor'],
    ['the old GNU magic and version ("ustar  \\0")', SHORT, 257, 'ustar  \0', 'magic'],
    ['another ustar version ("ustar\\0" then two NULs)', SHORT, 263, '\0\0', 'version'],
    ['an old-style NUL type flag for a regular file', SHORT, 156, '\0', 'type flag'],
    ['a user name on the manifest.json header', 'manifest.json', 265, 'root', 'user name'],
    ['a group name on the signature header', 'manifest.json.asc', 297, 'wheel', 'group name'],
    ['a user name on a long path\'s ustar header', LONG, 265, 'root', 'user name'],
    ['a user name on a long path\'s pax header', LONG, 265, 'root', 'user name'],
  ];

  it('the fields the cases spell otherwise are as ferry writes them', () => {
    const at = headers.get(SHORT)!.at;
    const field = (start: number, end: number) => bundle.toString('latin1', at + start, at + end);
    expect([field(100, 108), field(108, 116), field(124, 136), field(148, 156), field(257, 265), field(329, 345)]).toEqual(['000644 \0', '000000 \0', '0000000173 \0', expect.stringMatching(/^[0-7]{6} \0$/), 'ustar\x0000', '000000 \x00000000 \x00']);
    expect(field(136, 148)).toMatch(/^[0-7]{11}\0$/);
  });

  it.each(ustarCases)('%s: exit 68, one line, the store unchanged', async (name, path, offset, bytes, field) => {
    const pax = name.includes('pax header');
    await refused(`ustar-${field.replace(/\W/g, '-')}-${offset}`, edited(path, offset, bytes, { pax }), DIFFERS(field));
  });

  it('the mtime in base-256 (same value): exit 68', async () => {
    const at = headers.get(SHORT)!.at;
    const seconds = parseInt(bundle.toString('latin1', at + 136, at + 147), 8);
    const field = Buffer.alloc(12);
    field[0] = 0x80;
    field.writeUIntBE(seconds, 6, 6);
    await refused('mtime-base256', edited(SHORT, 136, field), DIFFERS('mtime'));
  });

  it('the checksum spelled otherwise (GNU\'s "NNNNNN\\0 ", same sum): exit 68', async () => {
    const out = Buffer.from(bundle);
    fixChecksum(out, headers.get(SHORT)!.at, { gnu: true });
    expect(out.equals(bundle)).toBe(false);
    await refused('checksum-spelling', out, DIFFERS('checksum'));
  });

  it('every header with another mtime than the manifest\'s epoch (all the same): exit 68', async () => {
    const out = Buffer.from(bundle);
    for (const h of headers.values()) {
      for (const at of h.pax === undefined ? [h.at] : [h.pax, h.at]) {
        // 0 as ferry's writer spells it
        out.write('0000000000 \0', at + 136, 'latin1');
        fixChecksum(out, at);
      }
    }
    await refused('all-mtime-0', out, /: the tar header at byte 0 \("manifest\.json"\) has another mtime than the manifest's epoch 2026-11-25T00:00:00\.000Z: the bundle was changed after it was written\n$/);
  });

  describe('pax records', () => {
    it('ferry\'s own records, re-built by the test, are the bundle\'s (the control)', () => {
      expect(withPaxRecords(LONG, paxRecords(LONG)).equals(bundle)).toBe(true);
      expect(paxRecords(LONG).map((r) => r.slice(0, r.indexOf('=')))).toEqual(['path', 'gid', 'mtime', 'uid']);
    });

    it.each([
      ['an atime record ferry never writes', (r: string[]) => [...r, 'atime=0']],
      ['a ctime record ferry never writes', (r: string[]) => [...r, 'ctime=1']],
      ['the records in another order', (r: string[]) => [r[3]!, ...r.slice(0, 3)]],
      ['the mtime with a fraction (same second)', (r: string[]) => r.map((x) => (x.startsWith('mtime=') ? `${x}.000` : x))],
      ['the uid with a leading zero', (r: string[]) => r.map((x) => (x === 'uid=0' ? 'uid=00' : x))],
      ['the path record twice', (r: string[]) => [r[0]!, ...r]],
    ])('%s: exit 68', async (name, change) => {
      await refused(`pax-${name.replace(/\W/g, '-')}`, withPaxRecords(LONG, change(paxRecords(LONG))), /\(before "files\/hello\/long-n+\.txt"\) holds other records than ferry writes \(byte \d+\): the bundle was changed after it was written\n$/);
    });

    it('a comment record (refused already as a key ferry never writes): exit 68', async () => {
      await refused('pax-comment', withPaxRecords(LONG, [...paxRecords(LONG), 'comment=unsigned']), /has the key "comment", which a ferry bundle never carries\n$/);
    });

    it('a pax header before an entry ferry writes without one (records as ferry would write them): exit 68', async () => {
      const h = headers.get(LONG)!;
      const records = paxRecords(LONG).map((r) => (r.startsWith('path=') ? `path=${SHORT}` : r));
      const body = Buffer.from(records.map(paxRecord).join(''));
      const header = Buffer.from(bundle.subarray(h.pax!, h.pax! + 512));
      header.fill(0, 0, 100).write('PaxHeader/hello.sh', 0, 'latin1');
      header.write(`${body.length.toString(8).padStart(10, '0')} \0`, 124, 'latin1');
      fixChecksum(header, 0);
      const at = headers.get(SHORT)!.at;
      const out = Buffer.concat([bundle.subarray(0, at), header, body, Buffer.alloc((512 - (body.length % 512)) % 512), bundle.subarray(at)]);
      await refused('pax-before-short', out, /: pax header at byte \d+ before "files\/hello\/hello\.sh", which ferry writes with a ustar header alone: the bundle was changed after it was written\n$/);
    });
  });

  describe('every reader', () => {
    const bad = () => edited('manifest.json', 265, 'root');
    const BAD = /^ferry: [^\n]*: tar header at byte 0 \("manifest\.json"\) differs from the one ferry writes in its user name field \(byte 265\): the bundle was changed after it was written\n$/;

    it('inspect, diff, sign, split and build --since refuse a head with a byte ferry does not write (exit 68)', async () => {
      const file = join(dir, 'bad-head.ferry');
      await writeFile(file, bad());
      for (const args of [
        ['inspect', file],
        ['diff', bundlePath, file],
        ['sign', file, '--key', second.secret, '--out', join(dir, 'bad-head-signed.ferry')],
        ['split', file, '--size', '4K', '--out', join(dir, 'bad-head-split')],
        ['build', join(dir, 'demo/demo.yaml'), '--key', team.secret, '--out', join(dir, 'bad-since'), '--cache', join(dir, 'cache'), '--since', file],
      ]) {
        const r = await ferry(args);
        expect(r.code, `${args[0]}: ${r.stderr}`).toBe(68);
        expect(r.stderr).toMatch(BAD);
      }
    });

    it('a tar made by GNU tar is refused as not a ferry bundle, naming its first entry (not its header bytes)', async () => {
      await writeFile(join(dir, 'foreign.txt'), 'not a bundle\n');
      const file = join(dir, 'foreign.tar');
      const tar = await run('tar', ['-cf', file, '-C', dir, 'foreign.txt']);
      expect(tar.code, tar.stderr).toBe(0);
      const v = await ferry(['verify', file, '--keyring', team.public]);
      expect(v.code, v.stderr).toBe(68);
      expect(v.stderr).toMatch(/^ferry: [^\n]*: not a ferry bundle: the first entry must be manifest\.json, found "foreign\.txt"\n$/);
      const i = await ferry(['inspect', file]);
      expect(i.code, i.stderr).toBe(68);
      expect(i.stderr).toMatch(/^ferry: [^\n]*: not a ferry bundle \(the first entry must be manifest\.json\)\n$/);
    });

    it('import from standard input and from split volumes refuse an artifact header with a byte ferry does not write (exit 68), the store unchanged', async () => {
      const file = join(dir, 'bad-artifact.ferry');
      await writeFile(file, edited(SHORT, 265, 'root'));
      const split = await ferry(['split', file, '--size', '4K', '--out', join(dir, 'bad-artifact-split'), '--json']);
      expect(split.code, split.stderr).toBe(0);
      const before = await snapshotTree(store);
      const stdin = await run('sh', ['-c', 'exec "$0" "$1" import - --keyring "$2" --store "$3" < "$4"', process.execPath, FERRY_BIN, team.public, store, file]);
      const volumes = await ferry(['import', join(dir, 'bad-artifact-split/bad-artifact.ferry.index.json'), '--keyring', team.public, '--store', store]);
      for (const r of [stdin, volumes]) {
        expect(r.code, r.stderr).toBe(68);
        expect(r.stderr).toMatch(/(?:^|\n)ferry: [^\n]*tar header at byte \d+ \("files\/hello\/hello\.sh"\) differs from the one ferry writes in its user name field \(byte \d+\): the bundle was changed after it was written\n$/);
      }
      expect(await snapshotTree(store)).toEqual(before);
    });
  });

  describe('bundles as ferry writes them pass (the controls)', () => {
    it('the signed bundle, re-signed by ferry sign, its split volumes, and from standard input', async () => {
      const signed = join(dir, 'signed.ferry');
      const sign = await ferry(['sign', bundlePath, '--key', second.secret, '--out', signed]);
      expect(sign.code, sign.stderr).toBe(0);
      const split = await ferry(['split', signed, '--size', '4K', '--out', join(dir, 'signed-split')]);
      expect(split.code, split.stderr).toBe(0);
      for (const [file, keyring] of [[bundlePath, team.public], [signed, team.public], [signed, second.public], [join(dir, 'signed-split/signed.ferry.index.json'), second.public]] as const) {
        const v = await ferry(['verify', file, '--keyring', keyring]);
        expect(v.code, `${file}: ${v.stderr}`).toBe(0);
        const i = await ferry(['import', file, '--keyring', keyring, '--store', join(dir, `ok-store-${Math.random().toString(36).slice(2)}`)]);
        expect(i.code, `${file}: ${i.stderr}`).toBe(0);
      }
      const stdin = await run('sh', ['-c', 'exec "$0" "$1" import - --keyring "$2" --store "$3" < "$4"', process.execPath, FERRY_BIN, team.public, join(dir, 'ok-stdin-store'), bundlePath]);
      expect(stdin.code, stdin.stderr).toBe(0);
      for (const args of [['inspect', signed], ['diff', bundlePath, signed]]) {
        const r = await ferry(args);
        expect(r.code, r.stderr).toBe(0);
      }
    });

    it('a differential bundle over it, whole and split', async () => {
      const spec = join(dir, 'demo/demo.yaml');
      await writeFile(join(dir, 'demo/files/hello.sh'), '#!/bin/sh\necho hello again\n');
      await writeFile(spec, (await readFile(spec, 'utf8')).replace('version: 1.5.0\nepoch', 'version: 1.6.0\nepoch'));
      const outDir = join(dir, 'diff-out');
      for (const args of [['lock', spec, '--cache', join(dir, 'cache')], ['build', spec, '--key', team.secret, '--out', outDir, '--cache', join(dir, 'cache'), '--since', bundlePath, '--split', '4K']]) {
        const r = await ferry(args);
        expect(r.code, r.stderr).toBe(0);
      }
      const base = join(dir, 'diff-store');
      const i0 = await ferry(['import', bundlePath, '--keyring', team.public, '--store', base]);
      expect(i0.code, i0.stderr).toBe(0);
      const index = join(outDir, 'demo-1.6.0.ferry.index.json');
      const v = await ferry(['verify', index, '--keyring', team.public]);
      expect(v.code, v.stderr).toBe(0);
      const i = await ferry(['import', index, '--keyring', team.public, '--store', base]);
      expect(i.code, i.stderr).toBe(0);
    });
  });
});
