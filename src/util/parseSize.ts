import { UsageError } from '../errors.js';

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  // media are sold in decimal units: a "4.7 GB" DVD holds 4.7e9 bytes, not 4.7 GiB
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
};

/** "700M", "4.7GB", "1GiB", "65536": a byte count. K/M/G/T and KiB/MiB/... are binary, KB/MB/GB/TB decimal. */
export function parseSize(text: string, what = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new UsageError(`${what} ${JSON.stringify(text)} is not a size: use bytes or a number with K, M, G, T (binary) or KB, MB, GB, TB (decimal), e.g. 700M or 4.7GB`);
  }
  const n = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${what} ${JSON.stringify(text)} must be a positive number of bytes`);
  return n;
}
