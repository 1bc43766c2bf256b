import { join } from 'node:path';
import type { BuildContext, BundleInput, KindResult } from '../kind.js';
import { freshDigests } from '../../fetch/fetchMany.js';
import { mirrorRoot } from '../mirrorRoot.js';
import type { PythonMirrorLock } from './lockPythonMirror.js';
import { fetchMirrorSelection } from './fetchMirrorSelection.js';
import { parsePythonMirrorLock } from './pythonMirrorLockSchema.js';
import { writePep503Index } from './writePep503Index.js';

/** Inside mirrors/NAME/: the index (PEP 503 HTML and PEP 691 JSON pages) and the files it links to. */
export const MIRROR_SIMPLE_DIR = 'simple';
export const MIRROR_FILES_DIR = 'files';

/**
 * Fetch exactly the pinned files of one Python mirror (each checked against its locked sha256 as it
 * streams, the lock against the spec's selection: fetchMirrorSelection) and publish them under
 * mirrors/NAME/: files/FILE and the index simple/ (index.html and index.json per page, links carrying
 * the sha256). Same lock, same bytes.
 */
export async function publishPythonMirror(name: string, section: PythonMirrorLock, ctx: BuildContext): Promise<KindResult> {
  const lock = parsePythonMirrorLock(section, name);
  const got = await fetchMirrorSelection(name, lock, ctx.spec.mirrors.python[name]!, ctx);
  const root = mirrorRoot(name);
  const fresh = freshDigests(got);
  const entries: BundleInput[] = lock.files.map((f, i) => ({
    path: `${root}/${MIRROR_FILES_DIR}/${f.filename}`,
    file: got[i]!.path,
    kind: 'mirror',
    services: [],
    known: { sha256: f.sha256, size: f.size },
    verified: fresh.has(f.sha256),
  }));
  const pages = writePep503Index(
    lock.files.map((f) => ({ project: f.project, filename: f.filename, sha256: f.sha256, requiresPython: f.requires_python, yanked: f.yanked, size: f.size, version: f.version })),
    join(ctx.workDir, root),
    { simpleDir: MIRROR_SIMPLE_DIR, json: true },
  );
  for (const page of pages) entries.push({ path: `${root}/${page.path}`, file: page.file, kind: 'mirror', services: [] });
  // the purl library (~10 ms to load) loads after the downloads, not before the first request
  const { pypiPurl } = await import('../../sbom/purl.js');
  return {
    entries,
    artifacts: {
      index: `${MIRROR_SIMPLE_DIR}/`,
      targets: lock.targets,
      files: lock.files.map((f) => ({ project: f.project, version: f.version, filename: f.filename })),
    },
    components: lock.files.map((f) => {
      const purl = pypiPurl(f.project, f.version, f.filename);
      return { ref: purl, type: 'library' as const, name: f.project, version: f.version, purl, sha256: f.sha256, path: `${root}/${MIRROR_FILES_DIR}/${f.filename}`, services: [] };
    }),
  };
}
