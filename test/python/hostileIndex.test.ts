import { createServer, type Server } from 'node:http';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { parseSimpleHtml } from '../../src/sources/python/parseSimpleHtml.js';
import { parseSimpleJson } from '../../src/sources/python/parseSimpleJson.js';
import { FetchError } from '../../src/errors.js';
import { readProjectPage } from '../../src/sources/python/readProjectPage.js';

/**
 * A package index on the network is an upstream like any other: its links may lead to other hosts, never
 * to a file of the build machine. A Python mirror pins files the page gives no hash for by downloading
 * them, so a page linking file:///…/x-1.0-py3-none-any.whl would have copied that file into the lock's
 * cache and the bundle.
 */
describe('a hostile Python index', () => {
  let dir: string;
  let server: Server;
  let url = '';
  let page = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-hostile-index-'));
    // a file of the build machine that happens to have a wheel's name
    await mkdir(join(dir, 'private'));
    await writeFile(join(dir, 'private', 'webapp-1.0-py3-none-any.whl'), 'PRIVATE\n');
    server = createServer((req, res) => {
      if (req.url === '/simple/webapp/') return res.writeHead(200, { 'content-type': 'text/html' }).end(page);
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/simple/`;
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  async function lockMirror(name: string) {
    const spec = join(dir, `${name}.yaml`);
    await writeFile(
      spec,
      ['name: bad', 'version: 1.0.0', 'epoch: 2026-11-25T00:00:00Z', 'mirrors:', '  python:', '    m:', `      index: "${url}"`, '      projects: ["webapp"]', '      targets: [{ version: "3.11", platforms: [manylinux_2_36_x86_64] }]', ''].join('\n'),
    );
    const r = await ferry(['lock', spec, '--cache', join(dir, `cache-${name}`)]);
    return { ...r, lockWritten: existsSync(join(dir, `${name}.lock.json`)) };
  }

  it.each([
    ['a file: link', () => `<a href="file://${dir}/private/webapp-1.0-py3-none-any.whl">webapp-1.0-py3-none-any.whl</a>`],
    ['a base href that is file:', () => `<base href="file://${dir}/private/"><a href="webapp-1.0-py3-none-any.whl">webapp</a>`],
    ['an ftp: link', () => '<a href="ftp://127.0.0.1/webapp-1.0-py3-none-any.whl">webapp</a>'],
  ])('ferry lock refuses a page with %s (exit 69), one line, and writes no lock', async (label, html) => {
    page = `<html><body>${html()}</body></html>`;
    const r = await lockMirror(label.replace(/\W+/g, '-'));
    expect(r.code, r.stderr).toBe(69);
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'));
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/the index links to .*, a (file|ftp): URL an index on the network may not name/);
    expect(r.lockWritten).toBe(false);
  });

  it('parses links to other hosts of the network, and local mirrors linking their own files', () => {
    expect(parseSimpleHtml('<a href="https://files.example/x-1.0-py3-none-any.whl#sha256=' + 'a'.repeat(64) + '">x</a>', 'https://index.example/simple/x/')).toEqual([
      { filename: 'x-1.0-py3-none-any.whl', url: 'https://files.example/x-1.0-py3-none-any.whl', sha256: 'a'.repeat(64), pageHashes: { sha256: 'a'.repeat(64) } },
    ]);
    expect(parseSimpleHtml('<a href="../../files/x-1.0-py3-none-any.whl">x</a>', 'file:///srv/mirror/simple/x/')[0]!.url).toBe('file:///srv/mirror/files/x-1.0-py3-none-any.whl');
  });

  it('refuses a PEP 691 page that is JSON of another shape (null, a list, a string, meta null) as a fetch error, never a TypeError', () => {
    for (const text of ['null', '[]', '"x"', '{"meta":null}', '{"meta":{"api-version":"1.1"},"files":[null,5,{"url":"https://f.example/x-1.0-py3-none-any.whl","hashes":null}]}']) {
      let err: unknown;
      let files: unknown;
      try {
        files = parseSimpleJson(text, 'https://index.example/simple/x/');
      } catch (e) {
        err = e;
      }
      if (err === undefined) expect(files, text).toEqual([{ filename: 'x-1.0-py3-none-any.whl', url: 'https://f.example/x-1.0-py3-none-any.whl' }]);
      else {
        expect(err, text).toBeInstanceOf(FetchError);
        expect((err as Error).message, text).toMatch(/^https:\/\/index\.example\/simple\/x\/: PEP 691/);
      }
    }
  });

  it('reads a page of 16 MiB of "<a " or "<base " that no ">" closes at once, as no links (the scan was quadratic: hours)', () => {
    // well under the 64 MiB a project page may have; before, a 1 MiB one kept the lock busy for minutes
    for (const tag of ['<a ', '<base ', '<A\t']) {
      const page = `<a href="x-1.0-py3-none-any.whl">x</a>${tag.repeat(Math.floor((16 << 20) / tag.length))}`;
      expect(parseSimpleHtml(page, 'https://index.example/simple/x/'), tag).toEqual([{ filename: 'x-1.0-py3-none-any.whl', url: 'https://index.example/simple/x/x-1.0-py3-none-any.whl' }]);
    }
  });

  it('skips a PEP 691 file whose url is not a URL and refuses one on file: from a network page', () => {
    const doc = (files: unknown[]) => JSON.stringify({ meta: { 'api-version': '1.1' }, files });
    expect(parseSimpleJson(doc([{ url: 'http://[::1', filename: 'x-1.0-py3-none-any.whl' }]), 'https://index.example/simple/x/')).toEqual([]);
    expect(() => parseSimpleJson(doc([{ url: 'file:///etc/passwd', filename: 'x-1.0-py3-none-any.whl' }]), 'https://index.example/simple/x/')).toThrow(/a file: URL an index on the network may not name/);
  });
});

describe('an index that redirects a project page', () => {
  let server: Server;
  let origin = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/simple/moved/') return res.writeHead(302, { location: '/elsewhere/deep/moved/' }).end();
      if (req.url === '/simple/moved-json/') return res.writeHead(301, { location: '/elsewhere/json/moved-json/' }).end();
      if (req.url === '/elsewhere/deep/moved/') return res.writeHead(200, { 'content-type': 'text/html' }).end('<a href="moved-1.0-py3-none-any.whl">moved</a><a href="../other/o-1.0.tar.gz">o</a>');
      if (req.url === '/elsewhere/json/moved-json/') {
        return res.writeHead(200, { 'content-type': 'application/vnd.pypi.simple.v1+json' }).end(JSON.stringify({ meta: { 'api-version': '1.1' }, files: [{ url: 'j-1.0-py3-none-any.whl', hashes: {} }] }));
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise((r) => server?.close(r)));

  it('names the files relative to the page that answered, as pip does (its base is the response URL), in HTML and JSON', async () => {
    const html = await readProjectPage(`${origin}/simple/`, 'moved');
    expect(html.url).toBe(`${origin}/simple/moved/`);
    expect(html.files.map((f) => f.url)).toEqual([`${origin}/elsewhere/deep/moved/moved-1.0-py3-none-any.whl`, `${origin}/elsewhere/deep/other/o-1.0.tar.gz`]);
    const json = await readProjectPage(`${origin}/simple/`, 'moved-json');
    expect(json.files.map((f) => f.url)).toEqual([`${origin}/elsewhere/json/moved-json/j-1.0-py3-none-any.whl`]);
  });
});

/**
 * A local index (a PEP 503 tree on disk, file:// or a path) is an upstream too: a project's index.html
 * that is a FIFO was waited on forever (readFile opens it blocking), one that is a device was read to its
 * end without the page cap (/dev/zero never ends). Each is refused as a page over HTTP would be: a
 * FetchError naming the file; a missing page is still "no such project".
 */
describe('a hostile local Python index', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-hostile-local-index-'));
    await mkdir(join(dir, 'simple', 'fifo'), { recursive: true });
    await mkdir(join(dir, 'simple', 'device'), { recursive: true });
    execFileSync('mkfifo', [join(dir, 'simple', 'fifo', 'index.html')]);
    await symlink('/dev/null', join(dir, 'simple', 'device', 'index.html'));
  });
  afterAll(async () => {
    // a reader the old code left waiting in open(2) on the FIFO is let go by a writer's open
    try {
      closeSync(openSync(join(dir, 'simple', 'fifo', 'index.html'), constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // no reader waiting (ENXIO)
    }
    await rm(dir, { recursive: true, force: true });
  });

  it.each(['fifo', 'device'])('refuses a project page that is a %s, at once, as a fetch error naming it', async (project) => {
    const page = join(dir, 'simple', project, 'index.html');
    const read = readProjectPage(`file://${dir}/simple/`, project).catch((e: unknown) => e);
    const verdict = await Promise.race([read, new Promise((r) => setTimeout(r, 5000, 'still waiting'))]);
    expect(verdict).toBeInstanceOf(FetchError);
    expect((verdict as Error).message).toBe(`${page} is not a regular file: ferry reads only regular files from local folders`);
  });

  it('still says a missing page is no such project', async () => {
    await expect(readProjectPage(`file://${dir}/simple/`, 'absent')).rejects.toThrow(/the index has no project "absent"/);
  });
});
