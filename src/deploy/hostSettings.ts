import { SpecError } from '../errors.js';
import type { InventoryHost } from './loadInventory.js';
import { renderVars } from '../template/renderTemplate.js';

export const DEFAULT_DATA_DIR = '/var/lib/ferry';
export const DEFAULT_ANSIBLE_FACTS_DIR = '/etc/ansible/facts.d';
export const DEFAULT_KEEP_RELEASES = 2;

/** The variables ferry itself reads from the inventory, parsed once per host. */
export interface HostSettings {
  /** every inventory variable with {{ }} references resolved (templates and step options see these) */
  vars: Record<string, unknown>;
  /** ferry_data_dir: staged releases, blobs, keys, the run lock */
  dataDir: string;
  /** --facts-dir, else ferry_facts_dir, else DATA/facts */
  factsDir: string;
  /** ferry_ansible_facts_dir: where a copy of each fact goes as SERVICE.fact for Ansible's local facts; undefined = off */
  ansibleFactsDir?: string;
  /** whether ansibleFactsDir was asked for (then failing to write there is an error) or is the default (best effort) */
  ansibleFactsExplicit: boolean;
  /** ferry_server: the ferry serve address this host fetches from */
  server?: string;
  /** ssh_options: extra `ssh -o` options */
  sshOptions?: Record<string, string | number | boolean>;
  /** ferry_keep_releases: staged release trees kept on the host (the current one and older ones) */
  keepReleases: number;
  /** ferry_policy_rc_timeout: seconds after which ferry's policy-rc.d removes itself on the host (default: the command timeout) */
  policyRcTimeout?: number;
  /** ferry_releases: globs of the release names whose services may run on the host (undefined: any) */
  releases?: string[];
}

/**
 * The settings that reach the host or say where things live there, but do not change what the host
 * runs: changing them must not re-run configure (a new server address is not a new configuration),
 * unless a step or template of the stage names them.
 */
export const CONNECTION_VARS = ['ferry_server', 'ssh_options', 'ferry_transport', 'ferry_facts_dir', 'ferry_ansible_facts_dir', 'ferry_keep_releases', 'ferry_policy_rc_timeout', 'ferry_releases'] as const;

export function hostSettings(host: InventoryHost, inventoryFile: string, factsDirOverride?: string): HostSettings {
  const vars = renderVars(host.vars, `inventory ${inventoryFile}, host ${host.name}`);
  const where = `inventory ${inventoryFile}, host ${host.name}: vars`;
  const dataDir = pathVar(vars.ferry_data_dir, 'ferry_data_dir', where) ?? DEFAULT_DATA_DIR;
  const factsDir = factsDirOverride ?? pathVar(vars.ferry_facts_dir, 'ferry_facts_dir', where) ?? `${dataDir}/facts`;
  const ansible = vars.ferry_ansible_facts_dir;
  const ansibleFactsDir = ansible === '' || ansible === false ? undefined : (pathVar(ansible, 'ferry_ansible_facts_dir', where) ?? DEFAULT_ANSIBLE_FACTS_DIR);

  const server = vars.ferry_server;
  if (server !== undefined && (typeof server !== 'string' || !isServerUrl(server))) {
    throw new SpecError(`${where}.ferry_server must be an http:// or https:// URL of ferry serve (a host name or IP address, and an optional port), found ${JSON.stringify(server)}`);
  }
  const ssh = vars.ssh_options;
  if (ssh !== undefined && (typeof ssh !== 'object' || ssh === null || Array.isArray(ssh) || Object.values(ssh).some((v) => !['string', 'number', 'boolean'].includes(typeof v)))) {
    throw new SpecError(`${where}.ssh_options must be a map of ssh options (like { ProxyJump: bastion }), found ${JSON.stringify(ssh)}`);
  }
  if (ssh !== undefined) checkSshOptions(ssh as Record<string, string | number | boolean>, `${where}.ssh_options`);
  // safe integers only: host scripts get them as digits, and String(1e21) is "1e+21" (tail -n and $(( )) misread it)
  const keep = vars.ferry_keep_releases ?? DEFAULT_KEEP_RELEASES;
  if (typeof keep !== 'number' || !Number.isSafeInteger(keep) || keep < 1) {
    throw new SpecError(`${where}.ferry_keep_releases must be a whole number of at least 1 (the current release counts), found ${JSON.stringify(keep)}`);
  }
  const policyRc = vars.ferry_policy_rc_timeout;
  if (policyRc !== undefined && (typeof policyRc !== 'number' || !Number.isSafeInteger(policyRc) || policyRc < 1)) {
    throw new SpecError(`${where}.ferry_policy_rc_timeout must be a whole number of seconds, at least 1, found ${JSON.stringify(policyRc)}`);
  }
  const releases = vars.ferry_releases === undefined ? undefined : typeof vars.ferry_releases === 'string' ? [vars.ferry_releases] : vars.ferry_releases;
  if (releases !== undefined && (!Array.isArray(releases) || releases.length === 0 || !releases.every((g) => typeof g === 'string' && RELEASE_GLOB_RE.test(g)))) {
    throw new SpecError(`${where}.ferry_releases must be a release name glob or a list of them (letters, digits, . _ + ~ - and * ?), found ${JSON.stringify(vars.ferry_releases).slice(0, 200)}`);
  }
  return {
    vars,
    dataDir,
    factsDir,
    ansibleFactsDir,
    ansibleFactsExplicit: ansible !== undefined,
    server: server as string | undefined,
    sshOptions: ssh as HostSettings['sshOptions'],
    keepReleases: keep,
    policyRcTimeout: policyRc,
    ...(releases !== undefined && { releases: releases as string[] }),
  };
}

