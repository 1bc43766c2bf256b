import { DeployError } from '../../errors.js';
import { createHash, randomBytes } from 'node:crypto';
import { notHeldError, scriptOnStdin, stopSessionScript } from './scriptOnStdin.js';
import { type SpawnOutcome, outputOverflow, spawnCommand, spawnHeld } from './spawnCommand.js';
import { CommandTimeoutError, TransientError } from './TransientError.js';
import type { Held, HeldBy, RunOptions, RunResult, Transport } from './types.js';

export interface SshTarget {
  /** inventory name, used in messages */
  name: string;
  address: string;
  port?: number;
  user?: string;
  /** extra `-o Key=Value` options (inventory var ssh_options) */
  options?: Record<string, string | number | boolean>;
}

export interface SshSettings {
  /** `ssh -F FILE`: an ssh_config used instead of ~/.ssh/config */
  configFile?: string;
  /** folder for ControlMaster sockets; short, because a unix socket path is limited to ~104 bytes */
  controlDir: string;
  /** how long an idle master connection stays up (ssh ControlPersist) */
  persistSeconds?: number;
  connectTimeoutSeconds?: number;
  /** the ssh program (tests may point at a wrapper) */
  program?: string;
}

/**
 * How every ssh runs: in a session of its own, without the runner's terminal, and never asking through an
 * askpass program (SSH_ASKPASS_REQUIRE=never, OpenSSH 8.4). BatchMode=yes keeps the ssh ferry starts from
 * asking anything, but not the ssh it starts for each ProxyJump hop (`ssh -l USER -p PORT -W [%h]:%p HOP`,
 * none of ferry's options): an inventory's `ProxyJump: root@HOST` of its choosing put "Are you sure you want
 * to continue connecting?" or "root@HOST's password:" on the operator's terminal in the middle of a deploy,
 * for a host the inventory chose, and held the host's connection until the answer. With no terminal to open
 * and no askpass, that ssh fails as ferry's own does (host key verification failed, permission denied). A
 * session of its own is a process group of its own too: a timeout stops the hops' ssh with it.
 */
function unattended() {
  return { group: true, env: { ...process.env, SSH_ASKPASS_REQUIRE: 'never' } };
}

/**
 * The system OpenSSH client, so the operator's ssh_config (ProxyJump, IdentityFile, agents) and
 * known_hosts apply. Host keys are checked: with BatchMode the client's default (StrictHostKeyChecking=ask)
 * refuses unknown and changed keys instead of asking; an operator may relax it in ssh_config.
 * ControlMaster multiplexing makes every command after the first reuse one authenticated connection.
 */
export class SshTransport implements Transport {
  readonly kind = 'ssh' as const;
  #commands = 0;
  #sessions: string | undefined;
  #held: HeldBy | undefined;
  /**
   * The master connection's socket: one per way of reaching a host (address, port, user and every ssh
   * option). ssh's %C hashes only the host, port and user, so an inventory entry with another host's
   * address and port but a ProxyJump of its own (another site, or a hostile entry) shared that host's master:
   * whichever connected first carried the other's commands, and the later one's options were never used.
   */
  readonly #socket: string;
  constructor(
    private readonly target: SshTarget,
    private readonly settings: SshSettings,
  ) {
    const route = [target.address, target.port ?? null, target.user ?? null, Object.entries(target.options ?? {})];
    this.#socket = createHash('sha256').update(JSON.stringify(route)).digest('hex').slice(0, 40);
  }

  get commands(): number {
    return this.#commands;
  }

  registerSessions(file: string, held?: HeldBy): void {
    this.#sessions = file;
    this.#held = held;
  }

  /**
   * ssh takes the first value given for an option: the inventory's ssh_options come before ferry's defaults,
   * so that a host's ConnectTimeout or ServerAliveInterval wins over them (after them it was silently
   * ignored); none of them can name the options ferry's connection depends on (hostSettings allows only
   * options that say how to reach a host). A held command is the master connection itself, in the
   * foreground (ControlPersist=no): it ends with the hold, and dies with the runner.
   */
  private baseArgs(master = false): string[] {
    const s = this.settings;
    const args: string[] = [];
    if (s.configFile) args.push('-F', s.configFile);
    for (const [k, v] of Object.entries(this.target.options ?? {})) args.push('-o', `${k}=${v === true ? 'yes' : v === false ? 'no' : String(v)}`);
    args.push(
      '-o', 'BatchMode=yes',
      '-o', `ControlMaster=${master ? 'yes' : 'auto'}`,
      '-o', `ControlPath=${s.controlDir}/${this.#socket}`,
      '-o', `ControlPersist=${master ? 'no' : (s.persistSeconds ?? 60)}`,
      '-o', `ConnectTimeout=${s.connectTimeoutSeconds ?? 15}`,
      '-o', 'ServerAliveInterval=5',
      '-o', 'ServerAliveCountMax=3',
    );
    if (this.target.port) args.push('-p', String(this.target.port));
    if (this.target.user) args.push('-l', this.target.user);
    return args;
  }

