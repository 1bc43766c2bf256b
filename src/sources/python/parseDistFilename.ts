import { normalizeProjectName } from './normalizeProjectName.js';

export interface WheelName {
  kind: 'wheel';
  filename: string;
  /** normalized project name */
  project: string;
  version: string;
  /** build tag, compared first by its number (PEP 427); 0 when absent */
  build: { number: number; rest: string } | undefined;
  /** every tag the file declares, compressed sets expanded ("py2.py3-none-any" gives two) */
  tags: string[];
}

export interface SdistName {
  kind: 'sdist';
  filename: string;
  project: string;
  version: string;
}

const SDIST_SUFFIXES = ['.tar.gz', '.zip', '.tar.bz2', '.tar.xz', '.tgz', '.tar'];

/**
 * Name, version and tags of a distribution file from its name alone (PEP 427 wheels, PEP 625 sdists).
 * `project` (normalized) disambiguates legacy sdist names, where the name itself may contain "-".
 * Returns undefined for files that are neither (eggs, .exe installers, .msi...).
 */
export function parseDistFilename(filename: string, project?: string): WheelName | SdistName | undefined {
  if (filename.endsWith('.whl')) return parseWheel(filename);
  const suffix = SDIST_SUFFIXES.find((s) => filename.toLowerCase().endsWith(s));
  if (!suffix) return undefined;
  const stem = filename.slice(0, -suffix.length);
  if (project) {
    // legacy sdists: "Foo-Bar-1.0.tar.gz"; find the "-" after which the version starts
    for (let i = stem.indexOf('-'); i > 0; i = stem.indexOf('-', i + 1)) {
      if (normalizeProjectName(stem.slice(0, i)) === project) return { kind: 'sdist', filename, project, version: stem.slice(i + 1) };
    }
    return undefined;
  }
  const dash = stem.lastIndexOf('-');
  if (dash <= 0) return undefined;
  return { kind: 'sdist', filename, project: normalizeProjectName(stem.slice(0, dash)), version: stem.slice(dash + 1) };
}

function parseWheel(filename: string): WheelName | undefined {
  const parts = filename.slice(0, -'.whl'.length).split('-');
  if (parts.length !== 5 && parts.length !== 6) return undefined;
  const [name, version] = parts as [string, string];
  let build: WheelName['build'];
  if (parts.length === 6) {
    const m = /^(\d+)(.*)$/.exec(parts[2]!);
    if (!m) return undefined; // a build tag must start with a digit
    build = { number: Number(m[1]), rest: m[2]! };
  }
  const [pys, abis, plats] = parts.slice(-3) as [string, string, string];
  const tags: string[] = [];
  for (const py of pys.split('.')) for (const abi of abis.split('.')) for (const plat of plats.split('.')) tags.push(`${py}-${abi}-${plat}`);
  if (!name || !version || tags.length === 0) return undefined;
  return { kind: 'wheel', filename, project: normalizeProjectName(name), version, build, tags };
}
