import { statfsSync } from 'node:fs';
import { FetchError, UsageError } from '../errors.js';
import { parseSize } from '../util/parseSize.js';

/**
 * The bounds on what a hostile or broken upstream can make a download cost (docs/fetch.md, "Limits"):
 * - `maxUnknown`: the most bytes a download of no expected size may have (FERRY_MAX_DOWNLOAD, default 16 GiB):
 *   an endless body would otherwise fill the cache's disk;
 * - `reserve`: the free space a streamed download leaves on the cache's file system (FERRY_CACHE_RESERVE,
 *   default 1 GiB), checked before its first byte is written and every 64 MiB after;
 * - `lowSpeedLimit` bytes per second over `lowSpeedTime` ms (FERRY_LOW_SPEED_LIMIT, default 1 KiB;
 *   FERRY_LOW_SPEED_TIME in seconds, default 60): a body slower than that on average over any such
 *   window is stopped, so a server that trickles one byte just inside the idle timeout cannot hold a
 *   download (and the command) forever. Measured from the response, checked as each chunk arrives.
 */
export interface DownloadLimits {
  maxUnknown: number;
  reserve: number;
  lowSpeedLimit: number;
  lowSpeedTime: number;
}

export function downloadLimits(env: NodeJS.ProcessEnv = process.env): DownloadLimits {
  const size = (name: string, fallback: number) => (env[name] ? parseSize(env[name], name) : fallback);
  const seconds = env.FERRY_LOW_SPEED_TIME ? Number(env.FERRY_LOW_SPEED_TIME) : 60;
  if (!(seconds > 0) || !Number.isFinite(seconds)) {
    throw new UsageError(`FERRY_LOW_SPEED_TIME ${JSON.stringify(env.FERRY_LOW_SPEED_TIME)} is not a positive number of seconds`);
  }
  return {
    maxUnknown: size('FERRY_MAX_DOWNLOAD', 16 * 1024 ** 3),
    reserve: env.FERRY_CACHE_RESERVE === '0' ? 0 : size('FERRY_CACHE_RESERVE', 1024 ** 3),
    lowSpeedLimit: size('FERRY_LOW_SPEED_LIMIT', 1024),
    lowSpeedTime: seconds * 1000,
  };
}

/** bytes received between two checks of the cache's free space */
const SPACE_CHECK_EVERY = 64 << 20;

/**
 * A check to run on every chunk of a body as it arrives (after `done` bytes of the file, `total` of them
 * expected when known): throws a FetchError when the body runs past the bound of a download of unknown
 * size, when the cache's file system (`diskDir`, for a body written to disk) has less free space than
 * the reserve plus what is still to come, or when the body is slower than the low-speed limit.
 */
export function createBodyGuard(
  url: string,
  limits: DownloadLimits,
  o: { expected: number | undefined; diskDir?: string; start: number },
): (done: number, chunk: number) => void {
  let windowStart = Date.now();
  let windowBytes = 0;
  let nextSpaceCheck = o.start;
  return (done, chunk) => {
    if (o.expected === undefined && done > limits.maxUnknown) throw tooLarge(url, done, limits.maxUnknown);
    if (o.diskDir !== undefined && done >= nextSpaceCheck) {
      nextSpaceCheck = done + SPACE_CHECK_EVERY;
      checkSpace(url, o.diskDir, limits.reserve, o.expected === undefined ? 0 : Math.max(0, o.expected - done));
    }
    windowBytes += chunk;
    const now = Date.now();
    if (now - windowStart >= limits.lowSpeedTime) {
      if (windowBytes < (limits.lowSpeedLimit * (now - windowStart)) / 1000) throw tooSlow(url, windowBytes, now - windowStart, limits);
      windowStart = now;
      windowBytes = 0;
    }
  };
}

/** Refuse a body whose announced length is over the bound of a download of unknown size. */
export function checkAnnounced(url: string, limits: DownloadLimits, announced: number): void {
  if (announced > limits.maxUnknown) throw tooLarge(url, announced, limits.maxUnknown);
}

function checkSpace(url: string, dir: string, reserve: number, toCome: number): void {
  let free: number;
  try {
    const st = statfsSync(dir);
    free = st.bavail * st.bsize;
  } catch {
    return; // the folder is made by the write that follows; its failure says what is wrong
  }
  if (free - toCome < reserve) {
    throw new FetchError(
      `${url}: the cache's file system (${dir}) has ${free} bytes free, ${toCome ? `${toCome} of them still to come for this file and ` : ''}` +
        `less than the ${reserve}-byte reserve would be left; free space there or lower FERRY_CACHE_RESERVE. Nothing of the file was kept.`,
      { url },
    );
  }
}

function tooLarge(url: string, size: number, max: number): FetchError {
  return new FetchError(
    `${url}: the body runs past ${max} bytes (${size} bytes or more), the most a download of no known size may have; ` +
      'nothing of it was kept. Check the URL; if the file really is that large, pin its size (or sha256) or raise FERRY_MAX_DOWNLOAD.',
    { url },
  );
}

function tooSlow(url: string, bytes: number, ms: number, limits: DownloadLimits): FetchError {
  return new FetchError(
    `${url}: the server sent ${bytes} bytes in ${(ms / 1000).toFixed(1)} s, below the ${limits.lowSpeedLimit} bytes/s ` +
      `over ${limits.lowSpeedTime / 1000} s a download must keep up (FERRY_LOW_SPEED_LIMIT, FERRY_LOW_SPEED_TIME). Try again later or another mirror.`,
    { url, transient: true },
  );
}
