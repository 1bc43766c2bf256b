import { TemplateError } from './TemplateError.js';

export interface Token {
  type: 'name' | 'num' | 'str' | 'op';
  value: string | number;
  /** as written, for messages */
  text: string;
}

export type Piece = { kind: 'text'; text: string } | { kind: 'out' | 'block'; tokens: Token[]; tag: string; line: number };

/**
 * How many tags and tokens one template (a template file, a step option, an inventory value) may hold.
 * Parsing costs about 240 bytes of memory for each: a signed template or step option of 40 MB of `{{x}}`
 * took more than the runner's default heap to parse (a crash, not a refusal) before anything was
 * rendered, where the render's own limits apply. A configuration template has some thousands.
 */
export const MAX_TAGS_AND_TOKENS = 200_000;

const OPS = ['==', '!=', '<=', '>=', '//', '**', '<', '>', '+', '-', '*', '/', '%', '~', '|', '(', ')', '[', ']', '.', ',', ':', '{', '}', '=', '!'];
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"' };

/**
 * Split Jinja text into literal text and the tokens of `{{ }}` and `{% %}` tags (comments `{# #}`
 * dropped, `{% raw %}…{% endraw %}` kept literal). Whitespace control as Ansible configures Jinja:
 * `-` beside a delimiter strips the whitespace on that side, and the first newline after a block tag
 * is removed (trim_blocks; `+%}` keeps it).
 */
export function lexTemplate(src: string): Piece[] {
  const pieces: Piece[] = [];
  let units = 0;
  let pos = 0;
  let line = 1;
  let counted = 0;
  const lineAt = (i: number) => {
    for (; counted < i; counted++) if (src.charCodeAt(counted) === 10) line++;
    return line;
  };
  let after: 'strip' | 'trim' | 'keep' = 'keep';
  const pushText = (text: string, stripEnd: boolean) => {
    if (after === 'strip') text = text.replace(/^\s+/, '');
    else if (after === 'trim') text = text.replace(/^\r?\n/, '');
    if (stripEnd) text = text.replace(/\s+$/, '');
    if (text) pieces.push({ kind: 'text', text });
  };

  while (pos < src.length) {
    const open = nextOpen(src, pos);
    if (open < 0) {
      pushText(src.slice(pos), false);
      break;
    }
    const kind = src[open + 1];
    const strip = src[open + 2] === '-';
    pushText(src.slice(pos, open), strip);
    const start = open + 2 + (strip ? 1 : 0);
    const tagLine = lineAt(open);
    if (kind === '#') {
      const close = src.indexOf('#}', start);
      if (close < 0) throw new TemplateError('a comment {# is not closed with #}', src.slice(open, open + 40), tagLine);
      after = src[close - 1] === '-' ? 'strip' : src[close - 1] === '+' ? 'keep' : 'trim';
      pos = close + 2;
      continue;
    }
    // the tag itself counts one, its tokens one each (counted as they are read: one tag may hold millions)
    if (++units > MAX_TAGS_AND_TOKENS) throw tooMany(src.slice(open, open + 40), tagLine);
    const { tokens, end, close } = scanTag(src, start, kind === '{' ? 'out' : 'block', open, tagLine, MAX_TAGS_AND_TOKENS - units);
    units += tokens.length;
    if (units > MAX_TAGS_AND_TOKENS) throw tooMany(src.slice(open, open + 40), tagLine);
    const tag = src.slice(open, end);
    pos = end;
    after = close === '-' ? 'strip' : close === '+' || kind === '{' ? 'keep' : 'trim';
    if (kind === '%' && tokens.length === 1 && tokens[0]!.value === 'raw' && tokens[0]!.type === 'name') {
      const endRaw = /\{%(-?)\s*endraw\s*([-+]?)%\}/g;
      endRaw.lastIndex = pos;
      const m = endRaw.exec(src);
      if (!m) throw new TemplateError('{% raw %} is not closed with {% endraw %}', tag, tagLine);
      pushText(src.slice(pos, m.index), m[1] === '-');
      after = m[2] === '-' ? 'strip' : m[2] === '+' ? 'keep' : 'trim';
      pos = m.index + m[0].length;
      continue;
    }
    pieces.push({ kind: kind === '{' ? 'out' : 'block', tokens, tag, line: tagLine });
  }
  return pieces;
}

function nextOpen(src: string, from: number): number {
  for (let i = src.indexOf('{', from); i >= 0; i = src.indexOf('{', i + 1)) {
    const c = src[i + 1];
    if (c === '{' || c === '%' || c === '#') return i;
  }
  return -1;
}

const tooMany = (tag: string, line: number) => new TemplateError(`the template holds more than ${MAX_TAGS_AND_TOKENS} tags and tokens, more than any configuration needs`, tag, line);

/** The tokens of one tag from `pos`, at most `most` of them (more is tooMany). */
function scanTag(src: string, pos: number, kind: 'out' | 'block', open: number, line: number, most: number): { tokens: Token[]; end: number; close: '-' | '+' | '' } {
  const tokens: Token[] = [];
  const closer = kind === 'out' ? '}}' : '%}';
  const fail = (why: string): never => {
    throw new TemplateError(why, src.slice(open, Math.min(src.length, pos + 1)), line);
  };
  for (;;) {
    if (tokens.length > most) throw tooMany(src.slice(open, open + 40), line);
    while (pos < src.length && /\s/.test(src[pos]!)) pos++;
    if (pos >= src.length) fail(`the tag is not closed with ${closer}`);
    if (src.startsWith(closer, pos)) return { tokens, end: pos + 2, close: '' };
    if ((src[pos] === '-' || (kind === 'block' && src[pos] === '+')) && src.startsWith(closer, pos + 1)) return { tokens, end: pos + 3, close: src[pos] as '-' | '+' };
    const c = src[pos]!;
    if (c === '"' || c === "'") {
      let value = '';
      let i = pos + 1;
      for (; i < src.length && src[i] !== c; i++) {
        if (src[i] === '\\' && i + 1 < src.length) {
          const e = src[++i]!;
          value += ESCAPES[e] ?? `\\${e}`;
        } else value += src[i];
      }
      if (i >= src.length) fail('a string is not closed');
      tokens.push({ type: 'str', value, text: src.slice(pos, i + 1) });
      pos = i + 1;
      continue;
    }
    const num = /^\d+(?:\.\d+)?/.exec(src.slice(pos, pos + 64));
    if (num) {
      tokens.push({ type: 'num', value: Number(num[0]), text: num[0] });
      pos += num[0].length;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(pos, pos + 256));
    if (name) {
      tokens.push({ type: 'name', value: name[0], text: name[0] });
      pos += name[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, pos));
    if (!op) fail(`unexpected character ${JSON.stringify(c)}`);
    tokens.push({ type: 'op', value: op!, text: op! });
    pos += op!.length;
  }
}
