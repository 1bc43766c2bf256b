import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseSimpleHtml } from '../../src/sources/python/parseSimpleHtml.js';
import { parseSimpleJson } from '../../src/sources/python/parseSimpleJson.js';

// PEP 503 project pages as the real pip 23.2 reads them (pip._internal.index.collector.parse_links: Python's
// HTMLParser, Link.from_element), against parseSimpleHtml on the same page: the same files, URLs, page
// hashes, Requires-Python, yanked reasons and PEP 658 announcements.
const F = '../../f/x';
const H = 'a'.repeat(64);
const PAGES: Record<string, string> = {
  'plain links, escaped Requires-Python': `<a href="${F}-1.0-py3-none-any.whl#sha256=${H}" data-requires-python="&gt;=3.8,&lt;4">x</a><a href='${F}-1.1-py3-none-any.whl' data-yanked="bad" data-core-metadata="sha256=${H}">x</a>`,
  // a ">" inside a quoted value does not end the tag (indexes that leave Requires-Python unescaped)
  'unescaped > before the href': `<a data-requires-python=">=3.12" href="${F}-1.0-py3-none-any.whl">x</a>`,
  'unescaped > after the href': `<a href="${F}-1.0-py3-none-any.whl" data-requires-python=">=3.12">x</a><a href="${F}-0.9-py3-none-any.whl">y</a>`,
  'a link in a comment': `<html><!-- <a href="${F}-2.0-py3-none-any.whl">old</a> --><a href="${F}-1.0-py3-none-any.whl">x</a></html>`,
  'a conditional comment': `<!--[if IE]><a href="${F}-5.0-py3-none-any.whl">x</a><![endif]--><a href="${F}-1.0-py3-none-any.whl">x</a>`,
  'a comment never closed': `<a href="${F}-1.0-py3-none-any.whl">x</a><!-- <a href="${F}-2.0-py3-none-any.whl">`,
  '"--!>" does not close a comment': `<!-- a --!><a href="${F}-1.0-py3-none-any.whl">x</a>`,
  '"<!-->" does not close itself': `<!--><a href="${F}-1.0-py3-none-any.whl">x</a>-->`,
  'a link in a script': `<script>var s = '<a href="${F}-3.0-py3-none-any.whl">';</script><a href="${F}-1.0-py3-none-any.whl">x</a>`,
  'a link in a style': `<STYLE>/* <a href="${F}-3.0-py3-none-any.whl"> */</STYLE><a href="${F}-1.0-py3-none-any.whl">x</a>`,
  'a link in a processing instruction': `<!DOCTYPE html><?pi <a href="${F}-6.0-py3-none-any.whl"> ?><a href="${F}-1.0-py3-none-any.whl">x</a>`,
  'a link in a title (not skipped)': `<title><a href="${F}-4.0-py3-none-any.whl"></title><a href="${F}-1.0-py3-none-any.whl">x</a>`,
  'the first <base> with an href': `<base target="_x"><base href="http://127.0.0.1:2/files/"><base href="http://127.0.0.1:3/"><a href="x-1.0-py3-none-any.whl">x</a>`,
  'attributes without a value are absent': `<a href="${F}-1.0-py3-none-any.whl" data-yanked data-requires-python data-core-metadata data-dist-info-metadata="sha256=${H}">x</a>`,
  'references without ";"': `<a href="${F}-1.0-py3-none-any.whl" data-requires-python="&gt=3.8,&#60;4" data-yanked="a&ampb">x</a>`,
  'upper-case references': `<a href="${F}-1.0-py3-none-any.whl" data-requires-python="&GT;=3.8" data-yanked="&QUOT;old&QUOT;">x</a>`,
  'a link ending in "/"': `<a href="${F}-1.0-py3-none-any.whl/">x</a>`,
  'any PEP 658 value announces a file': `<a href="${F}-1.0-py3-none-any.whl" data-core-metadata="false">x</a><a href="${F}-1.1-py3-none-any.whl" data-dist-info-metadata="">x</a><a href="${F}-1.2-py3-none-any.whl" data-core-metadata="sha512=ab">x</a>`,
  'the first hash fragment is the one': `<a href="${F}-1.0-py3-none-any.whl#md5=abc&sha256=${H}">x</a><a href="${F}-1.1-py3-none-any.whl#egg=x&sha256=${H}">x</a>`,
  'unquoted values, upper-case names': `<A HREF=${F}-1.0-py3-none-any.whl DATA-REQUIRES-PYTHON=&gt;=3.8>x</A>`,
};

