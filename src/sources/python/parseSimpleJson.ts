import { FetchError } from '../../errors.js';
import { checkLinkScheme, filenameFromUrl, fragmentHash, fragmentSha256, metadataAvailability, pythonTruthy, type IndexFile } from './indexFile.js';
import { parseErrorReason } from '../../util/oneLine.js';

/** The files of a PEP 691 project page (application/vnd.pypi.simple.v1+json), URLs resolved against the page. */
export function parseSimpleJson(text: string, pageUrl: string): IndexFile[] {
  let doc: { meta?: { 'api-version'?: string }; files?: unknown[] };
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new FetchError(`${pageUrl}: the index answered with JSON that does not parse (${parseErrorReason(err)})`);
  }
  // any JSON may come back (null, a list, a string): only an object's fields count
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new FetchError(`${pageUrl}: PEP 691 page that is not a JSON object`);
  const meta = typeof doc.meta === 'object' && doc.meta !== null ? doc.meta : {};
  const apiVersion = meta['api-version'] ?? '';
  if (!/^1\.\d+$/.test(apiVersion)) throw new FetchError(`${pageUrl}: PEP 691 api-version "${apiVersion}" is not 1.x; ferry reads version 1`);
  if (!Array.isArray(doc.files)) throw new FetchError(`${pageUrl}: PEP 691 page without a "files" list`);
  const files: IndexFile[] = [];
  for (const raw of doc.files as Array<Record<string, unknown>>) {
    if (typeof raw !== 'object' || raw === null || typeof raw.url !== 'string') continue;
    let url: URL;
    try {
      url = new URL(raw.url, pageUrl);
    } catch {
      continue;
    }
    checkLinkScheme(url, pageUrl);
    // a hash in the URL's fragment wins over the "hashes" object, as pip's Link merges them
    const linked = fragmentSha256(url.hash);
    const linkedHash = fragmentHash(url.hash);
    url.hash = '';
    const hashes = (typeof raw.hashes === 'object' && raw.hashes !== null ? raw.hashes : {}) as Record<string, unknown>;
    // the name is the URL's, as pip 23.2 takes it (Link.from_json ignores "filename"): a page whose
    // "filename" says otherwise cannot make ferry carry another file than the one pip would
    const file: IndexFile = { filename: filenameFromUrl(url), url: url.href };
    if (linked) file.sha256 = linked;
    else if (typeof hashes.sha256 === 'string' && /^[0-9a-fA-F]{64}$/.test(hashes.sha256)) file.sha256 = hashes.sha256.toLowerCase();
    // as pip's Link: every entry of "hashes" (any algorithm; a value that is no string matches no pin), the fragment's over them
    const pageHashes: Record<string, string> = Object.fromEntries(Object.entries(hashes).map(([alg, v]) => [alg, typeof v === 'string' ? v : JSON.stringify(v)]));
    if (linkedHash) pageHashes[linkedHash[0]] = linkedHash[1];
    if (Object.keys(pageHashes).length) file.pageHashes = pageHashes;
    if (typeof raw['requires-python'] === 'string' && raw['requires-python']) file.requiresPython = raw['requires-python'];
    // PEP 691 wants true or a non-empty reason; pip 23.2 reads any value Python holds true as yanked (a
    // string as the reason, 1 or [0] with none) and any it holds false ("", 0, [], {}) as not, and so does ferry
    if (typeof raw.yanked === 'string') {
      if (raw.yanked !== '') file.yanked = raw.yanked;
    } else if (pythonTruthy(raw.yanked)) file.yanked = '';
    const md = metadataAvailability(raw['core-metadata'] ?? raw['dist-info-metadata'], 'json');
    if (md) file.metadata = md;
    if (typeof raw.size === 'number' && Number.isSafeInteger(raw.size) && raw.size >= 0) file.size = raw.size;
    // PEP 700: an ISO 8601 UTC time ("2026-11-20T10:00:00.123456Z"); one that does not parse is as absent
    const uploaded = typeof raw['upload-time'] === 'string' ? Date.parse(raw['upload-time']) : NaN;
    if (Number.isFinite(uploaded)) file.uploadTime = uploaded;
    files.push(file);
  }
  return files;
}
