import { checkLinkScheme, filenameFromUrl, fragmentHash, fragmentSha256, metadataAvailability, type IndexFile } from './indexFile.js';

/**
 * The files of a PEP 503 project page: every <a> with an href, resolved against the page URL (or its first
 * <base> with an href), with `#sha256=` fragments (the first hash fragment, as pip reads it), data-requires-python, data-yanked (PEP 592) and
 * data-core-metadata / data-dist-info-metadata (PEP 658/714). Read as pip 23.2 reads it (Python's
 * HTMLParser): a tag ends at the first ">" outside a quoted attribute value (`data-requires-python=">=3.8"`),
 * no <a> inside a comment, a declaration, a processing instruction, <script> or <style> is a link, and an
 * attribute given without a value (`data-yanked`) is as absent.
 */
export function parseSimpleHtml(html: string, pageUrl: string): IndexFile[] {
  const tags = [...startTags(html)];
  const baseHref = tags.find((t) => t.name === 'base' && t.attrs.get('href') !== undefined)?.attrs.get('href');
  const base = baseHref ? new URL(baseHref, pageUrl).href : pageUrl;
  const files: IndexFile[] = [];
  for (const { name, attrs } of tags) {
    if (name !== 'a') continue;
    const href = attrs.get('href');
    if (!href) continue;
    let url: URL;
    try {
      url = new URL(href, base);
    } catch {
      continue;
    }
    checkLinkScheme(url, pageUrl);
    const sha256 = fragmentSha256(url.hash);
    const hash = fragmentHash(url.hash);
    url.hash = '';
    const file: IndexFile = { filename: filenameFromUrl(url), url: url.href };
    if (sha256) file.sha256 = sha256;
    if (hash) file.pageHashes = { [hash[0]]: hash[1] };
    const rp = attrs.get('data-requires-python');
    if (rp) file.requiresPython = rp;
    const yanked = attrs.get('data-yanked');
    if (yanked !== undefined) file.yanked = yanked;
    const md = metadataAvailability(attrs.get('data-core-metadata') ?? attrs.get('data-dist-info-metadata'), 'html');
    if (md) file.metadata = md;
    files.push(file);
  }
  return files;
}

/**
 * The <a> and <base> start tags of `html`, in order, with their attributes, found as Python's HTMLParser
 * finds them: markup is skipped whole (a comment to its "-->", a declaration or processing instruction to its
 * ">", the content of <script> and <style> to their end tag), and a start tag ends at the first ">" outside
 * a quoted attribute value. One pass over the page: each search starts where the last one ended, and markup
 * that is never closed (an unclosed comment, quote or tag) ends the page, as it does for pip; a regex that
 * reads to the end of the page from every "<a " that no ">" closes kept the lock busy for minutes on a 1 MiB page
 * of "<a <a <a …".
 */
function* startTags(html: string): Generator<{ name: string; attrs: Map<string, string | undefined> }, undefined> {
  const lower = html.toLowerCase();
  let i = html.indexOf('<');
  while (i >= 0 && i < html.length) {
    let end: number;
    if (html.startsWith('<!--', i)) {
      end = html.indexOf('-->', i + 4);
      if (end < 0) return undefined;
      end += 3;
    } else if (html.startsWith('<!', i) || html.startsWith('<?', i) || html.startsWith('</', i)) {
      end = html.indexOf('>', i + 2);
      if (end < 0) return undefined;
      end += 1;
    } else if (/[a-zA-Z]/.test(html[i + 1] ?? '')) {
      const tag = readStartTag(html, i);
      if (!tag) return undefined;
      end = tag.end;
      if (tag.name === 'a' || tag.name === 'base') yield { name: tag.name, attrs: tag.attrs };
      if (tag.name === 'script' || tag.name === 'style') {
        const close = lower.indexOf(`</${tag.name}`, end);
        if (close < 0) return undefined;
        end = close;
      }
    } else end = i + 1;
    i = html.indexOf('<', end);
  }
  return undefined;
}

/**
 * The start tag at `at` (`html[at]` is "<", then a letter): its name (lowercased), attributes (names
 * lowercased, values entity-decoded, undefined for one given without a value, the last of two alike kept) and
 * where it ends; undefined when nothing closes it.
 */
function readStartTag(html: string, at: number): { name: string; attrs: Map<string, string | undefined>; end: number } | undefined {
  const nameMatch = /[a-zA-Z][^\t\n\r\f />\x00]*/y;
  nameMatch.lastIndex = at + 1;
  const name = nameMatch.exec(html)![0].toLowerCase();
  const attrs = new Map<string, string | undefined>();
  let i = nameMatch.lastIndex;
  const space = /[\s/]*/y;
  const attrName = /[^\s/>][^\s/=>]*/y;
  const equals = /\s*=+\s*/y;
  const unquoted = /[^>\s]*/y;
  for (;;) {
    space.lastIndex = i;
    space.exec(html);
    i = space.lastIndex;
    if (i >= html.length) return undefined;
    if (html[i] === '>') return { name, attrs, end: i + 1 };
    attrName.lastIndex = i;
    const n = attrName.exec(html)![0];
    i = attrName.lastIndex;
    equals.lastIndex = i;
    if (!equals.exec(html)) {
      attrs.set(n.toLowerCase(), undefined);
      continue;
    }
    i = equals.lastIndex;
    let value: string;
    if (html[i] === '"' || html[i] === "'") {
      const close = html.indexOf(html[i]!, i + 1);
      if (close < 0) return undefined;
      value = html.slice(i + 1, close);
      i = close + 1;
    } else {
      unquoted.lastIndex = i;
      value = unquoted.exec(html)![0];
      i = unquoted.lastIndex;
    }
    attrs.set(n.toLowerCase(), decodeEntities(value));
  }
}

/** The named references a Requires-Python may need, as Python's html5 table spells them (case matters: `&Gt;` is "≫"). */
const NAMED: Record<string, string> = { amp: '&', AMP: '&', lt: '<', LT: '<', gt: '>', GT: '>', quot: '"', QUOT: '"', apos: "'" };
/** those of them HTML (and Python's html.unescape) also reads without the ";" (`&gt=3.8`) */
const LEGACY = /^(?:amp|AMP|lt|LT|gt|GT|quot|QUOT)/;

/**
 * Character references decoded as Python's html.unescape decodes them (pip reads attribute values so): a
 * numeric one with or without its ";", a named one of NAMED with its ";", or of LEGACY without it. A
 * numeric reference to no character (NUL, a surrogate, past U+10FFFF: `&#9999999999;`) reads as U+FFFD;
 * String.fromCodePoint would throw on it.
 */
function decodeEntities(s: string): string {
  return s.replace(/&(#[xX][0-9a-fA-F]+;?|#\d+;?|[^\t\n\f <&#;]{1,32};?)/g, (all, e: string) => {
    if (e[0] === '#') {
      const digits = e.replace(/;$/, '');
      const n = digits[1] === 'x' || digits[1] === 'X' ? parseInt(digits.slice(2), 16) : parseInt(digits.slice(1), 10);
      return n === 0 || n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff) ? '\ufffd' : String.fromCodePoint(n);
    }
    if (e.endsWith(';') && NAMED[e.slice(0, -1)] !== undefined) return NAMED[e.slice(0, -1)]!;
    const legacy = LEGACY.exec(e)?.[0];
    return legacy ? NAMED[legacy]! + e.slice(legacy.length) : all;
  });
}
