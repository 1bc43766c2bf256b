import { DeployError } from '../errors.js';
import { shellQuote as q } from '../util/shellQuote.js';
import { Fact, factFile } from './fact.js';
import type { Transport } from './transport/types.js';

export type FactRead = { fact: Fact } | { fact: undefined; problem?: string };

const MARK = '@@ferry-fact ';

/**
 * How long a host may take to send its facts when the caller names no bound (status, plan, gc -i, the facts a
 * rollback chooses by): a host whose sshd answers but whose commands never end (a hung mount, a host out of
 * memory) keeps its connection alive, so nothing else ends the command, and one such host held the whole
 * report forever.
 */
export const FACTS_TIMEOUT_MS = 120_000;

/** Shell that prints the facts of several services, or without a list of every service the host has facts for. */
export function factsScript(factsDir: string, services: string[] | undefined): string {
  return services
    ? services.map((s) => `printf '%s\\n' ${q(MARK + s)}; cat ${q(factFile(factsDir, s))} 2>/dev/null || true; echo`).join('\n')
    : `k=0; for f in ${q(factsDir)}/*.json; do [ -f "$f" ] || continue; k=$((k + 1)); n=\${f##*/}; echo "${MARK}\${n%.json}"; [ $k -gt ${FACTS_MAX_FILES} ] && break; cat "$f"; echo; done`;
}

/**
 * The most fact files read from one host (ferry writes one per service the host has had). A host whose facts
 * folder holds thousands (junk names, hostile or not) buried status's rows of every host under them, and each
 * cost the runner a row: one with more is refused with one line, its facts not read. The script stops at the
 * first file past the bound; the runner counts the marks it gets too, before it splits the output.
 */
export const FACTS_MAX_FILES = 1000;

const HELD = '@@ferry-held ';

/**
 * Shell that prints, before the facts, who holds the host for a run now (hostGuard.ts): the first line of
 * DATA/run/holder while the kernel lists an flock on DATA/run/lock (/proc/locks). It never takes the lock
 * itself: a deploy starting at that moment would find it taken. A holder file left by a host that went down
 * mid-run names no lock, and is not printed.
 */
function heldScript(dataDir: string): string {
  const lock = q(`${dataDir}/run/lock`);
  const holder = q(`${dataDir}/run/holder`);
  return `if [ -s ${holder} ] && i=$(stat -c %i ${lock} 2>/dev/null) && awk -v i=":$i" '$2 == "FLOCK" && substr($6, length($6) - length(i) + 1) == i { f = 1 } END { exit !f }' /proc/locks 2>/dev/null; then printf '%s%s\\n' ${q(HELD)} "$(head -n 1 ${holder} | cut -c 1-300)"; fi`;
}

/**
 * The facts of the services named (without a list, of every service the host has facts for), and who holds the host for a run now (a deploy that is
 * running: a stage its facts show unfinished is the one it runs, not one a stopped run left), for status.
 */
export async function readHostStatus(transport: Transport, host: string, factsDir: string, dataDir: string, timeoutMs?: number, services?: string[]): Promise<{ facts: Map<string, FactRead>; heldBy?: string }> {
  const r = await transport.run(`${heldScript(dataDir)}\n${factsScript(factsDir, services)}`, { timeoutMs: timeoutMs ?? FACTS_TIMEOUT_MS });
  if (r.code !== 0) throw new DeployError(`host ${host}: cannot read facts in ${factsDir}: ${r.stderr.trim()}`);
  const first = r.stdout.split('\n', 1)[0]!;
  return { facts: parseFacts(r.stdout, host, factsDir, services), ...(first.startsWith(HELD) && { heldBy: holderText(first.slice(HELD.length)) }) };
}

/** The most of a lock's holder line shown (status, lock refusals, --json): ferry writes ~100 characters. */
export const HOLDER_MAX_CHARS = 300;

/**
 * A holder line as the host sent it, bounded: its first line, at most HOLDER_MAX_CHARS characters, copied out of
 * the host's output. The host's `cut` bounds it only on an honest host: one that sent a holder of 32 MiB had it
 * printed whole in status and --json, and kept in each lock refusal, the host's whole output with it.
 */
export function holderText(text: string): string {
  const line = text.split('\n', 1)[0]!;
  return Buffer.from(line.length > HOLDER_MAX_CHARS ? `${line.slice(0, HOLDER_MAX_CHARS)}…` : line).toString();
}

/**
 * Read the facts of several services (or, without a list, of every service the host has facts for)
 * in one command: one round trip per host, also on a fully deployed site.
 */
