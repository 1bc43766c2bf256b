import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { aptBool } from './aptBool.js';
import { field, parseControl } from './parseControl.js';

/** One `deb` source line or stanza of the machine's apt configuration. */
export interface SystemSource {
  uri: string;
  suites: string[];
  components: string[];
  /** Signed-By: keyring files, or an inline armored key block */
  signedBy?: { files: string[] } | { armored: string };
  /** where it was read from, for messages */
  from: string;
  /** false when the source says check-valid-until=no (one-line option, or deb822 Check-Valid-Until) */
  checkValidUntil: boolean;
}

/**
 * The build machine's apt sources: deb822 `.sources` files and one-line `.list` files under
 * ETC/sources.list.d, plus ETC/sources.list. Only `deb` entries count (not deb-src); disabled stanzas
 * (`Enabled: no`) are skipped. Sources without Signed-By are trusted through the machine's global
 * keyrings, see systemTrustedKeyrings().
 */
export async function readSystemSources(etc = '/etc/apt'): Promise<SystemSource[]> {
  const out: SystemSource[] = [];
  const dir = join(etc, 'sources.list.d');
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  for (const file of [join(etc, 'sources.list'), ...names.map((n) => join(dir, n))]) {
    if (file.endsWith('.sources')) out.push(...parseDeb822Sources(await readFile(file, 'utf8'), file));
    else if (file.endsWith('.list')) out.push(...parseOneLineSources(await readFile(file, 'utf8').catch(() => ''), file));
  }
  return out;
}

function parseDeb822Sources(text: string, from: string): SystemSource[] {
  const out: SystemSource[] = [];
  for (const p of parseControl(text)) {
    const types = (field(p, 'Types') ?? '').split(/\s+/);
    if (!types.includes('deb') || field(p, 'Enabled') === 'no') continue;
    const signedBy = field(p, 'Signed-By');
    for (const uri of (field(p, 'URIs') ?? '').split(/\s+/).filter(Boolean)) {
      const src: SystemSource = {
        uri,
        suites: (field(p, 'Suites') ?? '').split(/\s+/).filter(Boolean),
        components: (field(p, 'Components') ?? '').split(/\s+/).filter(Boolean),
        from,
        checkValidUntil: aptBool(field(p, 'Check-Valid-Until'), true),
      };
      if (signedBy) src.signedBy = signedBy.includes('BEGIN PGP') ? { armored: signedBy.replace(/^ \.$/gm, '').replace(/^ /gm, '') } : { files: signedBy.split(/\s+/).filter(Boolean) };
      out.push(src);
    }
  }
  return out;
}

function parseOneLineSources(text: string, from: string): SystemSource[] {
  const out: SystemSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line.startsWith('deb ') && !line.startsWith('deb\t')) continue;
    let rest = line.slice(3).trim();
    let options = '';
    const opt = /^\[([^\]]*)\]\s*/.exec(rest);
    if (opt) {
      options = opt[1]!;
      rest = rest.slice(opt[0].length);
    }
    const [uri, suite, ...components] = rest.split(/\s+/);
    if (!uri || !suite) continue;
    const checkValidUntil = /(?:^|\s)check-valid-until=(\S+)/.exec(options)?.[1];
    const src: SystemSource = { uri, suites: [suite], components, from, checkValidUntil: aptBool(checkValidUntil, true) };
    const signed = /(?:^|\s)signed-by=(\S+)/.exec(options);
    if (signed) src.signedBy = { files: signed[1]!.split(',') };
    out.push(src);
  }
  return out;
}

/** The keyrings apt trusts for sources without Signed-By. */
export async function systemTrustedKeyrings(etc = '/etc/apt'): Promise<string[]> {
  const files: string[] = [];
  const legacy = join(etc, 'trusted.gpg');
  if ((await readFile(legacy).catch(() => undefined))?.length) files.push(legacy);
  const dir = join(etc, 'trusted.gpg.d');
  for (const n of (await readdir(dir).catch(() => [] as string[])).sort()) if (/\.(gpg|asc)$/.test(n)) files.push(join(dir, n));
  return files;
}
