import { constants } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import yauzl from 'yauzl';
import { SpecError, UsageError } from '../errors.js';
import { SEVERITIES, normalizePyPIName, toSeverity, type Advisory, type AdvisoryRange, type Severity } from './advisory.js';
import { cvssSeverity } from './cvss.js';
import { nameSome, parseErrorReason } from '../util/oneLine.js';
import { tooDenseToParse } from '../util/tooDenseToParse.js';
import { openRegularFile } from '../util/readRegularFile.js';

/**
 * one OSV record or tracker file is kilobytes to a few hundred megabytes; beyond that it is not data (and
 * past the longest string Node makes, it could not be parsed at all)
 */
const MAX_JSON_BYTES = Math.min(512 * 1024 * 1024, constants.MAX_STRING_LENGTH);
const ZIP_MAGIC = Buffer.from('PK\x03\x04', 'latin1');
/**
 * all the JSON files of one zip together: OSV's per-ecosystem archives hold some hundreds of megabytes.
 * Each file is bounded by MAX_JSON_BYTES, but a zip of small size may list thousands of them (entries
 * that share one compressed stream: 100 KB holding 20 files of 100 MB took 21 s to inflate and parse,
 * 65,535 of them would take most of a day), so their sum is bounded too, before any is read.
 */
const MAX_ZIP_JSON_BYTES = 4 * 1024 * 1024 * 1024;

/**
 * Read vulnerability data carried across the gap: an OSV archive (a zip of JSON records, as OSV
 * publishes per ecosystem), one OSV record or an array of them, or Debian's security tracker JSON
 * (package → CVE → releases → status, fixed_version, urgency). `suite` picks the tracker's release;
 * `named` says where it came from in a refusal (`--suite bookworm`, or the SBOM's purls).
 */
export async function loadVulnDb(file: string, suite?: string, named = `--suite ${suite}`): Promise<Advisory[]> {
  let data: Buffer;
  try {
    const { zip, size } = await peek(file);
    if (zip) {
      // each record parsed as it is read: only the advisories stay in memory, not every file's text
      const out: Advisory[] = [];
      const found = { records: 0, ecosystems: new Set<string>() };
      await readZipJson(file, (name, bytes) => void out.push(...fromOsv(parseJson(bytes, `${file}: ${name}`), `${file}: ${name}`, found)));
      return coveredOsv(out, found, file);
    }
    if (size > MAX_JSON_BYTES) throw new SpecError(`${file}: ${size} bytes; refusing JSON of more than ${MAX_JSON_BYTES}`);
    data = await readFile(file);
  } catch (err) {
    if (err instanceof SpecError || err instanceof UsageError) throw err;
    throw new UsageError(`cannot read vulnerability data ${file}: ${(err as Error).message}`);
  }
  const json = parseJson(data, file);
  if (Array.isArray(json) || (isObject(json) && typeof json.id === 'string' && Array.isArray(json.affected))) {
    const found = { records: 0, ecosystems: new Set<string>() };
    return coveredOsv(fromOsv(json, file, found), found, file);
  }
  if (isObject(json)) return fromTracker(json, file, suite, named);
  throw new SpecError(`${file}: neither OSV records nor Debian security tracker JSON`);
}

/** Debian's release numbers and codenames: OSV files Debian advisories under `Debian:12`, the tracker under `bookworm` */
export const DEBIAN_RELEASES: Record<string, string> = { buster: '10', bullseye: '11', bookworm: '12', trixie: '13', forky: '14', duke: '15' };
const DEBIAN_CODENAMES: Record<string, string> = Object.fromEntries(Object.entries(DEBIAN_RELEASES).map(([name, n]) => [n, name]));

/**
 * The Debian advisories of one release: OSV's Debian data files each release's advisories apart
 * (`Debian:11`, `Debian:12`, with that release's fixed versions), and matching a bookworm package
 * against bullseye's ranges reports wrong fixes and misses. `suite` (a codename or a number) picks the
 * release; without it the data must cover one release only. Advisories without a release (PyPI, the
 * tracker's, already read for its suite) stay.
 */
