import { ResolveError } from '../../errors.js';

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
  parser.push(Buffer.from(text, 'utf8'));
  parser.end();
  return out;
}

/**
 * Parse a stream of chunks paragraph by paragraph, so a 50 MB Packages file never sits in memory
 * whole. With `fields`, only those fields are kept (exact spelling): the long Description and the like
 * of 60,000 packages are skipped instead of being built up and thrown away. A line longer than
 * MAX_LINE_BYTES is refused (ResolveError naming `label`): a few KiB of xz can hold a line of gigabytes.
 */
export async function* parseControlStream(chunks: AsyncIterable<string | Buffer>, fields?: ReadonlySet<string>, label = 'control file'): AsyncGenerator<Paragraph> {
  const ready: Paragraph[] = [];
  const parser = createParagraphParser((p) => ready.push(p), fields, label);
  for await (const chunk of chunks) {
    parser.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
    yield* ready.splice(0);
  }
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

/**
 * The longest line a streamed control file may have. Debian's longest (a Description, a Depends of a
 * metapackage) are a few KiB; a line is held whole until its newline arrives, so one of gigabytes
 * (from a few KiB of xz) would otherwise be held in memory, or end the process.
 */
export const MAX_LINE_BYTES = 16 << 20;
/**
 * The longest field, continuation lines included. A field is held whole until the next one starts, so a
 * Depends continued over gigabytes of short lines (a few KiB of xz) would otherwise be held in memory:
 * built up line by line as one string, 64 MiB of " a,\n" lines took 1.5 GiB, 256 MiB ended the process.
 */
export const MAX_FIELD_BYTES = MAX_LINE_BYTES;

const NL = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;
const HASH = 35;
const COLON = 58;

/**
 * Works on bytes, not on one big string: every kept value is decoded on its own, so the records of a
 * large index do not hold on to the chunks they were cut from (V8 keeps a whole string alive for any
 * slice of it), and a UTF-8 character split between two chunks is never cut.
 */
function createParagraphParser(emit: (p: Paragraph) => void, fields?: ReadonlySet<string>, label = 'control file') {
  /** the start of a line cut between chunks, in pieces (copied: a chunk may be a lent buffer), joined once its newline arrives */
  let rest: Buffer[] = [];
  let restLength = 0;
  const keep = (piece: Buffer) => {
    restLength += piece.length;
    if (restLength > MAX_LINE_BYTES) throw new ResolveError(`${label}: a line of more than ${MAX_LINE_BYTES} bytes; not a Debian index, refusing it`);
    if (piece.length > 0) rest.push(Buffer.from(piece));
  };
  let current: Paragraph = new Map();
  let lastKey: string | undefined;
  /** bytes of lastKey's field so far; its continuation lines ("\n" + line each) wait as bytes in `more` until it ends */
  let fieldBytes = 0;
  let more = Buffer.alloc(0);
  let moreLength = 0;
  const addContinuation = (data: Buffer, start: number, end: number) => {
    fieldBytes += 1 + end - start;
    if (fieldBytes > MAX_FIELD_BYTES) throw new ResolveError(`${label}: field ${lastKey} of more than ${MAX_FIELD_BYTES} bytes (continuation lines included); not a Debian index, refusing it`);
    const need = moreLength + 1 + end - start;
    if (need > more.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, 2 * more.length, 1024));
      more.copy(grown, 0, 0, moreLength);
      more = grown;
    }
    more[moreLength] = NL;
    data.copy(more, moreLength + 1, start, end);
    moreLength = need;
  };
  /** lastKey's field has ended: its continuation lines join its value, decoded once */
  const endField = () => {
    if (lastKey !== undefined && moreLength > 0) current.set(lastKey, current.get(lastKey) + more.toString('utf8', 0, moreLength));
    moreLength = 0;
    if (more.length > 1 << 16) more = Buffer.alloc(0);
  };
  const flush = () => {
    endField();
    if (current.size > 0) emit(current);
    current = new Map();
    lastKey = undefined;
  };
  const line = (data: Buffer, start: number, end: number) => {
    if (end > start && data[end - 1] === CR) end--;
    let blank = true;
    for (let i = start; i < end; i++) {
      if (data[i] !== SPACE && data[i] !== TAB) {
        blank = false;
        break;
      }
    }
    if (blank) return flush();
    const first = data[start];
    if (first === HASH) return; // comments are allowed in .sources files
    if (first === SPACE || first === TAB) {
      if (lastKey !== undefined) addContinuation(data, start, end);
      return;
    }
    const colon = data.indexOf(COLON, start);
    if (colon < 0 || colon >= end || colon === start) return; // not a field: ignored, like apt's tag parser does
    endField();
    const key = data.toString('latin1', start, colon);
    if (fields && !fields.has(key)) {
      lastKey = undefined; // its continuation lines are skipped too
      return;
    }
    lastKey = key;
    fieldBytes = end - colon - 1;
    current.set(key, data.toString('utf8', colon + 1, end).trim());
  };
  return {
    push(chunk: Buffer) {
      let start = 0;
      if (restLength > 0) {
        // only the line cut between the chunks is joined, once: the chunk itself is read where it is
        const nl = chunk.indexOf(NL);
        if (nl < 0) return keep(chunk);
        keep(chunk.subarray(0, nl));
        const joined = Buffer.concat(rest, restLength);
        rest = [];
        restLength = 0;
        line(joined, 0, joined.length);
        start = nl + 1;
      }
      for (let nl = chunk.indexOf(NL, start); nl >= 0; nl = chunk.indexOf(NL, start)) {
        line(chunk, start, nl);
        start = nl + 1;
      }
      keep(chunk.subarray(start));
    },
    end() {
      if (restLength > 0) {
        const joined = Buffer.concat(rest, restLength);
        line(joined, 0, joined.length);
      }
      rest = [];
      restLength = 0;
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
