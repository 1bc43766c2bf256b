import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readProjectPage } from '../../src/sources/python/readProjectPage.js';
import { buildWheels, PIP_OFFLINE_ENV, runCommand, sha256 } from './fixtures.js';

// The Content-Type of a project page, as pip 23.2 takes it: it reads text/html and the PEP 691 types (any
// header starting with one of them) and skips any other page as if the project were not there, so
// `pip download` finds nothing. ferry reads the same pages and refuses the others.
const made: string[] = [];
afterAll(() => Promise.all(made.map((d) => rm(d, { recursive: true, force: true }))));

const TYPES: Array<[type: string | undefined, pipReads: boolean]> = [
  ['text/html', true],
  ['TEXT/HTML; charset=utf-8', true],
  ['application/vnd.pypi.simple.v1+html', true],
  ['text/plain', false],
  ['application/octet-stream', false],
  ['application/xhtml+xml', false],
  [undefined, false],
];

describe('project pages by Content-Type, as pip 23.2 reads them', () => {
  it('reads a page where pip reads it, and refuses one that pip skips', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-pagetype-'));
    made.push(dir);
    const [wheel] = buildWheels(dir, [{ name: 'ptype', version: '1.0' }]);
    const bytes = await readFile(join(dir, wheel!));
    const page = `<a href="/files/${wheel}#sha256=${sha256(bytes)}">${wheel}</a>`;
    let type: string | undefined;
    const server = createServer((req, res) => {
      if (req.url === '/simple/ptype/') return res.writeHead(200, type === undefined ? {} : { 'content-type': type }).end(page);
      if (req.url === `/files/${wheel}`) return res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(bytes);
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const index = `http://127.0.0.1:${(server.address() as AddressInfo).port}/simple/`;
    await writeFile(join(dir, 'req.txt'), `ptype==1.0 --hash=sha256:${sha256(bytes)}\n`);
    const differ: string[] = [];
    try {
      for (const [t, expected] of TYPES) {
        type = t;
        const out = await mkdtemp(join(tmpdir(), 'ferry-pagetype-dl-'));
        made.push(out);
        const pip = await runCommand('python3', ['-m', 'pip', 'download', '-q', '--no-cache-dir', '--no-deps', '--only-binary=:all:', '-d', out, '--index-url', index, '-r', join(dir, 'req.txt')], { ...PIP_OFFLINE_ENV, PIP_FIND_LINKS: '' });
        const ferry = await readProjectPage(index, 'ptype').then(
          (p) => p.files.map((f) => f.filename).includes(wheel!),
          (err: Error) => (expect(err.message).not.toContain('\n'), false),
        );
        if (pip.code === 0 !== expected) differ.push(`${t}: pip ${pip.code === 0 ? 'reads' : 'skips'} the page, the test expected otherwise`);
        if (ferry !== (pip.code === 0)) differ.push(`${t}: pip ${pip.code === 0 ? 'reads' : 'skips'} the page, ferry ${ferry ? 'reads' : 'refuses'} it`);
      }
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    expect(differ).toEqual([]);
  });
});