export function selectDebianRelease(advisories: Advisory[], suite: string | undefined, named = `--suite ${suite}`): Advisory[] {
  const releases = new Set(advisories.flatMap((a) => (a.release === undefined ? [] : [a.release])));
  if (releases.size === 0) return advisories;
  let chosen: string;
  if (suite === undefined) {
    if (releases.size > 1) throw new UsageError(`OSV Debian data for ${releases.size} releases (${someReleases(releases, 'Debian:')}): pass --suite NAME (e.g. bookworm or 12)`);
    chosen = [...releases][0]!;
  } else {
    chosen = DEBIAN_RELEASES[suite] ?? suite;
    if (!releases.has(chosen)) throw new UsageError(`no OSV Debian data for ${named} (Debian:${chosen}; the data covers ${someReleases(releases, 'Debian:')})`);
  }
  return advisories.filter((a) => a.release === undefined || a.release === chosen);
}

/**
 * At most one JSON value separator or container (`,` `{` `[`, counted inside strings too) per this many
 * bytes, and at most MAX_JSON_VALUES in one file: real data has one per 10 to 60 bytes (a tracker entry,
 * an OSV record's events and version lists, its prose). Parsing costs per value, not per byte: 100 MiB
 * of `{},` took 94 s and 3.3 GB; 512 MiB (under the size bound), at that rate some 17 GB, would pass V8's
 * heap limit and end the process in a crash rather than a refusal.
 */
const BYTES_PER_VALUE = 6;
const SMALL_VALUES = 1024;
const MAX_JSON_VALUES = 16 * 1024 * 1024;

/** the releases data covers, as a message names them: the first few, each cut short (the data may name thousands, of any length) */
function someReleases(releases: Set<string>, prefix = ''): string {
  return nameSome([...releases].sort().map((r) => `${prefix}${r.length > 40 ? `${r.slice(0, 40)}…` : r}`));
}

