import { checkLinkScheme, filenameFromUrl, metadataAvailability, type IndexFile } from './indexFile.js';

/**
 * The files of a PEP 503 project page: every <a> with an href, resolved against the page URL (or its
 * <base href>), with `#sha256=` fragments, data-requires-python, data-yanked (PEP 592) and
 * data-core-metadata / data-dist-info-metadata (PEP 658/714).
 */
export function parseSimpleHtml(html: string, pageUrl: string): IndexFile[] {
  const baseTag = startTags(html, 'base').next().value;
  const baseHref = baseTag ? attributes(baseTag).get('href') : undefined;
  const base = baseHref ? new URL(baseHref, pageUrl).href : pageUrl;
  const files: IndexFile[] = [];
  for (const tag of startTags(html, 'a')) {
    const attrs = attributes(tag);
    const href = attrs.get('href');
    if (!href) continue;
    let url: URL;
    try {
      url = new URL(href, base);
    } catch {
      continue;
    }
    checkLinkScheme(url, pageUrl);
    const fragment = new URLSearchParams(url.hash.slice(1));
    url.hash = '';
    const sha256 = fragment.get('sha256')?.toLowerCase();
    const file: IndexFile = { filename: filenameFromUrl(url), url: url.href };
    if (sha256 && /^[0-9a-f]{64}$/.test(sha256)) file.sha256 = sha256;
    const rp = attrs.get('data-requires-python');
    if (rp) file.requiresPython = rp;
    if (attrs.has('data-yanked')) file.yanked = attrs.get('data-yanked') ?? '';
    const md = metadataAvailability(attrs.get('data-core-metadata') ?? attrs.get('data-dist-info-metadata'));
    if (md) file.metadata = md;
    files.push(file);
  }
  return files;
}

/**
 * The start tags `<NAME …>` of `html`, in order, each up to its first ">". Found with indexOf, not with
 * /<a\s[^>]*>/: that regex reads to the end of the page from every "<a " that no ">" closes, so a 1 MiB page
 * of "<a <a <a …" kept the lock busy for minutes and one of the 64 MiB a page may have for days. A tag no ">"
 * closes is not a tag (HTML parsers drop it), and neither is any after it.
 */
function* startTags(html: string, name: string): Generator<string, undefined> {
  const open = new RegExp(`<${name}\\s`, 'gi');
  for (let m = open.exec(html); m; m = open.exec(html)) {
    const end = html.indexOf('>', m.index);
    if (end === -1) return undefined;
    yield html.slice(m.index, end + 1);
    open.lastIndex = end + 1;
  }
  return undefined;
}

/** Attributes of one start tag, names lowercased, values entity-decoded; a bare attribute maps to "". */
function attributes(tag: string): Map<string, string> {
  const out = new Map<string, string>();
  const body = tag.replace(/^<\w+/, '').replace(/\/?>$/, '');
  for (const m of body.matchAll(/([^\s"'=<>`/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g)) {
    out.set(m[1]!.toLowerCase(), decodeEntities(m[2] ?? m[3] ?? m[4] ?? ''));
  }
  return out;
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * A numeric reference to no character (NUL, a surrogate, past U+10FFFF: `&#9999999999;`) reads as U+FFFD,
 * as HTML parsers (pip's html.unescape among them) read it; String.fromCodePoint would throw on it.
 */
function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-zA-Z]+);/g, (all, e: string) => {
    if (e[0] !== '#') return NAMED[e.toLowerCase()] ?? all;
    const n = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return n === 0 || n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff) ? '\ufffd' : String.fromCodePoint(n);
  });
}
