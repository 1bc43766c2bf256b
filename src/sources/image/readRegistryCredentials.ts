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
 * The login for a registry (`registry.example` or `registry.example:5000`) from the file `docker login`,
 * `podman login` and `skopeo login` write: `auths[REGISTRY].auth` (base64 of USER:PASSWORD) or its
 * username/password. Undefined when the file or the entry is missing. Credential helpers are not run
 * (a build must not execute programs named by a config file); a registry that needs one is named.
 * The credentials live only in memory: never in the lock, the bundle or a message.
 */
export async function readRegistryCredentials(registry: string, env: NodeJS.ProcessEnv, log: Logger): Promise<RegistryCredentials | undefined> {
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
  // docker writes some keys as URLs ("https://registry.example/v1/")
  const key = Object.keys(auths).find((k) => k === registry || k.replace(/^https?:\/\//, '').replace(/\/.*$/, '') === registry);
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