function parseJson(bytes: Buffer, label: string): unknown {
  const dense = tooDenseToParse(bytes, { bytesPer: BYTES_PER_VALUE, small: SMALL_VALUES, max: MAX_JSON_VALUES, commas: true });
  if (dense) throw new SpecError(`${label}: holds ${dense.containers} JSON values in ${bytes.length} bytes, more than vulnerability data has (${dense.allowed}): refused before parsing`);
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (err) {
    throw new SpecError(`${label}: not JSON (${parseErrorReason(err)})`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** What OSV data held: its records of the Debian or PyPI ecosystems (withdrawn ones too), and every ecosystem it named. */
interface OsvCoverage {
  records: number;
  ecosystems: Set<string>;
}

/**
 * OSV data with no record of an ecosystem ferry matches (an empty archive, npm's, a zip of something
 * else) would report every package clean: a clean report that is not one, refused (exit 65) like a
 * release the data does not cover.
 */
function coveredOsv(advisories: Advisory[], found: OsvCoverage, file: string): Advisory[] {
  if (found.records > 0) return advisories;
  const named = [...found.ecosystems].sort();
  const list = named.slice(0, 5).map((e) => JSON.stringify(e.slice(0, 40))).join(', ') + (named.length > 5 ? ` and ${named.length - 5} more` : '');
  throw new SpecError(`${file}: no OSV record of the Debian or PyPI ecosystems (${named.length > 0 ? `it names ${list}` : 'it holds no OSV record'}): this data cannot say a bundle is clean`);
}

function fromOsv(json: unknown, label: string, found: OsvCoverage): Advisory[] {
  const records = Array.isArray(json) ? json : [json];
  const out: Advisory[] = [];
  for (const rec of records) {
    if (!isObject(rec) || typeof rec.id !== 'string') throw new SpecError(`${label}: an OSV record without an id`);
    const affected = Array.isArray(rec.affected) ? rec.affected : [];
    const ecosystems = affected.flatMap((aff) => (isObject(aff) && isObject(aff.package) && typeof aff.package.ecosystem === 'string' ? [aff.package.ecosystem] : []));
    for (const e of ecosystems) if (found.ecosystems.size < 1000) found.ecosystems.add(e);
    if (ecosystems.some((e) => e === 'PyPI' || /^Debian(?::.+)?$/.test(e))) found.records++;
    // a withdrawn advisory was found to be wrong: it affects nothing
    if (rec.withdrawn !== undefined && rec.withdrawn !== null) continue;
    const recSeverity = isObject(rec.database_specific) ? rec.database_specific.severity : undefined;
    for (const aff of affected) {
      if (!isObject(aff) || !isObject(aff.package)) continue;
      const ecosystem = String(aff.package.ecosystem ?? '');
      const debian = /^Debian(?::(.+))?$/.exec(ecosystem);
      const kind = ecosystem === 'PyPI' ? 'wheel' : debian ? 'deb' : undefined;
      if (!kind || typeof aff.package.name !== 'string') continue;
      const ranges: AdvisoryRange[] = [];
      for (const range of Array.isArray(aff.ranges) ? aff.ranges : []) {
        // GIT ranges name commits, not the versions a package carries
        if (!isObject(range) || range.type === 'GIT') continue;
        const r: AdvisoryRange = { events: [], limits: [] };
        for (const ev of Array.isArray(range.events) ? range.events : []) {
          if (!isObject(ev)) continue;
          if (typeof ev.introduced === 'string') r.events.push({ introduced: ev.introduced });
          else if (typeof ev.fixed === 'string') r.events.push({ fixed: ev.fixed });
          else if (typeof ev.last_affected === 'string') r.events.push({ last_affected: ev.last_affected });
          else if (typeof ev.limit === 'string' && ev.limit !== '*') r.limits.push(ev.limit);
        }
        if (r.events.length > 0) ranges.push(r);
      }
      const affWords = isObject(aff.ecosystem_specific) ? [aff.ecosystem_specific.severity, aff.ecosystem_specific.urgency] : [];
      out.push({
        id: rec.id,
        aliases: strings(rec.aliases),
        kind,
        package: kind === 'wheel' ? normalizePyPIName(aff.package.name) : aff.package.name,
        ...(debian?.[1] !== undefined && { release: debian[1] }),
        ranges,
        versions: strings(aff.versions),
        severity: ratedSeverity([...affWords, recSeverity], [aff.severity, rec.severity]),
      });
    }
  }
  return out;
}

/**
 * An OSV advisory's severity: its database's own word (`ecosystem_specific`, then `database_specific`)
 * when one is a severity, else the highest rating of its CVSS v3/v2 vectors (the `affected` entry's `severity`, then the
 * record's): a record that scores itself only with a vector is not "unknown" to a --fail-on gate.
 */
function ratedSeverity(words: unknown[], scoreLists: unknown[]): Severity {
  // the first word that is a severity: Debian's "not yet assigned" urgency says nothing, a record-level word may
  const named = words.map(toSeverity).find((w) => w !== 'unknown');
  if (named !== undefined) return named;
  for (const list of scoreLists) {
    const rated = (Array.isArray(list) ? list : []).flatMap((s) => (isObject(s) && typeof s.type === 'string' && typeof s.score === 'string' ? [cvssSeverity(s.type, s.score) ?? 'unknown'] : []));
    const worst = rated.reduce<Severity>((w, s) => (SEVERITIES.indexOf(s) > SEVERITIES.indexOf(w) ? s : w), 'unknown');
    if (worst !== 'unknown') return worst;
  }
  return 'unknown';
}

function fromTracker(json: Record<string, unknown>, label: string, suite: string | undefined, named: string): Advisory[] {
  const suites = new Set<string>();
  for (const cves of Object.values(json)) if (isObject(cves)) for (const cve of Object.values(cves)) if (isObject(cve) && isObject(cve.releases)) for (const s of Object.keys(cve.releases)) suites.add(s);
  const chosen = suite === undefined ? (suites.size === 1 ? [...suites][0] : undefined) : (DEBIAN_CODENAMES[suite] ?? suite);
  if (!chosen) throw new UsageError(`${label}: Debian security tracker data for ${suites.size} releases (${someReleases(suites)}): pass --suite NAME`);
  // a release the data does not cover would report nothing: a clean report that is not one
  if (!suites.has(chosen)) throw new UsageError(`${label}: no Debian security tracker data for ${named} (it covers ${someReleases(suites) || 'no release'})`);
  const out: Advisory[] = [];
  for (const [pkg, cves] of Object.entries(json)) {
    if (!isObject(cves)) continue;
    for (const [id, cve] of Object.entries(cves)) {
      if (!isObject(cve) || !isObject(cve.releases)) continue;
      const rel = cve.releases[chosen];
      // undetermined: not known to be affected nor not to be; reported (FIXED "(undetermined)"), not taken as clean
      if (!isObject(rel) || rel.status === 'not-affected') continue;
      const fixed = typeof rel.fixed_version === 'string' ? rel.fixed_version : undefined;
      // the tracker's fixed_version 0 means the release never carried a vulnerable version
      if (rel.status === 'resolved' && (fixed === undefined || fixed === '0')) continue;
      out.push({ id, aliases: [], kind: 'deb', package: pkg, ranges: [{ events: [{ introduced: '0' }, ...(rel.status === 'resolved' && fixed !== undefined ? [{ fixed }] : [])], limits: [] }], versions: [], severity: toSeverity(rel.urgency), ...(rel.status === 'undetermined' && { undetermined: true as const }) });
    }
  }
  return out;
}

/** whether the file is a zip (by its first bytes), and its size */
async function peek(file: string): Promise<{ zip: boolean; size: number }> {
  // a FIFO or a device has no size to bound: /dev/zero was read into memory without end (24 GB in 16 minutes)
  const opened = await openRegularFile(file);
  if ('refused' in opened) throw new UsageError(`${file} ${opened.refused}: --db reads vulnerability data from a file`);
  const { fh, size } = opened;
  try {
    const magic = Buffer.alloc(ZIP_MAGIC.length);
    const { bytesRead } = await fh.read(magic, 0, magic.length, 0);
    return { zip: bytesRead === magic.length && magic.equals(ZIP_MAGIC), size };
  } finally {
    await fh.close();
  }
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise<yauzl.ZipFile>((resolve, reject) => yauzl.open(file, { lazyEntries: true, autoClose: false }, (err, z) => (err ? reject(err) : resolve(z!)))).catch((err: Error) => {
    throw new SpecError(`${file}: not a readable zip (${err.message})`);
  });
}

/** the JSON files a zip lists and their sizes (as its central directory declares them, which yauzl holds each file to), read without inflating any */
async function zipJsonSizes(file: string): Promise<{ files: number; bytes: number }> {
  const zip = await openZip(file);
  const sum = { files: 0, bytes: 0 };
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('entry', (e: yauzl.Entry) => {
        if (e.fileName.endsWith('.json')) {
          sum.files++;
          sum.bytes += e.uncompressedSize;
        }
        zip.readEntry();
      });
      zip.on('end', () => resolve());
      zip.on('error', reject);
      zip.readEntry();
    });
  } catch (err) {
    throw new SpecError(`${file}: not a readable zip (${(err as Error).message})`);
  } finally {
    zip.close();
  }
  return sum;
}

