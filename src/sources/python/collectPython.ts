import { excludedFormat, type FormatControl } from './formatControl.js';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { BuildContext, BundleInput, KindResult } from '../kind.js';
import { IntegrityError, SpecError } from '../../errors.js';
import { fetchMany, freshDigests } from '../../fetch/fetchMany.js';
import { PYTHON_FILES_DIR, PYTHON_SIMPLE_DIR, writePep503Index } from './writePep503Index.js';
import type { PythonLock } from './lockPython.js';
import { parsePythonLock } from './pythonLockSchema.js';
import { checkLockedFileUrls } from './checkLockedFileUrls.js';
import { parseDistFilename } from './parseDistFilename.js';
import type { Pin } from './parseRequirementsFile.js';
import { normalizeProjectName } from './normalizeProjectName.js';
import { sameVersion } from './sameVersion.js';
import { pinAdmits } from './selectFile.js';
import { checkCarriedMetadata, plannedPython } from './lockPython.js';
import { parseCoreMetadata, type CoreMetadata } from './parseCoreMetadata.js';
import { readWheelFiles } from './readWheelMetadata.js';
import { checkWheelTags } from './checkWheelTags.js';
import { lockMatchesSpec } from '../../specfile/lockMatchesSpec.js';
import { quoteInput } from '../../util/oneLine.js';
import { admitsPython } from './admitsPython.js';

/** Where each service's requirements (as installed) go inside the bundle. */
export const PYTHON_REQUIREMENTS_DIR = 'python/requirements';

/**
 * What hosts need to install a service's wheels: `pip install --require-hashes -r` the requirements with
 * `--index-url BUNDLE/python/simple/`, or `--no-index --find-links BUNDLE/python/files`.
 */
export interface PythonServiceArtifacts {
  /** requirements text: one `name==version --hash=sha256:...` per carried file */
  requirements: string;
  /** the same text as a bundle entry: python/requirements/SERVICE.txt */
  file: string;
  /** the bundle's index, relative to the bundle root */
  index: string;
}

/**
 * Fetch exactly the locked files (each checked against its locked sha256, which the lock checked against
 * the pinned hashes), write the static PEP 503 index for them, and return the bundle entries: wheels under
 * python/files/, pages under python/simple/, each service's requirements under python/requirements/.
 * Nothing is resolved again.
 */
export async function collectPython(section: PythonLock, ctx: BuildContext): Promise<KindResult> {
  const lock = parsePythonLock(section);
  // the lock pins the file each requirement installs; the index, the target, the packages, versions and
  // hashes are the spec's and its reviewed requirements files' (a lock that adds a package or a hash
  // would have the hosts install what nobody reviewed)
  const planned = await plannedPython(ctx);
  const plain = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;
  lockMatchesSpec('python', [plain({ index: planned.index, target: planned.target })], [plain({ index: lock.index, target: lock.target })]);
  const services = Object.keys(planned.services).sort();
  lockMatchesSpec('python services', [services], [Object.keys(lock.services).sort()]);
  for (const service of services) {
    const got = lock.services[service]!;
    lockMatchesSpec(`python services.${service}`, [plain(planned.services[service])], [plain({ requirements: got.requirements, pins: got.pins.map(({ filename: _f, ...pin }) => pin) })]);
  }
  // every file is one a pin of the spec's requirements installs, fetched from where its index may link
  checkFilesPinned(lock, planned.servicePins, ctx.spec.upstreams.python?.allow_sdist ?? false, planned.serviceFormats);
  await checkLockedFileUrls('lock: python', lock.files, planned.index);
  // the lock is reviewed text; refuse one whose files and pins disagree rather than carry it
  const byFilename = new Map(lock.files.map((f) => [f.filename, f]));
  for (const [service, { pins }] of Object.entries(lock.services)) {
    for (const pin of pins) {
      const f = byFilename.get(pin.filename);
      if (!f) throw new SpecError(`lock: python service ${service} pins ${pin.name}==${pin.version} to ${pin.filename}, which the lock's files do not list; run ferry lock again`);
      if (!pin.hashes.includes(f.sha256)) {
        throw new IntegrityError(`lock: ${f.filename} has sha256 ${f.sha256}, not one of the hashes service ${service} pins for ${pin.name}==${pin.version}; run ferry lock again and review the diff`);
      }
    }
  }
  const fetched = await fetchMany(
    lock.files.map((f) => ({ url: f.url, sha256: f.sha256, size: f.size, label: f.filename })),
    { cacheDir: ctx.cacheDir, log: ctx.log, stats: ctx.fetchStats, syncBatch: ctx.syncBatch, concurrency: Math.max(1, ctx.jobs), label: 'python files' },
  );
  const got = lock.files.map((f, i) => {
    const r = fetched[i]!;
    // the downloader checked the bytes against f.sha256; a lock edited by hand could still disagree with itself
    if (r.sha256 !== f.sha256 || r.size !== f.size) {
      throw new IntegrityError(`${f.url}: got sha256 ${r.sha256} (${r.size} bytes), the lock says ${f.sha256} (${f.size} bytes)`);
    }
    return { f, path: r.path };
  });
  const fresh = freshDigests(fetched);
  // the hosts' pip reads each wheel's own METADATA; the lock may have read the index's PEP 658 file instead
  const metadata = new Map<string, CoreMetadata>();
  for (const { f, path } of got) {
    if (f.kind !== 'wheel') continue;
    const own = await readWheelFiles(path, f.filename, ['METADATA', 'WHEEL']);
    metadata.set(f.filename, parseCoreMetadata(own.METADATA));
    checkWheelTags(f.filename, f.project, own.WHEEL);
  }
  checkCarriedMetadata(lock, metadata, planned.servicePins);

  const outDir = join(ctx.workDir, 'python-index');
  const pages = writePep503Index(
    lock.files.map((f) => ({ project: f.project, filename: f.filename, sha256: f.sha256, requiresPython: f.requires_python, yanked: f.yanked })),
    outDir,
  );
  const allServices = Object.keys(lock.services).sort();
  // the digests the lock pins, which the downloads were checked against (packing checks an older cache entry again)
  const entries: BundleInput[] = got.map(({ f, path }) => ({
    path: `${PYTHON_FILES_DIR}/${f.filename}`,
    file: path,
    kind: 'python',
    services: f.services,
    known: { sha256: f.sha256, size: f.size },
    verified: fresh.has(f.sha256),
  }));
  for (const page of pages) {
    const services = page.project === undefined ? allServices : [...new Set(lock.files.filter((f) => f.project === page.project).flatMap((f) => f.services))].sort();
    entries.push({ path: page.path, file: page.file, kind: 'python-index', services });
  }

  // per service, the requirements as installed: one hash per package, the one of the file carried
  const artifacts: Record<string, PythonServiceArtifacts> = {};
  for (const service of allServices) {
    const lines = lock.services[service]!.pins.map((p) => {
      const f = byFilename.get(p.filename)!;
      return `${p.name}${p.extras?.length ? `[${p.extras.join(',')}]` : ''}==${p.version} \\\n    --hash=sha256:${f.sha256}\n`;
    });
    const text = lines.join('');
    const path = `${PYTHON_REQUIREMENTS_DIR}/${service}.txt`;
    const file = join(outDir, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, text);
    entries.push({ path, file, kind: 'python-index', services: [service] });
    artifacts[service] = { requirements: text, file: path, index: `${PYTHON_SIMPLE_DIR}/` };
  }
  // the purl library (~10 ms to load) loads after the downloads, not before the first request
  const { pypiPurl } = await import('../../sbom/purl.js');
  const components = lock.files.map((f) => {
    const purl = pypiPurl(f.project, f.version, f.filename);
    return { ref: purl, type: 'library' as const, name: f.project, version: f.version, purl, sha256: f.sha256, path: `${PYTHON_FILES_DIR}/${f.filename}`, services: f.services };
  });
  return { entries, artifacts: { target: lock.target, services: artifacts }, components };
}

