/**
 * At most one JSON object or array per this many bytes of a document ferry reads from a bundle (plus a
 * few for a small one). A ferry manifest has one per 50-100 bytes (an entry is an object and its services
 * an array around a 64-character digest and a path; 94 in a mirror's), its pretty-printed SBOM fewer.
 * Parsing costs per object, not per byte: 64 MiB of `[]` took 17 s and 1.4 GiB to parse, of `{}` minutes
 * with ferry's V8 settings (an SBOM of 60 MiB of `[],`: 296 s and 1.6 GiB). At this bound 64 MiB parse in
 * about 2 s and 300 MiB.
 */
const BYTES_PER_CONTAINER = 24;
const SMALL_CONTAINERS = 1024;

/** A reader's own bound, where its documents are not ferry's: the bytes each counted value may take, a few more for a small document, a cap on all, and whether `,` counts as a value too. */
export interface DensityBound {
  bytesPer: number;
  small: number;
  max?: number;
  commas?: boolean;
}

/**
 * Whether JSON text holds more objects and arrays (`{` and `[`, counted inside strings too: that only
 * makes the bound stricter; with `commas`, items too) than any ferry writes for its size, or than the
 * reader's own bound allows: then it is refused unparsed.
 */
export function tooDenseToParse(bytes: Uint8Array, bound: DensityBound = { bytesPer: BYTES_PER_CONTAINER, small: SMALL_CONTAINERS }): { containers: number; allowed: number } | undefined {
  const allowed = Math.min(bound.max ?? Infinity, bound.small + Math.floor(bytes.length / bound.bytesPer));
  let containers = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x7b || b === 0x5b || (bound.commas === true && b === 0x2c)) containers++;
  }
  return containers > allowed ? { containers, allowed } : undefined;
}
