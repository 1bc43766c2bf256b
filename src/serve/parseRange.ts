/** A byte range, both ends inclusive, as in Content-Range. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Read a `Range` header for a body of `size` bytes (RFC 9110 §14.1.2).
 * - `undefined`: no usable range; answer 200 with the whole body. That covers a missing header,
 *   a unit other than bytes, bad syntax, and several ranges (a server may ignore Range, and
 *   multipart answers buy nothing for apt, pip or curl).
 * - `'unsatisfiable'`: answer 416 with `Content-Range: bytes * /size`.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=[ \t]*(\d*)-(\d*)[ \t]*$/i.exec(header);
  if (!m) return undefined;
  const [, first = '', last = ''] = m;
  if (first === '' && last === '') return undefined;
  if (first.length > 15 || last.length > 15) return undefined;
  if (first !== '' && last !== '' && Number(last) < Number(first)) return undefined;
  // an empty body has no byte to point at
  if (size === 0) return 'unsatisfiable';
  if (first === '') {
    // suffix range: the last N bytes
    const n = Number(last);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Number(last);
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}
