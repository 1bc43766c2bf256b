import { UsageError } from '../errors.js';

/**
 * `--serial`: a count ("1"), a percentage of the hosts ("25%"), or a ramp ("1,5,25%") whose last
 * size repeats until every host had its turn. Returns the batch sizes for `total` hosts.
 */
export function parseSerial(spec: string, total: number): number[] {
  const parts = spec.split(',').map((s) => s.trim());
  const sizes = parts.map((p) => {
    const m = /^(\d+)(%?)$/.exec(p);
    if (!m || Number(m[1]) === 0 || (m[2] && Number(m[1]) > 100)) {
      throw new UsageError(`--serial ${spec}: "${p}" is not a host count or a percentage from 1% to 100%; examples: 1, 25%, 1,5,25%`);
    }
    return m[2] ? Math.max(1, Math.floor((total * Number(m[1])) / 100)) : Number(m[1]);
  });
  const out: number[] = [];
  let left = total;
  for (let i = 0; left > 0; i++) {
    const n = Math.min(left, sizes[Math.min(i, sizes.length - 1)]!);
    out.push(n);
    left -= n;
  }
  return out;
}
