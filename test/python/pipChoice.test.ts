import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { FerryError } from '../../src/errors.js';
import { parseSimpleJson } from '../../src/sources/python/parseSimpleJson.js';
import { parseSimpleHtml } from '../../src/sources/python/parseSimpleHtml.js';
import { readProjectPage } from '../../src/sources/python/readProjectPage.js';
import { parseRequirementsFile } from '../../src/sources/python/parseRequirementsFile.js';
import { selectFile } from '../../src/sources/python/selectFile.js';
import { targetTags } from '../../src/sources/python/targetTags.js';
import { ferry } from '../helpers/cli.js';
import { buildWheels, type FixtureWheel, lockedFiles, PIP_OFFLINE_ENV, requirementsFor, runCommand, serveFixtureIndex, sha256, writeLockSpecIn } from './fixtures.js';

// The file pip 23.2 downloads for a pin (pip download --only-binary=:all: --platform ... on a generated index
// on 127.0.0.1), against the file ferry's selection takes from the same page.
const made: string[] = [];
afterAll(() => Promise.all(made.map((d) => rm(d, { recursive: true, force: true }))));

const TARGET = { version: '3.11', implementation: 'cp', platforms: ['manylinux_2_17_x86_64'] };

/** `pip download` of `requirement` for TARGET from `indexUrl` into a fresh folder: its result and that folder */
async function pipDownload(indexUrl: string, ...requirement: string[]): Promise<{ code: number; stderr: string; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-pipchoice-dl-'));
  made.push(dir);
  const r = await runCommand(
    'python3',
    ['-m', 'pip', 'download', '-q', '--no-cache-dir', '--no-deps', '--only-binary=:all:', '--platform', 'manylinux_2_17_x86_64', '--python-version', '3.11', '--implementation', 'cp', '--abi', 'cp311', '-d', dir, '--index-url', indexUrl, ...requirement],
    PIP_OFFLINE_ENV,
  );
  return { code: r.code, stderr: r.stderr, dir };
}

/** the files pip downloads (it must succeed) */
async function pipDownloads(indexUrl: string, ...requirement: string[]): Promise<string[]> {
  const r = await pipDownload(indexUrl, ...requirement);
  expect(r.code, r.stderr).toBe(0);
  return readdir(r.dir);
}

describe('the file chosen for a pin, as pip 23.2 chooses it', () => {
  it('a PEP 691 file with "yanked": "" is not yanked (pip reads an empty reason as not yanked)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-pipchoice-'));
    made.push(dir);
    const files = buildWheels(dir, [
      { name: 'yk', version: '1.0' },
      { name: 'yk', version: '1.0', tag: 'cp311-cp311-manylinux_2_17_x86_64' },
    ]);
    const platformWheel = files[1]!;
    const index = await serveFixtureIndex(dir, { json: true, yanked: { [platformWheel]: '' } });
    try {
      const page = await readProjectPage(index.url, 'yk');
      expect(page.format).toBe('json');
      const pin = parseRequirementsFile(await requirementsFor(dir, [{ name: 'yk', version: '1.0' }]), 'req.txt').pins[0]!;
      const ferry = selectFile(pin, page.files, { tags: targetTags(TARGET), pythonVersion: '3.11', allowSdist: false, page: page.url });
      const pip = await pipDownloads(index.url, 'yk==1.0');
      expect(pip).toEqual([platformWheel]);
      expect(ferry.file.filename).toBe(platformWheel);
      expect(ferry.warnings).toEqual([]);
    } finally {
      await index.close();
    }
  });
});

/** A spec of one service pinning `requirements` (requirements/app.txt) on `index`, for TARGET; returns its folder and path. */
async function writeLockSpec(index: string, requirements: string): Promise<{ dir: string; spec: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-pipchoice-lock-'));
  made.push(dir);
  return { dir, spec: await writeLockSpecIn(dir, index, requirements) };
}

/** ferry lock's chosen files for one service pinning `requirements` on `index`, for TARGET */
async function ferryLocks(index: string, requirements: string): Promise<string[]> {
  const { dir, spec } = await writeLockSpec(index, requirements);
  return lockedFiles(dir, spec);
}