export async function readFacts(transport: Transport, host: string, factsDir: string, services: string[] | undefined, timeoutMs?: number): Promise<Map<string, FactRead>> {
  const r = await transport.run(factsScript(factsDir, services) || 'true', { timeoutMs: timeoutMs ?? FACTS_TIMEOUT_MS });
  if (r.code !== 0) throw new DeployError(`host ${host}: cannot read facts in ${factsDir}: ${r.stderr.trim()}`);
  return parseFacts(r.stdout, host, factsDir, services);
}

/**
 * What factsScript printed on `host` (other lines before the first fact are ignored). A fact another host wrote
 * (a disk image cloned from a deployed host, a facts folder copied over), or written for another service, says
 * nothing about this one (its keys were computed for the other host's variables): it is read as a problem, for
 * status as for plan and deploy, which run its stages again.
 */
export function parseFacts(stdout: string, host: string, factsDir: string, services: string[] | undefined): Map<string, FactRead> {
  const out = new Map<string, FactRead>();
  const most = FACTS_MAX_FILES + (services?.length ?? 0);
  for (let i = stdout.startsWith(MARK) ? 0 : stdout.indexOf('\n' + MARK), n = 1; i >= 0; i = stdout.indexOf('\n' + MARK, i + 1), n++) {
    if (n > most) throw new DeployError(`host ${host}: more than ${most} fact files in ${factsDir} (ferry writes one per service): its facts are not read; remove the files ferry did not write`);
  }
  const chunks = ('\n' + stdout).split('\n' + MARK).slice(1);
  for (const text of chunks) {
    const nl = text.indexOf('\n');
    const service = nl < 0 ? text : text.slice(0, nl);
    const body = nl < 0 ? '' : text.slice(nl + 1).trim();
    if (!service || (services && !services.includes(service))) continue;
    if (!body) {
      out.set(service, { fact: undefined });
      continue;
    }
    const over = oversized(body);
    if (over) {
      out.set(service, { fact: undefined, problem: `${factsDir}/${service}.json is not a ferry fact: ${over}` });
      continue;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(body);
    } catch {
      out.set(service, { fact: undefined, problem: `${factsDir}/${service}.json is not JSON` });
      continue;
    }
    const parsed = Fact.safeParse(raw);
    // a fact is written back with what it holds beyond ferry's fields: one nested deeper than JSON.stringify can
    // follow failed its host's every run (Maximum call stack size exceeded), never replaced
    if (!parsed.success || !writable(parsed.data)) {
      out.set(service, { fact: undefined, problem: `${factsDir}/${service}.json is not a ferry fact` });
      continue;
    }
    const f = parsed.data;
    if (f.host !== host || f.service !== service) {
      const writtenFor = [f.service !== service && `service ${f.service}`, f.host !== host && `host ${f.host}`].filter(Boolean).join(' on ');
      out.set(service, { fact: undefined, problem: `the fact was written for ${writtenFor}, not this one` });
      continue;
    }
    out.set(service, { fact: f });
  }
  for (const s of services ?? []) if (!out.has(s)) out.set(s, { fact: undefined });
  return out;
}

/**
 * What a fact may hold before it is parsed. JSON.parse expands a fact many times over (a 32 MiB `[{},{},…]`
 * took ~700 MiB of the runner's heap, for each host that sent one): ferry writes a few small objects per fact,
 * whose largest part is the stage stage's `files` (an artifact path and its sha256 each), so a fact of more
 * than 4 MiB or more than 100,000 structural tokens (`{ [ , :` outside strings; a 40,000-artifact service
 * writes ~80,000) is none ferry wrote.
 */
export const FACT_MAX_BYTES = 4 * 1024 * 1024;
export const FACT_MAX_TOKENS = 100_000;

/** Why a fact's text is larger than any ferry writes, read before JSON.parse, or undefined. */
function oversized(body: string): string | undefined {
  // UTF-8 takes at least one byte a character: a longer text is over the byte cap without counting them
  if (body.length > FACT_MAX_BYTES || Buffer.byteLength(body) > FACT_MAX_BYTES) return `larger than ${FACT_MAX_BYTES / 1024 / 1024} MiB`;
  let tokens = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if ((c === 0x7b || c === 0x5b || c === 0x2c || c === 0x3a) && ++tokens > FACT_MAX_TOKENS) return `more than ${FACT_MAX_TOKENS.toLocaleString('en-US')} objects, lists, items and keys`;
  }
  return undefined;
}

function writable(fact: Fact): boolean {
  try {
    JSON.stringify(fact);
    return true;
  } catch {
    return false;
  }
}
