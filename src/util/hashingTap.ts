import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

/**
 * A pass-through stream that hashes and counts what flows through it, for checking bytes on their way.
 * `feed` hashes bytes that do not flow on (the rest of a file its reader stopped taking).
 */
export function hashingTap(): { stream: Transform; feed: (chunk: Buffer) => void; passed: () => number; result: () => { sha256: string; size: number } } {
  const hash = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const feed = (chunk: Buffer): void => {
    hash.update(chunk);
    size += chunk.length;
  };
  return { stream, feed, passed: () => size, result: () => ({ sha256: hash.digest('hex'), size }) };
}