/** `ferry lock` (the CLI, from dist/: npm run build) on the same spec: its exit code and the lines it printed as errors */
async function ferryLockCli(index: string, requirements: string): Promise<{ code: number; errors: string[] }> {
  const { dir, spec } = await writeLockSpec(index, requirements);
  const r = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
  return { code: r.code, errors: r.stderr.split('\n').filter((l) => l.startsWith('ferry:')) };
}

describe('hashes on the page, as pip 23.2 weighs them', () => {
  it('a file whose page hash is pinned comes before a better-tagged one the page gives no hash for', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-pipchoice-hash-'));
    made.push(dir);
    const files = buildWheels(dir, [
      { name: 'hh', version: '1.0' },
      { name: 'hh', version: '1.0', tag: 'cp311-cp311-manylinux_2_17_x86_64' },
    ]);
    const index = await serveFixtureIndex(dir, { unhashed: [files[1]!] });
    try {
      const hashes = await Promise.all(files.map(async (f) => sha256(await readFile(join(dir, f)))));
      const requirements = `hh==1.0 ${hashes.map((h) => `--hash=sha256:${h}`).join(' ')}\n`;
      await writeFile(join(dir, 'req.txt'), requirements);
      const pip = await pipDownloads(index.url, '-r', join(dir, 'req.txt'));
      expect(pip).toEqual([files[0]]);
      expect(await ferryLocks(index.url, requirements)).toEqual(pip);
    } finally {
      await index.close();
    }
  });
});

// pip 23.2 compares digests as strings, as written (its Hashes and Link.is_hash_allowed): a page hash
// counts as pinned only when it equals a pinned digest of its algorithm, case included, and the file's
// bytes (hashed in lower case) match only a lower-case pin. A file with some page hash that is not pinned
// (upper case, md5, another JSON algorithm) is left out when another file's is pinned.
describe('digests compared as written, as pip 23.2 compares them', () => {
  const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
  const up = (h: string) => h.toUpperCase();
  // each: the title, the index options given the better-tagged wheel A and the generic B with their
  // sha256s and md5, the pinned digests, and what pip does (the file it takes, or a refusal)
  type Case = [string, (a: string, b: string, h: { a: string; b: string; md5a: string }) => Parameters<typeof serveFixtureIndex>[1], (h: { a: string; b: string }) => string[], 'A' | 'B' | 'refused'];
  const cases: Case[] = [
    ['a page hash in upper case is not the pinned one: pip takes the other file', (a, _b, h) => ({ fragments: { [a]: `#sha256=${up(h.a)}` } }), (h) => [h.a, h.b], 'B'],
    ['a JSON sha256 in upper case likewise', (a, _b, h) => ({ json: true, hashes: { [a]: { sha256: up(h.a) } } }), (h) => [h.a, h.b], 'B'],
    ['a JSON file with another algorithm beside its pinned sha256 is pinned', (a, _b, h) => ({ json: true, hashes: { [a]: { sha256: h.a, blake2b: 'ff' } } }), (h) => [h.a, h.b], 'A'],
    ['an md5 page hash is not pinned: pip takes the file whose sha256 is', (a, _b, h) => ({ fragments: { [a]: `#md5=${h.md5a}` } }), (h) => [h.a, h.b], 'B'],
    ['every page hash in upper case: pip weighs them all and takes the better tag, whose bytes are pinned', (a, b, h) => ({ fragments: { [a]: `#sha256=${up(h.a)}`, [b]: `#sha256=${up(h.b)}` } }), (h) => [h.a, h.b], 'A'],
    ['an upper-case pin does not pin the page hash in lower case: pip takes the other file', () => ({}), (h) => [up(h.a), h.b], 'B'],
    ['an upper-case pin equal to the page hash as written: pip takes that file and its bytes match no pin', (a, _b, h) => ({ fragments: { [a]: `#sha256=${up(h.a)}` } }), (h) => [up(h.a), h.b], 'refused'],
    ['only an upper-case pin: pip refuses', () => ({}), (h) => [up(h.a)], 'refused'],
  ];
  it.each(cases)('%s', async (_title, indexOpts, pinned, pipDoes) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-pipchoice-case-'));
    made.push(dir);
    const [b, a] = buildWheels(dir, [
      { name: 'hc', version: '1.0' },
      { name: 'hc', version: '1.0', tag: 'cp311-cp311-manylinux_2_17_x86_64' },
    ]);
    const bytesA = await readFile(join(dir, a!));
    const h = { a: sha256(bytesA), b: sha256(await readFile(join(dir, b!))), md5a: md5(bytesA) };
    const index = await serveFixtureIndex(dir, indexOpts(a!, b!, h));
    try {
      const requirements = `hc==1.0 ${pinned(h).map((d) => `--hash=sha256:${d}`).join(' ')}\n`;
      await writeFile(join(dir, 'req.txt'), requirements);
      const pip = await pipDownload(index.url, '-r', join(dir, 'req.txt'));
      const ferry = await ferryLocks(index.url, requirements).catch((err: unknown) => err as FerryError);
      if (pipDoes === 'refused') {
        expect(pip.code).not.toBe(0);
        expect(ferry).toBeInstanceOf(FerryError);
        expect([65, 67]).toContain((ferry as FerryError).exitCode);
      } else {
        expect(pip.code, pip.stderr).toBe(0);
        expect(await readdir(pip.dir)).toEqual([pipDoes === 'A' ? a : b]);
        expect(ferry).toEqual([pipDoes === 'A' ? a : b]);
      }
    } finally {
      await index.close();
    }
  });
});

