import { DeployError } from '../errors.js';
import { globMatches } from '../util/globMatches.js';
import { nameSome, quoteInput } from '../util/oneLine.js';
import type { Fact } from './fact.js';
import type { FactRead } from './readFacts.js';

/**
 * The fact of another release's service on a host: the host runs service S of release A, and a deploy of
 * release B (another name) that also has a service S would write over A's files and fact there, silently (a
 * plan said `version 1.0.0 -> 7.0`, and afterwards `rollback A` found no host running A). Unless the operator
 * names A with --take-over (names or globs, as ferry_releases takes them). A retired fact is not live (A itself no longer gives the host S), and a fact that
 * cannot be read names no release: neither is one.
 */
export function takenOver(read: FactRead | undefined, releaseName: string, takeOver: readonly string[] | undefined): Fact | undefined {
  const f = read?.fact;
  if (!f || f.retired || f.release.name === releaseName || takeOver?.some((g) => globMatches(g, f.release.name))) return undefined;
  return f;
}

/** A name or version read from a host's fact, in a message: as it is when plain, else quoted and escaped. */
export function shown(s: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9._+~:-]{0,99}$/.test(s) ? s : quoteInput(s);
}

/** The reason ferry plan gives for a service whose deploy is refused as a takeover. */
export function takeOverReason(f: Fact, release: { name: string; version: string }): string {
  return `takeover refused: ${f.service} here is ${shown(f.release.name)} ${shown(f.release.version)}'s, not ${release.name}'s; deploying ${release.name} ${release.version} would replace it (pass --take-over ${shown(f.release.name)} if that is meant)`;
}

/**
 * One line refusing a deploy of `release` that would take over services of other releases: each host and
 * service, the release running there and the one asked for, and the way to mean it.
 */
export function refuseTakeovers(found: Array<{ host: string; fact: Fact }>, release: { name: string; version: string }): void {
  if (!found.length) return;
  const others = [...new Set(found.map((t) => shown(t.fact.release.name)))];
  const where = found.map((t) => `${t.host}/${t.fact.service} (${shown(t.fact.release.name)} ${shown(t.fact.release.version)})`);
  throw new DeployError(
    `${release.name} ${release.version} would take over services another release runs: ${nameSome(where)}; nothing was done: pass --take-over ${others.join(',')} to replace ${others.length > 1 ? 'them' : 'it'}, or leave those hosts or services out (--limit, --services)`,
  );
}
