/**
 * Canonical JSON: object keys sorted by code unit, no insignificant whitespace, LF at the end.
 * The bundle digest is the sha256 of these exact bytes, so the encoding must never depend on
 * insertion order or platform.
 */
export function canonicalJson(value: unknown): string {
  return encode(value) + '\n';
}

function encode(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON cannot encode ${value}`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return '[' + value.map(encode).join(',') + ']';
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort();
      return '{' + keys.map((k) => JSON.stringify(k) + ':' + encode(obj[k])).join(',') + '}';
    }
    default:
      throw new TypeError(`canonical JSON cannot encode a ${typeof value}`);
  }
}

/**
 * Where `bytes` first differ from the canonical encoding of `value` (their own JSON.parse), or undefined
 * when they are canonical. JSON.parse keeps the last of duplicate keys and skips whitespace, so the round
 * trip catches duplicates, unsorted keys, extra whitespace, CR, escapes and number spellings alike.
 */
export function canonicalMismatch(bytes: Uint8Array, value: unknown): number | undefined {
  let canonical: Buffer;
  try {
    canonical = Buffer.from(canonicalJson(value), 'utf8');
  } catch {
    return 0; // a number JSON cannot carry back (1e400)
  }
  if (canonical.equals(bytes)) return undefined;
  let i = 0;
  while (i < bytes.length && i < canonical.length && bytes[i] === canonical[i]) i++;
  return i;
}