describe('backtracking, as pip 23.2 does it', () => {
  it('==1.0 whose best version 1.0+cpu requires another Python in its METADATA only: pip moves on to 1.0, and so does ferry', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-pipchoice-bt-'));
    made.push(dir);
    // no data-requires-python on the page (an HTML index made from the files alone): only the METADATA says so
    const files = buildWheels(dir, [
      { name: 'bt', version: '1.0+cpu', requires_python: '>=3.12' },
      { name: 'bt', version: '1.0' },
    ]);
    const index = await serveFixtureIndex(dir, { pep658: true, requiresPython: false });
    try {
      const pip = await pipDownloads(index.url, 'bt==1.0');
      expect(pip).toEqual(['bt-1.0-py3-none-any.whl']);
      // the pin allows both files' hashes (pip with --require-hashes would take either)
      const hashes = await Promise.all(files.map(async (f) => sha256(await readFile(join(dir, f)))));
      expect(await ferryLocks(index.url, `bt==1.0 ${hashes.map((h) => `--hash=sha256:${h}`).join(' ')}\n`)).toEqual(pip);
      // ==1.0+cpu has nowhere to go: pip fails, ferry refuses naming the METADATA's Requires-Python
      const cpu = await runCommand('python3', ['-m', 'pip', 'download', '-q', '--no-cache-dir', '--no-deps', '--only-binary=:all:', '--platform', 'manylinux_2_17_x86_64', '--python-version', '3.11', '--implementation', 'cp', '--abi', 'cp311', '-d', join(dir, 'dl'), '--index-url', index.url, 'bt==1.0+cpu'], PIP_OFFLINE_ENV);
      expect(cpu.code).not.toBe(0);
      await expect(ferryLocks(index.url, `bt==1.0+cpu --hash=sha256:${hashes[0]}\n`)).rejects.toThrow(/bt-1\.0\+cpu-py3-none-any\.whl: a file of this version \(bt-1\.0\+cpu-py3-none-any\.whl\) requires Python >=3\.12 in its METADATA/);
    } finally {
      await index.close();
    }
  });
});

describe('PEP 691 "yanked", as pip 23.2 reads it', () => {
  it('any value Python holds true is yanked (a string as the reason), any it holds false is not (the real pip Link.from_json)', () => {
    const page = 'http://127.0.0.1:1/simple/yv/';
    const values: unknown[] = [true, false, null, '', 'broken', 1, 0, [], [0], {}, { why: 'x' }, 'false'];
    const files = values.map((yanked, i) => ({ url: `../../files/yv-1.${i}-py3-none-any.whl`, hashes: {}, yanked }));
    const pip = JSON.parse(
      execFileSync('python3', ['-c', 'import json,sys\nfrom pip._internal.models.link import Link\nprint(json.dumps([Link.from_json(f, sys.argv[1]).yanked_reason for f in json.load(sys.stdin)]))', page], {
        input: JSON.stringify(files),
        encoding: 'utf8',
      }),
    ) as Array<string | null>;
    expect(pip.filter((r) => r !== null).length).toBeGreaterThan(2);
    expect(parseSimpleJson(JSON.stringify({ meta: { 'api-version': '1.1' }, files }), page).map((f) => f.yanked ?? null)).toEqual(pip);
  });
});

