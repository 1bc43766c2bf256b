import { readFile } from 'node:fs/promises';
import { isMissing } from '../../util/isMissing.js';

export interface InstalledDeb {
  name: string;
  version: string;
  architecture: string;
}

/**
 * The packages a dpkg status file records as installed ("Status: install ok installed"), sorted. Only
 * the four fields this needs are read; a status file that is not there (mmdebstrap's extract variant
 * installs nothing) gives none.
 */
export async function readDpkgStatus(file: string): Promise<InstalledDeb[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
  const out: InstalledDeb[] = [];
  for (const paragraph of text.split(/\n[ \t]*\n/)) {
    const f = new Map<string, string>();
    for (const m of paragraph.matchAll(/^(Package|Version|Architecture|Status):[ \t]*(.*?)[ \t]*$/gim)) f.set(m[1]!.toLowerCase(), m[2]!);
    const [name, version, architecture, status] = ['package', 'version', 'architecture', 'status'].map((k) => f.get(k));
    if (name && version && architecture && status?.split(/\s+/)[2] === 'installed') out.push({ name, version, architecture });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.architecture < b.architecture ? -1 : 1));
}