async function readZipJson(file: string, onJson: (name: string, bytes: Buffer) => void): Promise<void> {
  const sizes = await zipJsonSizes(file);
  if (sizes.bytes > MAX_ZIP_JSON_BYTES) throw new SpecError(`${file}: its ${sizes.files} JSON files hold ${sizes.bytes} bytes; refusing more than ${MAX_ZIP_JSON_BYTES} in one zip, before inflating any`);
  const zip = await openZip(file);
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('entry', (e: yauzl.Entry) => {
        if (!e.fileName.endsWith('.json')) return void zip.readEntry();
        if (e.uncompressedSize > MAX_JSON_BYTES) return reject(new SpecError(`${file}: ${e.fileName} is ${e.uncompressedSize} bytes; refusing more than ${MAX_JSON_BYTES}`));
        zip.openReadStream(e, async (err, stream) => {
          if (err) return reject(err);
          try {
            const chunks: Buffer[] = [];
            for await (const chunk of stream!) chunks.push(chunk as Buffer);
            onJson(e.fileName, Buffer.concat(chunks));
            zip.readEntry();
          } catch (e2) {
            reject(e2 as Error);
          }
        });
      });
      zip.on('end', () => resolve());
      zip.on('error', reject);
      zip.readEntry();
    });
  } catch (err) {
    throw err instanceof SpecError ? err : new SpecError(`${file}: not a readable zip (${(err as Error).message})`);
  } finally {
    zip.close();
  }
}