  private spawn(command: string, opts: RunOptions): Promise<SpawnOutcome> {
    this.#commands++;
    return spawnCommand(this.settings.program ?? 'ssh', [...this.baseArgs(), '--', this.target.address, command], { ...opts, ...unattended() });
  }

  async hold(script: string, readyLine: string, timeoutMs?: number): Promise<Held | RunResult> {
    this.#commands++;
    const { command, head } = scriptOnStdin(script);
    const r = await spawnHeld(this.settings.program ?? 'ssh', [...this.baseArgs(true), '--', this.target.address, command], head, readyLine, { timeoutMs, ...unattended() });
    if ('ended' in r) return this.check(r.ended, timeoutMs);
    return { ready: r.held.ready, release: async () => this.check(await r.held.release(), timeoutMs) };
  }

  /** ssh's own failures become errors: 255 (refused, dropped) and timeouts may be retried, wrong keys not. */
  private check(r: SpawnOutcome, timeoutMs?: number): RunResult {
    const where = `host ${this.target.name} (${this.target.user ? this.target.user + '@' : ''}${this.target.address}${this.target.port ? ':' + this.target.port : ''})`;
    if (r.spawnError) throw new DeployError(`${where}: cannot run ssh: ${r.spawnError.message}; install openssh-client`);
    if (r.timedOut) throw new CommandTimeoutError(`${where}: command did not finish within ${Math.round((timeoutMs ?? 0) / 1000)} s`);
    if (r.overflow) throw outputOverflow(where, r.overflow);
    if (r.code === 255) {
      // ssh's own lines start with "ssh: " already (ssh: connect to host …): said once
      const msg = (r.stderr.trim().split('\n').filter(Boolean).pop() ?? 'connection failed').replace(/^ssh: /, '');
      const changed = /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for \S+ has changed/i.test(r.stderr);
      if (changed) {
        // not the advice for an unknown host: OpenSSH accepts a host when any known_hosts line matches, so adding the
        // key the host now shows would let whoever sits in the middle in
        // ssh's lines come last: a host's (or a jump host's) banner, printed on the same stderr before them, may
        // hold any text, ssh's warning included; and what goes into the command suggested to the operator is a
        // NAME shaped as ssh prints a host (else the inventory's checked address): a banner's "Host key for
        // x';touch${IFS}/tmp/p;' has changed" made ferry suggest running that on the runner
        const offending = [...r.stderr.matchAll(/Offending (?:\S+ )?key (?:for IP )?in (.+?):(\d+)\s*$/gm)].pop();
        const named = [...r.stderr.matchAll(/Host key for (\S+) has changed/gi)].pop()?.[1];
        const known = named !== undefined && /^[\p{L}\p{N}_.:[\]%@-]+$/u.test(named) ? named : this.target.port && this.target.port !== 22 ? `[${this.target.address}]:${this.target.port}` : this.target.address;
        throw new DeployError(
          `${where}: its host key changed: it does not match ${offending ? `${offending[1]}:${offending[2]}` : 'known_hosts'}; a reinstalled host, or someone in the middle: check the new key's fingerprint on the host's console, then replace the old one (ssh-keygen -R '${known}', and add the checked key)`,
        );
      }
      if (/Host key verification failed|No .* host key is known/i.test(r.stderr)) {
        throw new DeployError(`${where}: ${msg}; add the host's key to known_hosts (ssh-keyscan, then verify the fingerprint) or fix the address`);
      }
      if (/Permission denied/i.test(r.stderr)) throw new DeployError(`${where}: ${msg}; check the user, the key (IdentityFile) and the agent`);
      throw new TransientError(`${where}: ssh: ${msg}`);
    }
    const lost = notHeldError(where, r);
    if (lost) throw lost;
    return r;
  }

  async run(script: string, opts: RunOptions = {}): Promise<RunResult> {
    // a tag for the session the command records, so that the host can stop this command alone
    const tag = this.#sessions ? randomBytes(8).toString('hex') : undefined;
    const { command, stdin } = scriptOnStdin(script, opts.stdin, this.#sessions, this.#held, tag);
    const r = await this.spawn(command, { ...opts, stdin });
    // stopped on the runner for running past its time or printing too much: over the shared connection the
    // command still runs on the host (the master holds its pipes), and a retry of its stage would run beside it
    if ((r.timedOut || r.overflow) && tag && this.#sessions) await this.stopSession(this.#sessions, tag);
    return this.check(r, opts.timeoutMs);
  }

  /** Best effort: the end of the run's hold stops whatever is left anyway. */
  private async stopSession(sessions: string, tag: string): Promise<void> {
    const { command, stdin } = scriptOnStdin(stopSessionScript(sessions, tag));
    await this.spawn(command, { stdin, timeoutMs: 60_000 });
  }
}