const PIP_READS = `
import json, sys
from pip._internal.index.collector import parse_links, IndexContent
out = {}
for name, html in json.load(sys.stdin).items():
    links = parse_links(IndexContent(html.encode(), "text/html", "utf-8", sys.argv[1], cache_link_parsing=False))
    out[name] = [[l.filename, l.url.split("#")[0], l._hashes.get("sha256"), l.requires_python, l.yanked_reason,
                  None if l.metadata_file_data is None else (l.metadata_file_data.hashes or {}).get("sha256", "")] for l in links]
print(json.dumps(out))
`;

/** the JSON a Python script prints, given `input` as JSON on stdin and `page` as its argument */
const askPip = (script: string, page: string, input: unknown): unknown => JSON.parse(execFileSync('python3', ['-c', script, page], { input: JSON.stringify(input), encoding: 'utf8' }));

describe('PEP 503 pages as pip 23.2 reads them', () => {
  const page = 'http://127.0.0.1:1/simple/x/';
  const pip = askPip(PIP_READS, page, PAGES) as Record<string, unknown[]>;

  it('parseSimpleHtml finds the files pip finds, with the same attributes, on every page', () => {
    const differ = Object.keys(PAGES).flatMap((name) => {
      const ferry = parseSimpleHtml(PAGES[name]!, page).map((f) => [f.filename, f.url, f.sha256 ?? null, f.requiresPython ?? null, f.yanked ?? null, f.metadata ? (f.metadata.sha256 ?? '') : null]);
      return JSON.stringify(ferry) === JSON.stringify(pip[name]) ? [] : [`${name}: pip ${JSON.stringify(pip[name])}, ferry ${JSON.stringify(ferry)}`];
    });
    expect(differ).toEqual([]);
  });

  it('the pages are not all alike', () => {
    expect(pip['unescaped > after the href']).toEqual([
      ['x-1.0-py3-none-any.whl', 'http://127.0.0.1:1/f/x-1.0-py3-none-any.whl', null, '>=3.12', null, null],
      ['x-0.9-py3-none-any.whl', 'http://127.0.0.1:1/f/x-0.9-py3-none-any.whl', null, null, null, null],
    ]);
    expect(pip['a link in a comment']).toHaveLength(1);
    expect(pip['a link in a title (not skipped)']).toHaveLength(2);
  });
});

// PEP 691 files as pip 23.2's Link.from_json reads them, against parseSimpleJson.
const JSON_FILES: unknown[] = [
  { url: `${F}-1.0-py3-none-any.whl`, hashes: { sha256: H }, 'core-metadata': '' },
  { url: `${F}-1.1-py3-none-any.whl`, hashes: {}, 'core-metadata': 0 },
  { url: `${F}-1.2-py3-none-any.whl`, hashes: {}, 'core-metadata': 'false' },
  { url: `${F}-1.3-py3-none-any.whl`, hashes: {}, 'core-metadata': { sha512: 'ab' } },
  { url: `${F}-1.4-py3-none-any.whl#sha256=${'b'.repeat(64)}`, hashes: { sha256: H } },
  { url: `${F}-1.5-py3-none-any.whl`, hashes: {}, 'core-metadata': false, 'dist-info-metadata': true },
  { url: `${F}-1.6-py3-none-any.whl`, hashes: {}, 'core-metadata': null, 'dist-info-metadata': { sha256: H } },
  { url: `${F}-1.7-py3-none-any.whl`, hashes: {}, 'core-metadata': 'true', 'requires-python': '>=3.12' },
  { url: `${F}-1.8-py3-none-any.whl`, hashes: {}, 'core-metadata': [0] },
];

const PIP_READS_JSON = `
import json, sys
from pip._internal.models.link import Link
out = []
for f in json.load(sys.stdin):
    l = Link.from_json(f, sys.argv[1])
    out.append([l.filename, l._hashes.get("sha256"), l.requires_python, None if l.metadata_file_data is None else (l.metadata_file_data.hashes or {}).get("sha256", "")])
print(json.dumps(out))
`;

describe('PEP 691 pages as pip 23.2 reads them', () => {
  it('parseSimpleJson gives each file the hash, Requires-Python and PEP 658 announcement pip gives it', () => {
    const page = 'http://127.0.0.1:1/simple/x/';
    const pip = askPip(PIP_READS_JSON, page, JSON_FILES) as unknown[];
    const ferry = parseSimpleJson(JSON.stringify({ meta: { 'api-version': '1.1' }, files: JSON_FILES }), page).map((f) => [f.filename, f.sha256 ?? null, f.requiresPython ?? null, f.metadata ? (f.metadata.sha256 ?? '') : null]);
    expect(ferry).toEqual(pip);
    expect(pip.filter((f) => (f as unknown[])[3] === null).length).toBeGreaterThan(1);
  });
});
