import { isAbsolute, resolve } from 'node:path';
import type * as openpgp from 'openpgp';
import { SpecError } from '../../errors.js';
import { parsePublicKeys, readKeyring } from '../../pgp/keyring.js';
import type { AptUpstream } from '../../specfile/schema.js';
import { readSystemSources, systemTrustedKeyrings } from './readSystemSources.js';

/** One upstream repository to read: a base URI, its suites and components, and the keys that sign it. */
export interface AptUpstreamSource {
  uri: string;
  suites: string[];
  components: string[];
  keys: openpgp.PublicKey[];
  /** where the entry came from (spec or the machine's sources file), for messages */
  from: string;
  /** false: a Release past its Valid-Until is taken (check_valid_until: false, or the source's check-valid-until=no) */
  checkValidUntil: boolean;
}

/**
 * Expand upstream entries (spec.upstreams.apt, a mirror's upstream) into concrete sources. `uri: system` stands for every `deb` source of the
 * build machine (ETC/sources.list and sources.list.d) with the keyrings apt would use for each; a
 * `suites` list on it keeps only those suites, and each source's own check-valid-until option counts
 * unless the entry sets check_valid_until. An explicit URI must name its keyring: trusting
 * whatever the build machine trusts is apt's habit, not a reviewable choice.
 */
export async function loadAptUpstreams(
  list: AptUpstream[],
  opts: { defaultSuite?: string; baseDir: string; where: string; etc?: string },
): Promise<AptUpstreamSource[]> {
  const { defaultSuite, baseDir, etc = '/etc/apt' } = opts;
  const out: AptUpstreamSource[] = [];
  for (const [i, up] of list.entries()) {
    const where = `${opts.where}[${i}]`;
    if (up.uri === 'system') {
      const system = await readSystemSources(etc);
      const globalKeys = await readKeyring(await systemTrustedKeyrings(etc));
      let n = 0;
      for (const s of system) {
        const suites = up.suites ? s.suites.filter((x) => up.suites!.includes(x)) : s.suites;
        if (suites.length === 0) continue;
        let keys = globalKeys;
        if (s.signedBy && 'files' in s.signedBy) keys = await readKeyring(s.signedBy.files);
        else if (s.signedBy) keys = await parsePublicKeys(Buffer.from(s.signedBy.armored), `${s.from} Signed-By`);
        out.push({ uri: s.uri, suites, components: s.components, keys, from: s.from, checkValidUntil: up.check_valid_until ?? s.checkValidUntil });
        n++;
      }
      if (n === 0) throw new SpecError(`${where}: uri "system" but ${etc} has no matching deb sources${up.suites ? ` for suites ${up.suites.join(', ')}` : ''}`);
      continue;
    }
    if (!up.keyring) throw new SpecError(`${where}: ${up.uri} needs a keyring (the .gpg or .asc file of the key that signs its InRelease)`);
    const suites = up.suites ?? (defaultSuite ? [defaultSuite] : []);
    if (suites.length === 0) throw new SpecError(`${where}: name its suites, or set targets.debian.suite`);
    const files = (Array.isArray(up.keyring) ? up.keyring : [up.keyring]).map((k) => (isAbsolute(k) ? k : resolve(baseDir, k)));
    out.push({ uri: up.uri, suites, components: up.components, keys: await readKeyring(files), from: where, checkValidUntil: up.check_valid_until ?? true });
  }
  return out;
}
