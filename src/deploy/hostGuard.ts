import { hostname } from 'node:os';
import { DeployError } from '../errors.js';
import { nameSome } from '../util/oneLine.js';
import { type FactRead, factsScript, holderText, parseFacts } from './readFacts.js';
import { shellQuote as q } from '../util/shellQuote.js';
import type { Held, HeldBy, Transport } from './transport/types.js';

/** The second line of ferry's own policy-rc.d (after #!/bin/sh): only a file that carries it is ever removed. */
export const POLICY_MARK = '# ferry-policy-rc.d';
const READY = '@@ferry-ready';
const LOCKED = '@@ferry-locked';
const CLEANED = '@@ferry-cleaned ';
/** exit status of the guard when another run holds the host */
const LOCKED_EXIT = 75;

/** A host held for one run: its lock is taken and its facts read. */
export interface HostGuard {
  /** every fact on the host, and for each of the run's services without one, an empty read */
  facts: Map<string, FactRead>;
  /** what an earlier run had left on the host and the guard cleaned */
  cleaned: string[];
  /** the file every command of this run records its process group in */
  sessions: string;
  /** how a command of this run tells, on the host, that the run still holds it */
  held: HeldBy;
  release(): Promise<void>;
}

export class HostLockedError extends DeployError {}

/**
 * Shell that stops what a run left behind: the process groups of its sessions that still run
 * (apt-get, pip, a step's command), then ferry's own policy-rc.d (never one of the operator's).
 */
function cleanupScript(run: string): string {
  return [
    'cleanup() {',
    `  s=${q(`${run}/sessions`)}`,
    '  if [ -s "$s" ]; then',
    '    left=',
    // a line may carry a third field, the tag of its command (scriptOnStdin.ts)
    '    while read -r pg st _; do',
    '      [ -n "$pg" ] || continue',
    '      cur=$(cut -d" " -f22 /proc/$pg/stat 2>/dev/null) || continue',
    '      if [ "$cur" = "$st" ] && kill -s TERM -- "-$pg" 2>/dev/null; then left="$left $pg"; echo "' + CLEANED + 'stopped the remote commands of process group $pg"; fi',
    '    done < "$s"',
    '    for pg in $left; do i=0; while kill -0 -- "-$pg" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; kill -s KILL -- "-$pg" 2>/dev/null || true; done',
    '    : > "$s"',
    '  fi',
    `  if [ -f /usr/sbin/policy-rc.d ] && [ "$(head -n 2 /usr/sbin/policy-rc.d | tail -n 1)" = ${q(POLICY_MARK)} ]; then rm -f /usr/sbin/policy-rc.d; echo "${CLEANED}removed ferry's /usr/sbin/policy-rc.d"; fi`,
    '}',
  ].join('\n');
}

/**
 * Take the host for one run and keep it until `release`: an flock on DATA/run/lock held by a
 * command that runs as long as the runner holds its standard input (for ssh, that command carries
 * the master connection every other command of the run shares). Whoever ends it, the runner when
 * done or the kernel when the runner dies, the host then stops the run's remaining remote work and
 * removes ferry's policy-rc.d; the lock is released with the process. A second runner is refused
 * with the holder's name, pid and start time, or waits up to `waitSeconds`. `heldHere` (holder line ->
 * host names) is the run's own: a host whose lock it already holds under another name is named as such.
 */
export async function holdHost(
  transport: Transport,
  host: string,
  dataDir: string,
  factsDir: string,
  services: string[],
  opts: { waitSeconds?: number; timeoutMs?: number; heldHere?: Map<string, string[]> } = {},
): Promise<HostGuard> {
  const run = `${dataDir}/run`;
  const holder = `ferry deploy on ${hostname()} (pid ${process.pid}), started ${new Date().toISOString()}`;
  const wait = opts.waitSeconds ?? 0;
  const script = [
    `mkdir -p ${q(run)} || exit 3`,
    `command -v flock >/dev/null 2>&1 || { echo "this host has no flock (util-linux), which ferry needs to lock it for a run" >&2; exit 5; }`,
    `exec 9>>${q(`${run}/lock`)}`,
    `if ! flock ${wait > 0 ? `-w ${wait}` : '-n'} 9; then echo ${LOCKED}; cat ${q(`${run}/holder`)} 2>/dev/null; exit ${LOCKED_EXIT}; fi`,
    `echo ${q(holder)} > ${q(`${run}/holder`)}`,
    cleanupScript(run),
    'cleanup',
    // every fact, not only this release's services: a fact of a service it no longer has may be retired after it
    factsScript(factsDir, undefined),
    `echo ${READY}`,
    // until the runner closes this command's input: when it is done, or when it died
    'cat >/dev/null 2>&1',
    // the holder line first: a command of this run that checks it from now on does not run (scriptOnStdin.ts),
    // and one that passed the check before has recorded its session, which cleanup stops
    `rm -f ${q(`${run}/holder`)}`,
    'cleanup >/dev/null',
  ].join('\n');
  // registered before the host is asked: another name of the host may be refused by the holder line this
  // hold writes before this hold has answered
  const mine = opts.heldHere;
  mine?.set(holder, [...(mine.get(holder) ?? []), host]);
  const forget = () => {
    const left = mine?.get(holder)?.filter((h) => h !== host);
    if (left?.length) mine!.set(holder, left);
    else mine?.delete(holder);
  };
  // the wait for the lock counts against the command's time, not the other way round
  const held = await transport.hold(script, READY, (opts.timeoutMs ?? 30 * 60_000) + wait * 1000).catch((err: unknown) => {
    forget();
    throw err;
  });
  if (!('release' in held)) {
    forget();
    if (held.code === LOCKED_EXIT && held.stdout.includes(LOCKED)) {
      const by = holderText(held.stdout.slice(held.stdout.indexOf(LOCKED) + LOCKED.length).trim()) || 'another ferry run';
      // the holder this very run wrote under another inventory name: waiting for "that run" never ends
      // (hosts held in the same millisecond share a holder line: then it names each of them)
      const same = mine?.get(by);
      if (same) {
        const names = same.length === 1 ? `host ${same[0]}` : `one of the hosts ${nameSome(same)}`;
        throw new HostLockedError(`host ${host} is ${names} again: this run holds its lock (${run}/lock) already; two names of the inventory reach one host (through DNS or an ssh_config): keep one name per host`);
      }
      throw new HostLockedError(`host ${host} is locked by ${by}; wait for that run to finish, or pass --wait-lock SECONDS to wait for it`);
    }
    throw new DeployError(`host ${host}: cannot lock the host for this run (${run}/lock): ${held.stderr.trim() || `exit status ${held.code}`}`);
  }
  try {
    return guardOf(held, host, factsDir, services, `${run}/sessions`, { lock: `${run}/lock`, holderFile: `${run}/holder`, holder });
  } catch (err) {
    // facts refused (readFacts: more fact files than ferry writes): the hold ends here, or the run waits on it for ever
    await held.release();
    throw err;
  }
}

function guardOf(held: Held, host: string, factsDir: string, services: string[], sessions: string, heldBy: HeldBy): HostGuard {
  const cleaned = held.ready
    .split('\n')
    .filter((l) => l.startsWith(CLEANED))
    .map((l) => l.slice(CLEANED.length));
  const facts = parseFacts(held.ready, host, factsDir, undefined);
  for (const s of services) if (!facts.has(s)) facts.set(s, { fact: undefined });
  return {
    facts,
    cleaned,
    sessions,
    held: heldBy,
    release: async () => {
      await held.release();
    },
  };
}
