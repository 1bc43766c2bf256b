import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SpecError } from '../../errors.js';
import type { Logger } from '../../ui/log.js';
import { parseErrorReason } from '../../util/oneLine.js';

export interface RegistryCredentials {
  username: string;
  password: string;
}

/** The file holding registry logins: $REGISTRY_AUTH_FILE (podman, skopeo), else $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
export function registryAuthFile(env: NodeJS.ProcessEnv): string {
  if (env.REGISTRY_AUTH_FILE) return env.REGISTRY_AUTH_FILE;
  return join(env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json');
}

/**
 * The login for a repository of a registry (`registry.example` or `registry.example:5000`) from the file
 * `docker login`, `podman login` and `skopeo login` write: `auths[KEY].auth` (base64 of USER:PASSWORD) or
 * its username/password. KEY is, as containers-auth.json(5) reads it, the most specific of
 * `REGISTRY/NAMESPACE/REPO`, `REGISTRY/NAMESPACE`, …, `REGISTRY` (a key of a namespace is that namespace's
 * login, never another's of the same host), or a URL key docker wrote (`https://registry.example/v1/`: its
 * host). Undefined when the file or the entry is missing. Credential helpers are not run
 * (a build must not execute programs named by a config file); a registry that needs one is named.
 * The credentials live only in memory: never in the lock, the bundle or a message.
 */
export async function readRegistryCredentials(registry: string, env: NodeJS.ProcessEnv, log: Logger, repository = ''): Promise<RegistryCredentials | undefined> {
  const file = registryAuthFile(env);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SpecError(`${file}: cannot read the registry logins (${parseErrorReason(err)}); fix or remove the file`);
  }
  const config = (typeof raw === 'object' && raw !== null ? raw : {}) as { auths?: Record<string, unknown>; credHelpers?: Record<string, unknown>; credsStore?: unknown };
  const auths = typeof config.auths === 'object' && config.auths !== null ? config.auths : {};
  // docker writes some keys as URLs ("https://registry.example/v1/"): those name the host; a key without a
  // scheme keeps its path, the namespace or repository it is the login of
  const scope = (k: string) => (/^https?:\/\//.test(k) ? k.replace(/^https?:\/\//, '').replace(/\/.*$/, '') : k.replace(/\/+$/, ''));
  const parts = repository.split('/').filter((p) => p !== '');
  const wanted = [...parts.map((_, i) => `${registry}/${parts.slice(0, parts.length - i).join('/')}`), registry];
  const keys = Object.keys(auths);
  const key = wanted.map((w) => keys.find((k) => k === w) ?? keys.find((k) => scope(k) === w)).find((k) => k !== undefined);
  const entry = key === undefined ? undefined : (auths[key] as { auth?: unknown; username?: unknown; password?: unknown } | null);
  if (entry && typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new SpecError(`${file}: the login for ${registry} is not base64 of USER:PASSWORD; log in again`);
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry && typeof entry.username === 'string' && typeof entry.password === 'string') return { username: entry.username, password: entry.password };
  const helper = (typeof config.credHelpers === 'object' && config.credHelpers !== null ? (config.credHelpers as Record<string, unknown>)[registry] : undefined) ?? config.credsStore;
  if (typeof helper === 'string') {
    log.warn(`${file} keeps the login for ${registry} in the credential helper docker-credential-${helper}, which ferry does not run; put it in $REGISTRY_AUTH_FILE (podman login --authfile FILE ${registry}) if the registry needs one`);
  }
  return undefined;
}
