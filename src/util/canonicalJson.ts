/**
 * Canonical JSON: object keys sorted by code unit, no insignificant whitespace, LF at the end.
 * The bundle digest is the sha256 of these exact bytes, so the encoding must never depend on
 * insertion order or platform.
 */
export function canonicalJson(value: unknown): string {
  const parts: string[] = [];
  encode(value, (part) => parts.push(part) > 0);
  return parts.join('') + '\n';
}

/**
 * Hands the canonical encoding of `value` to `emit` piece by piece, in order; stops early (returning
 * false) when `emit` returns false.
 */
function encode(value: unknown, emit: (part: string) => boolean): boolean {
  if (value === null) return emit('null');
  switch (typeof value) {
    case 'string':
      return emit(JSON.stringify(value));
    case 'boolean':
      return emit(value ? 'true' : 'false');
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON cannot encode ${value}`);
      return emit(JSON.stringify(value));
    case 'object': {
      if (Array.isArray(value)) {
        if (!emit('[')) return false;
        for (let i = 0; i < value.length; i++) if ((i > 0 && !emit(',')) || !encode(value[i], emit)) return false;
        return emit(']');
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort();
      if (!emit('{')) return false;
      for (let i = 0; i < keys.length; i++) {
        if ((i > 0 && !emit(',')) || !emit(JSON.stringify(keys[i])) || !emit(':') || !encode(obj[keys[i]!], emit)) return false;
      }
      return emit('}');
    }
    default:
      throw new TypeError(`canonical JSON cannot encode a ${typeof value}`);
  }
}

/**
 * Where `bytes` first differ from the canonical encoding of `value` (their own JSON.parse), or undefined
 * when they are canonical. JSON.parse keeps the last of duplicate keys and skips whitespace, so the round
 * trip catches duplicates, unsorted keys, extra whitespace, CR, escapes and number spellings alike.
 * The encoding is compared piece by piece as it is made, never built whole: a manifest of thousands of
 * entries would otherwise cost `ferry verify` several MiB of short-lived strings at its peak.
 */
export function canonicalMismatch(bytes: Uint8Array, value: unknown): number | undefined {
  let pos = 0;
  let scratch = Buffer.allocUnsafe(4096);
  const matches = (whole: string) => {
    // most pieces are ASCII (punctuation, keys, digests, paths): compared as char codes, not encoded
    let ascii = 0;
    for (; ascii < whole.length; ascii++) {
      const c = whole.charCodeAt(ascii);
      if (c >= 0x80) break;
      if (bytes[pos + ascii] !== c) {
        pos += ascii;
        return false;
      }
    }
    pos += ascii;
    if (ascii === whole.length) return true;
    const part = whole.slice(ascii);
    if (part.length * 3 > scratch.length) scratch = Buffer.allocUnsafe(part.length * 3);
    const n = scratch.write(part, 0, 'utf8');
    for (let i = 0; i < n; i++) {
      if (bytes[pos + i] !== scratch[i]) {
        pos += i;
        return false;
      }
    }
    pos += n;
    return true;
  };
  try {
    if (!encode(value, matches) || !matches('\n')) return Math.min(pos, bytes.length);
  } catch {
    return 0; // a number JSON cannot carry back (1e400)
  }
  return pos === bytes.length ? undefined : pos;
}