/** A glob over release names (the signing policy's `names` take the same * and ?). */
const RELEASE_GLOB_RE = /^[A-Za-z0-9._+~*?-]{1,200}$/;

/**
 * ferry's folders on the host. Quoted in every host script, but also written into lines of host files: the
 * apt step's sources list (`deb [signed-by=DATA/keys/…] file:DATA/bundles/…/apt SUITE COMPONENT`), where a
 * newline would add a source of the inventory's choosing and a space, `]` or `,` another option or key.
 */
const HOST_PATH_RE = /^\/[A-Za-z0-9._+@~/-]*$/;

function pathVar(v: unknown, name: string, where: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !HOST_PATH_RE.test(v) || v.split('/').includes('..')) {
    throw new SpecError(`${where}.${name} must be an absolute path of letters, digits and . _ + @ ~ - (no "..", spaces or other characters), found ${JSON.stringify(v).slice(0, 200)}`);
  }
  return v.replace(/\/+$/, '') || '/';
}

/**
 * The ssh options an inventory may set: how to reach a host (timeouts, keep-alives, algorithms, which of
 * the operator's keys to offer, a jump host, how strictly to check the host key), nothing else. An
 * allowlist, not a list of what is known to be dangerous: many options run a program on the runner
 * (ProxyCommand, LocalCommand, KnownHostsCommand, Match exec...), write to its files (UserKnownHostsFile
 * with HostKeyAlias appends a line of the inventory's choosing to any file), hand the host something of
 * the operator's (RemoteForward of the agent's socket, SendEnv, forwarded credentials), or change the
 * name a ProxyCommand of the operator's ssh_config receives as %h (Hostname); OpenSSH adds keywords with
 * every release. Keywords are matched as ssh matches them, without regard to case.
 */
const ALLOWED_SSH_OPTIONS = new Map(
  [
    'AddressFamily',
    'BindAddress',
    'BindInterface',
    'CASignatureAlgorithms',
    'CertificateFile',
    'Ciphers',
    'Compression',
    'ConnectionAttempts',
    'ConnectTimeout',
    'GSSAPIAuthentication',
    'HostKeyAlgorithms',
    'IdentitiesOnly',
    'IdentityFile',
    'IPQoS',
    'KbdInteractiveAuthentication',
    'KexAlgorithms',
    'LogLevel',
    'MACs',
    'PasswordAuthentication',
    'PreferredAuthentications',
    'ProxyJump',
    'PubkeyAcceptedAlgorithms',
    'PubkeyAcceptedKeyTypes',
    'PubkeyAuthentication',
    'RekeyLimit',
    'RequiredRSASize',
    'ServerAliveCountMax',
    'ServerAliveInterval',
    'StrictHostKeyChecking',
    'TCPKeepAlive',
  ].map((k) => [k.toLowerCase(), k]),
);

