import { IntegrityError } from '../../errors.js';
import { quoteInput } from '../../util/oneLine.js';
import { RELEASE_NAME } from './releaseName.js';
import { releasePin } from './readUpstreamIndexes.js';

/** What a mirror's lock gives of one suite, which its Release repeats (AptMirrorLock.suites). */
export interface MirrorSuiteFields {
  suite: string;
  date: string;
  pin?: 1 | 100;
  releaseSuite?: string;
  codename?: string;
}

/**
 * One suite of a mirror's lock as `ferry lock` derives it from the upstream's signed Releases of that suite
 * (`fields`: one per upstream, in the order apt reads them): dated by the newest Date (the bundle `epoch`
 * when none gives one), the lowest pin (NotAutomatic 1, with ButAutomaticUpgrades 100; 500 is not
 * written), and the first Release's Suite and Codename when they are one word and not the folder's name.
 */
export function mirrorSuiteFields(suite: string, fields: ReadonlyArray<ReadonlyMap<string, string>>, epoch: Date): MirrorSuiteFields {
  const dates = fields.map((f) => Date.parse((f.get('Date') ?? '').replace(/UTC$/, 'GMT')));
  const newest = Math.max(...dates.filter((d) => Number.isFinite(d)));
  // a NotAutomatic suite (backports, experimental) stays one on the hosts: apt's default pin as the upstream gives it
  const pin = Math.min(...fields.map((f) => releasePin(f)));
  // the upstream's Suite and Codename (stable, bookworm), which hosts' pins and apt-get -t name, when they are not the folder's name
  const named = (field: string) => {
    const value = fields[0]?.get(field)?.trim();
    return value !== undefined && value !== suite && RELEASE_NAME.test(value) ? value : undefined;
  };
  const [releaseSuite, codename] = [named('Suite'), named('Codename')];
  return {
    suite,
    date: (Number.isFinite(newest) ? new Date(newest) : epoch).toISOString(),
    ...(pin === 1 || pin === 100 ? { pin: pin as 1 | 100 } : {}),
    ...(releaseSuite ? { releaseSuite } : {}),
    ...(codename ? { codename } : {}),
  };
}

/**
 * build --locked: a suite of a mirror's lock gives what its Release will say, so it must be what the
 * upstream's signed Releases of that suite give (`signed`, mirrorSuiteFields of the Releases the build
 * read): the same pin (a lock that drops NotAutomatic would make hosts take a backports or experimental
 * suite by default), Suite and Codename (a lock naming another suite `bookworm` would take over hosts'
 * pins and `apt-get -t`), and a date no later than the signed one's. An earlier date is a lock made
 * before the upstream signed a newer Release that still lists every locked file (its Date changes at
 * every re-signing), which the build takes as it takes those files; a later one would date the mirror
 * after anything the upstream signed (hosts ignore a Release older than the one they have: a mirror dated
 * 2099 would hide every later refresh). Throws one line naming the first field that differs
 * (IntegrityError, exit 67).
 */
export function checkLockedSuiteFields(where: string, locked: MirrorSuiteFields, signed: MirrorSuiteFields): void {
  const shown = (v: string | number | undefined) => (v === undefined ? 'none' : typeof v === 'number' || RELEASE_NAME.test(v) || /^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(v) ? String(v) : quoteInput(v, 100));
  const differs = (field: string, lockValue: string | number | undefined, signedValue: string | number | undefined, what: string) =>
    new IntegrityError(
      `${where}: suite ${shown(locked.suite)}: the lock gives ${field} ${shown(lockValue)}, the upstream's signed Release gives ${shown(signedValue)} (${what}); run ferry lock again and review the diff`,
    );
  if (locked.pin !== signed.pin) throw differs('pin', locked.pin ?? 500, signed.pin ?? 500, 'NotAutomatic, ButAutomaticUpgrades');
  if (locked.releaseSuite !== signed.releaseSuite) throw differs('releaseSuite', locked.releaseSuite, signed.releaseSuite, 'its Suite when not the folder\'s name');
  if (locked.codename !== signed.codename) throw differs('codename', locked.codename, signed.codename, 'its Codename when not the folder\'s name');
  if (Date.parse(locked.date) > Date.parse(signed.date)) throw differs('date', locked.date, signed.date, 'a mirror may not be dated after the newest Release the upstream signed');
}