describe('PEP 503 file names, as pip 23.2 reads them', () => {
  it('percent-decodes the last segment of the link twice, as pip\'s parse_links and Link.filename do (`%252B` is `+`)', () => {
    const page = 'http://127.0.0.1:1/simple/x/';
    const hrefs = ['x-1.0%2Bcpu', 'x-1.0%2bcpu', 'x-1.0%252Bcpu', 'x-1.0%25252Bcpu', 'x-1.0+cpu', '%78-1.0', 'x-1.0%25zz', 'x-1.0%zz', 'x-1.0%2B%zz']
      .map((stem) => `../../files/${stem}-py3-none-any.whl`)
      .concat(['../../files/x-1.0-py3-none-any.whl?a=b%2F', '../../files/x-1.0-py3-none-any.whl;p=1']);
    const pip = JSON.parse(
      execFileSync(
        'python3',
        ['-c', 'import json,sys\nfrom pip._internal.index.collector import parse_links, IndexContent\nhtml = "".join("<a href=\\"%s\\">x</a>" % h for h in json.load(sys.stdin))\nprint(json.dumps([l.filename for l in parse_links(IndexContent(html.encode(), "text/html", "utf-8", sys.argv[1]))]))', page],
        { input: JSON.stringify(hrefs), encoding: 'utf8' },
      ),
    ) as string[];
    expect(pip.slice(0, 3)).toEqual(['x-1.0+cpu-py3-none-any.whl', 'x-1.0+cpu-py3-none-any.whl', 'x-1.0+cpu-py3-none-any.whl']);
    expect(parseSimpleHtml(hrefs.map((h) => `<a href="${h}">x</a>`).join('\n'), page).map((f) => f.filename)).toEqual(pip);
  });
});

describe('PEP 691 file names, as pip 23.2 reads them', () => {
  it('names a file by its URL, not by a "filename" that says otherwise (the real pip Link.from_json)', () => {
    const page = 'http://127.0.0.1:1/simple/mm/';
    const files = [
      { filename: 'mm-1.0-py3-none-any.whl', url: '../../files/mm-1.0-cp311-cp311-win_amd64.whl', hashes: {} },
      { filename: 'mm-1.0-py3-none-any.whl', url: '../../files/mm-1.0%2Bcpu-py3-none-any.whl', hashes: {} },
    ];
    const pip = JSON.parse(
      execFileSync('python3', ['-c', 'import json,sys\nfrom pip._internal.models.link import Link\nprint(json.dumps([Link.from_json(f, sys.argv[1]).filename for f in json.load(sys.stdin)]))', page], {
        input: JSON.stringify(files),
        encoding: 'utf8',
      }),
    ) as string[];
    expect(pip).toEqual(['mm-1.0-cp311-cp311-win_amd64.whl', 'mm-1.0+cpu-py3-none-any.whl']);
    expect(parseSimpleJson(JSON.stringify({ meta: { 'api-version': '1.1' }, files }), page).map((f) => f.filename)).toEqual(pip);
  });
});

/** the pin line `name==version` (or another operator) with the sha256 of each of `files` (in `dir`) */
async function pinLine(dir: string, pin: string, files: string[]): Promise<string> {
  const hashes = await Promise.all(files.map(async (f) => sha256(await readFile(join(dir, f)))));
  return `${pin} ${hashes.map((h) => `--hash=sha256:${h}`).join(' ')}\n`;
}