/** Forwarding to the host, allowed only to be turned off. */
const FORWARDING_SSH_OPTIONS = new Set(['ForwardAgent', 'ForwardX11', 'ForwardX11Trusted'].map((k) => k.toLowerCase()));

/** Said by the host's own fields, which are checked as such (a ProxyCommand of the operator's ssh_config gets them as %h, %r, %p). */
const HOST_FIELDS: Record<string, string> = { hostname: 'address', user: 'user', port: 'port' };

/**
 * One ProxyJump hop, `[user@]host[:port]` with an IPv6 address in brackets: ssh runs the hops as a command
 * line of its own (`sh -c "ssh -l USER -p PORT … HOST"`), so a bracket anywhere else is a glob that shell
 * expands to the names of files in ferry's folder (`a[bc]` to `ab ac`: the second becomes a command run on
 * the jump host).
 */
const JUMP_RE = /^(?:[A-Za-z0-9_.][A-Za-z0-9_.@-]*@)?(?:[A-Za-z0-9_.][A-Za-z0-9_.-]*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

function checkSshOptions(ssh: Record<string, string | number | boolean>, where: string): void {
  for (const [key, value] of Object.entries(ssh)) {
    if (!/^[A-Za-z][A-Za-z0-9]{0,63}$/.test(key)) throw new SpecError(`${where}: ${JSON.stringify(key).slice(0, 80)} is not an ssh option keyword`);
    const lower = key.toLowerCase();
    // forwarding the operator's agent or X display hands a host the means to act as the operator elsewhere
    if (FORWARDING_SSH_OPTIONS.has(lower)) {
      if (['no', 'false'].includes(String(value).toLowerCase())) continue;
      throw new SpecError(`${where}.${key}: ferry does not forward the runner's ssh agent or X display to hosts from an inventory (a host could use them to log in elsewhere as the operator); set it in ~/.ssh/config if you mean it`);
    }
    const field = HOST_FIELDS[lower];
    if (field !== undefined) throw new SpecError(`${where}.${key}: give the host's ${field} as the inventory's ${field} field (checked there), not as an ssh option`);
    if (!ALLOWED_SSH_OPTIONS.has(lower)) {
      throw new SpecError(
        `${where}.${key}: ferry does not pass this ssh option from an inventory, which may only say how to reach a host (${[...ALLOWED_SSH_OPTIONS.values()].join(', ')}, and forwarding turned off); put it in ~/.ssh/config or an ssh -F file the operator owns`,
      );
    }
    // one value on one line: a newline or an option-looking value could add a second option (or a jump host
    // read as an option by the ssh that ProxyJump starts)
    const v = String(value);
    if (v.length > 1024 || /[\p{C}]/u.test(v) || /^\s*-/.test(v) || (lower === 'proxyjump' && !v.split(',').every((j) => JUMP_RE.test(j.replace(/^ssh:\/\//, ''))))) {
      throw new SpecError(`${where}.${key}: ${JSON.stringify(v).slice(0, 80)} is not a single ssh option value`);
    }
  }
}

/**
 * An http(s) URL whose host is a DNS name, an IPv4 address or a bracketed IPv6 address, with an optional
 * port. The host reaches podman, docker and ctr as the start of an image name (`HOST:PORT/team/app@…`):
 * the URL parser takes `http://--creds=x/` as the host `--creds=x`, which those programs would read as an option.
 */
export function isServerUrl(server: string): boolean {
  if (!/^https?:\/\/[^\s]+$/.test(server)) return false;
  let host: string;
  try {
    host = new URL(server).host;
  } catch {
    return false;
  }
  return /^(?:[A-Za-z0-9_][A-Za-z0-9_.-]*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$/.test(host);
}