/**
 * Each file of the lock is accounted for by the spec: the file a pin of a service's requirements installs
 * (the pin of its project for the target, whose version admits the file's), given to exactly the services
 * whose pins install it, an sdist only where upstreams.python.allow_sdist is set, and no file of a format
 * the service's requirements exclude (--no-binary, --only-binary). A lock that adds a file
 * (another project, another release, a second file of a pinned release) is refused, whatever it pins:
 * the bundle would carry, index, serve and list it in the SBOM, all signed. `servicePins` are the pins
 * as plannedPython reads them from the spec's requirements, which the lock's pins were compared with.
 */
function checkFilesPinned(lock: PythonLock, servicePins: Map<string, Map<string, Pin>>, allowSdist: boolean, serviceFormats: Map<string, FormatControl>): void {
  const installedBy = new Map<string, Array<{ service: string; project: string }>>();
  for (const [service, { pins }] of Object.entries(lock.services)) {
    for (const pin of pins) installedBy.set(pin.filename, [...(installedBy.get(pin.filename) ?? []), { service, project: normalizeProjectName(pin.name) }]);
  }
  const seen = new Set<string>();
  for (const f of lock.files) {
    const refuse = (why: string) => new SpecError(`lock: python file ${f.filename} (${f.project} ${f.version}) ${why}; run ferry lock again and review the diff`);
    if (seen.has(f.filename)) throw refuse('is listed twice');
    seen.add(f.filename);
    const users = installedBy.get(f.filename) ?? [];
    if (users.length === 0) throw refuse('is installed by no requirement of the spec (no service pins it)');
    const other = users.find((u) => u.project !== f.project);
    if (other) throw refuse(`is what service ${other.service} installs for its pin of ${other.project}`);
    const services = [...new Set(users.map((u) => u.service))].sort();
    const dist = parseDistFilename(f.filename, f.project);
    if (!dist || dist.project !== f.project || dist.kind !== f.kind || !sameVersion(f.version, dist.version)) throw refuse(`is not what its name says (${dist ? `${dist.kind} of ${dist.project} ${dist.version}` : 'no distribution file name'})`);
    for (const service of services) {
      const pin = servicePins.get(service)?.get(f.project);
      if (!pin || !pinAdmits(pin, dist.version)) throw refuse(`is not a release of ${pin ? `${pin.name}${pin.arbitrary ? '===' : '=='}${pin.version}` : 'a project'} that service ${service}'s requirements pin`);
    }
    if (f.kind === 'sdist' && !allowSdist) throw refuse('is a source distribution, and upstreams.python.allow_sdist is not set');
    // the index the hosts install from gives this Requires-Python: one excluding the target would have their pip pass the file over
    if (f.requires_python !== undefined && !admitsPython(f.requires_python, lock.target.version)) {
      throw refuse(`has Requires-Python ${quoteInput(f.requires_python, 200)}, which excludes the target Python ${lock.target.version} (ferry lock never picks such a file)`);
    }
    for (const service of services) {
      const excluded = excludedFormat(serviceFormats.get(service), f.project);
      if (excluded?.format === f.kind) throw refuse(`is ${f.kind === 'wheel' ? 'a wheel' : 'a source distribution'}, which ${excluded.because} in service ${service}'s requirements excludes`);
    }
    if ([...new Set(f.services)].sort().join('\0') !== services.join('\0')) throw refuse(`goes to services ${JSON.stringify(f.services).slice(0, 200)}, the requirements of ${JSON.stringify(services)} install it`);
  }
}