/** Build `wheels` in a fresh folder, serve them on 127.0.0.1 (serveFixtureIndex with `opts`), and run `fn` with the index. */
async function onIndex(wheels: FixtureWheel[], opts: Parameters<typeof serveFixtureIndex>[1], fn: (dir: string, files: string[], url: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-pipchoice-ix-'));
  made.push(dir);
  const files = buildWheels(dir, wheels);
  const index = await serveFixtureIndex(dir, opts);
  try {
    await fn(dir, files, index.url);
  } finally {
    await index.close();
  }
}

/** pip's files and ferry lock's for `requirements` (written to DIR/req.txt) on `url` */
async function bothChoose(dir: string, url: string, requirements: string): Promise<{ pip: string[]; ferry: string[] }> {
  await writeFile(join(dir, 'req.txt'), requirements);
  return { pip: await pipDownloads(url, '-r', join(dir, 'req.txt')), ferry: await ferryLocks(url, requirements) };
}

/** pip's refusal and ferry lock's (the CLI) for `requirements` (written to DIR/req.txt) on `url` */
async function bothRefuse(dir: string, url: string, requirements: string): Promise<{ pip: { code: number; stderr: string }; ferry: { code: number; errors: string[] } }> {
  await writeFile(join(dir, 'req.txt'), requirements);
  return { pip: await pipDownload(url, '-r', join(dir, 'req.txt')), ferry: await ferryLockCli(url, requirements) };
}

describe('yanked files and page hashes together, as pip 23.2 weighs them', () => {
  it('a yanked file whose page hash is pinned is passed over for one that is not yanked, though the page gives that one no hash', async () => {
    const wheels = [{ name: 'yh', version: '1.0', tag: 'cp311-cp311-manylinux_2_17_x86_64' }, { name: 'yh', version: '1.0' }];
    await onIndex(wheels, { yanked: { 'yh-1.0-cp311-cp311-manylinux_2_17_x86_64.whl': 'broken' }, unhashed: ['yh-1.0-py3-none-any.whl'] }, async (dir, files, url) => {
      const r = await bothChoose(dir, url, await pinLine(dir, 'yh==1.0', files));
      expect(r.pip).toEqual(['yh-1.0-py3-none-any.whl']);
      expect(r.ferry).toEqual(r.pip);
    });
  });

  it('when no file that fits has a pinned page hash, pip takes the best of them all and refuses its hash; ferry refuses it too (exit 67, one line)', async () => {
    const platform = 'nm-1.0-cp311-cp311-manylinux_2_17_x86_64.whl';
    // the better wheel's page hash is not pinned (replaced upstream), the pinned one has no hash on the page
    await onIndex([{ name: 'nm', version: '1.0', tag: 'cp311-cp311-manylinux_2_17_x86_64' }, { name: 'nm', version: '1.0' }], { unhashed: ['nm-1.0-py3-none-any.whl'] }, async (dir, files, url) => {
      const r = await bothRefuse(dir, url, await pinLine(dir, 'nm==1.0', [files[1]!]));
      expect(r.pip.code).not.toBe(0);
      expect(r.pip.stderr).toContain('THESE PACKAGES DO NOT MATCH THE HASHES');
      expect(r.pip.stderr).toContain(platform);
      expect(r.ferry.code).toBe(67);
      expect(r.ferry.errors).toHaveLength(1);
      expect(r.ferry.errors[0]).toContain(`nm==1.0: the upstream offers bytes that were not reviewed. No file whose sha256 is pinned fits the target by the page's hashes, so the target's pip would weigh them all, take ${platform} and refuse its sha256`);
    });
  });
});

describe('two lines for one project, as pip 23.2 reads them', () => {
  it('===1.0 and ==1.0 are one requirement (the file 1.0), not a conflict', async () => {
    await onIndex([{ name: 'ar', version: '1.0' }, { name: 'ar', version: '1.0+cpu' }], {}, async (dir, files, url) => {
      for (const [first, again] of [['ar===1.0', 'Ar==1.0'], ['ar==1.0', 'AR===1.0']] as const) {
        const r = await bothChoose(dir, url, (await pinLine(dir, first, files)) + (await pinLine(dir, again, files)));
        expect(r.pip).toEqual(['ar-1.0-py3-none-any.whl']);
        expect(r.ferry).toEqual(r.pip);
      }
    });
  });
});

describe('backtracking by version, as pip 23.2 does it', () => {
  it('==1.0 whose best file requires another Python in its METADATA: pip gives up the version, its 1.0.0 files too, and so does ferry', async () => {
    const wheels = [{ name: 'bv', version: '1.0', tag: 'cp311-cp311-manylinux_2_17_x86_64', requires_python: '>=3.12' }, { name: 'bv', version: '1.0.0' }];
    // no data-requires-python on the page: only the METADATA says so
    await onIndex(wheels, { requiresPython: false }, async (dir, files, url) => {
      const r = await bothRefuse(dir, url, await pinLine(dir, 'bv==1.0', files));
      expect(r.pip.code).not.toBe(0);
      expect(r.ferry.code).toBe(70);
      expect(r.ferry.errors).toHaveLength(1);
      expect(r.ferry.errors[0]).toContain('bv-1.0.0-py3-none-any.whl: a file of this version (bv-1.0-cp311-cp311-manylinux_2_17_x86_64.whl) requires Python >=3.12 in its METADATA');
    });
  });
});
