import { StringDecoder } from 'node:string_decoder';

/**
 * Debian control-file syntax (deb822): paragraphs separated by blank lines, `Field: value`, and
 * continuation lines that start with a space or tab. Used for Release, Packages, .deb control files
 * and apt's .sources files. Field names keep their spelling; look them up with `field()`, because
 * deb822 field names are case-insensitive.
 */
export type Paragraph = Map<string, string>;

export function parseControl(text: string): Paragraph[] {
  const out: Paragraph[] = [];
  const parser = createParagraphParser((p) => out.push(p));
  parser.push(text);
  parser.end();
  return out;
}

/**
 * Parse a stream of text chunks paragraph by paragraph, so a 50 MB Packages file never sits in memory
 * whole. With `fields`, only those fields are kept (exact spelling): the long Description and the like
 * of 60,000 packages are skipped instead of being built up and thrown away.
 */
export async function* parseControlStream(chunks: AsyncIterable<string | Buffer>, fields?: ReadonlySet<string>): AsyncGenerator<Paragraph> {
  const ready: Paragraph[] = [];
  const parser = createParagraphParser((p) => ready.push(p), fields);
  // a multi-byte UTF-8 character may be split between two chunks: the decoder carries it over
  const decoder = new StringDecoder('utf8');
  for await (const chunk of chunks) {
    parser.push(typeof chunk === 'string' ? chunk : decoder.write(chunk));
    yield* ready.splice(0);
  }
  parser.push(decoder.end());
  parser.end();
  yield* ready.splice(0);
}

/** Case-insensitive field lookup. */
export function field(p: Paragraph, name: string): string | undefined {
  const v = p.get(name);
  if (v !== undefined) return v;
  const lower = name.toLowerCase();
  for (const [k, val] of p) if (k.toLowerCase() === lower) return val;
  return undefined;
}

function createParagraphParser(emit: (p: Paragraph) => void, fields?: ReadonlySet<string>) {
  let rest = '';
  let current: Paragraph = new Map();
  let lastKey: string | undefined;
  const flush = () => {
    if (current.size > 0) emit(current);
    current = new Map();
    lastKey = undefined;
  };
  const line = (l: string) => {
    if (l.endsWith('\r')) l = l.slice(0, -1);
    if (l.trim() === '') return flush();
    if (l.startsWith('#')) return; // comments are allowed in .sources files
    const first = l.charCodeAt(0);
    if (first === 32 || first === 9) {
      if (lastKey !== undefined) current.set(lastKey, current.get(lastKey) + '\n' + l);
      return;
    }
    const colon = l.indexOf(':');
    if (colon <= 0) return; // not a field: ignored, like apt's tag parser does for junk lines
    const key = l.slice(0, colon);
    if (fields && !fields.has(key)) {
      lastKey = undefined; // its continuation lines are skipped too
      return;
    }
    lastKey = key;
    current.set(lastKey, l.slice(colon + 1).trim());
  };
  return {
    push(text: string) {
      const data = rest + text;
      let start = 0;
      for (let nl = data.indexOf('\n'); nl >= 0; nl = data.indexOf('\n', start)) {
        line(data.slice(start, nl));
        start = nl + 1;
      }
      rest = data.slice(start);
    },
    end() {
      if (rest) line(rest);
      rest = '';
      flush();
    },
  };
}

/** Serialize a paragraph back to deb822 text (field order kept), ending with a newline. */
export function formatParagraph(p: Paragraph): string {
  let s = '';
  for (const [k, v] of p) s += v.startsWith('\n') ? `${k}:${v}\n` : `${k}: ${v}\n`;
  return s;
}
