import pMap from 'p-map';
import { FerryError, FetchError, IntegrityError } from '../errors.js';
import { formatBytes } from '../ui/log.js';
import { fetchToCache, type FetchOptions, type FetchRequest, type FetchResult } from './fetchToCache.js';
import { downloadLimits } from './downloadLimits.js';
import { toFetchError } from './toFetchError.js';
import { joinProblems } from '../util/oneLine.js';

export interface FetchManyOptions extends Omit<FetchOptions, 'onBytes'> {
  /** downloads running at once (BuildContext.jobs) */
  concurrency: number;
  /** progress label (default "downloading") */
  label?: string;
}

/**
 * Fetch many files into the cache, at most `concurrency` at a time; results are in input order.
 *
 * One failure does not stop the others: every request is tried, then all failures are reported at
 * once (a build that fails on 3 of 500 packages should name all 3, not make the user rerun three
 * times). A single failure is rethrown as is; several become one error of the gravest class among
 * them (IntegrityError before FetchError), one line naming the first five with their URLs and counting
 * the rest, with every original in `cause`.
 */
export async function fetchMany(reqs: readonly FetchRequest[], opts: FetchManyOptions): Promise<FetchResult[]> {
  const { concurrency, label = 'downloading', ...fetchOpts } = opts;
  // a limit set wrong in the environment is the caller's mistake (exit 64), not one failure per download
  downloadLimits();
  const sizes = reqs.map((r) => r.size);
  const byBytes = sizes.every((s) => s !== undefined);
  const total = byBytes ? sizes.reduce<number>((a, s) => a + (s ?? 0), 0) : reqs.length;
  let done = 0;
  const report = reqs.length > 1 ? opts.log : undefined;
  report?.progress(label, 0, total, byBytes ? 'bytes' : 'items');

  const settled = await pMap(
    reqs,
    async (req) => {
      // bytes from the network move the bar as they arrive; a cache hit moves it by its size at once
      let streamed = 0;
      const onBytes = (n: number) => {
        streamed += n;
        if (byBytes) report?.progress(label, (done += n), total, 'bytes');
      };
      try {
        const result = await fetchToCache(req, { ...fetchOpts, onBytes });
        done += byBytes ? result.size - streamed : 1;
        report?.progress(label, done, total, byBytes ? 'bytes' : 'items');
        return { ok: true as const, result };
      } catch (error) {
        return { ok: false as const, req, error };
      }
    },
    { concurrency, signal: opts.signal },
  );

  const failures = settled.filter((s) => !s.ok);
  if (failures.length === 0) {
    const results = settled.map((s) => (s as { result: FetchResult }).result);
    if (report) {
      const fetched = results.filter((r) => !r.fromCache);
      const sum = (rs: FetchResult[], f: (r: FetchResult) => number) => rs.reduce((a, r) => a + f(r), 0);
      report.info(
        `${label}: ${fetched.length} fetched (${formatBytes(sum(fetched, (r) => r.fetchedBytes))}), ` +
          `${results.length - fetched.length} from cache (${formatBytes(sum(results, (r) => (r.fromCache ? r.size : 0)))})`,
      );
    }
    return results;
  }
  const errors = failures.map((f) => toFetchError(f.req.url, f.error));
  if (errors.length === 1) throw errors[0]!;
  const message = `${errors.length} of ${reqs.length} downloads failed: ${joinProblems(errors.map((e) => e.message))}`;
  const cause = new AggregateError(errors, message);
  if (errors.some((e) => e instanceof IntegrityError)) throw new IntegrityError(message, { cause });
  if (errors.every((e) => e instanceof FetchError)) {
    throw new FetchError(message, { cause, transient: errors.every((e) => (e as FetchError).transient) });
  }
  throw new FerryError(message, { cause });
}

/**
 * The digests of the files these results downloaded now, each checked against its digest as it streamed
 * (BundleInput.verified): not those the cache already held, which packing hashes again.
 */
export function freshDigests(results: readonly FetchResult[]): Set<string> {
  return new Set(results.filter((r) => !r.fromCache).map((r) => r.sha256));
}
