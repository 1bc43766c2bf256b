import type { PythonTarget } from './targetTags.js';
import type { MarkerEnvironment } from './evaluateMarker.js';

/**
 * The PEP 508 environment of the target host, derived from spec.targets.python, so that markers are
 * evaluated for the machine the wheels will be installed on, not for the build machine (pip's
 * `download --platform` gets this wrong: pip #4304, #10050). The first platform decides the operating
 * system and machine. python_full_version (and CPython's implementation_version) is the target's
 * MAJOR.MINOR.PATCH when the spec gives one, else MAJOR.MINOR.0, then marked as a guess (GUESSED), so that
 * a marker using it warns. platform_release and platform_version (kernel release and build string) are unknowable and left out.
 */
export function markerEnvironment(target: PythonTarget): MarkerEnvironment {
  const platform = (target.platforms[0] ?? '').toLowerCase();
  const impl = IMPLEMENTATIONS[target.implementation] ?? { name: target.implementation, platform: target.implementation };
  const [major, minor, patch] = target.version.split('.');
  const full = `${major}.${minor}.${patch ?? 0}`;
  const env: MarkerEnvironment = {
    python_version: `${major}.${minor}`,
    python_full_version: full,
    implementation_name: impl.name,
    platform_python_implementation: impl.platform,
    implementation_version: full,
  };
  // PyPy's implementation_version is PyPy's own release (7.3.x), not Python's: always a guess there
  const guessed = [...(patch === undefined ? ['python_full_version'] : []), ...(patch === undefined || target.implementation !== 'cp' ? ['implementation_version'] : [])];
  if (guessed.length) env[GUESSED] = guessed.join(' ');
  const linux = /^(?:manylinux\d*|musllinux|linux)(?:_\d+_\d+)?_(.+)$/.exec(platform);
  const mac = /^macosx_\d+_\d+_(.+)$/.exec(platform);
  const win = /^win(?:32|_(.+))$/.exec(platform);
  if (linux) Object.assign(env, { os_name: 'posix', sys_platform: 'linux', platform_system: 'Linux', platform_machine: linux[1]! });
  else if (mac) Object.assign(env, { os_name: 'posix', sys_platform: 'darwin', platform_system: 'Darwin', platform_machine: mac[1] === 'universal2' ? 'arm64' : mac[1]! });
  else if (win) Object.assign(env, { os_name: 'nt', sys_platform: 'win32', platform_system: 'Windows', platform_machine: WINDOWS_MACHINES[win[1] ?? ''] ?? 'x86' });
  return env;
}

/** Not a marker variable (no marker can name it): the variables whose value is a guess, space-separated. */
export const GUESSED = 'ferry:guessed';

const IMPLEMENTATIONS: Record<string, { name: string; platform: string }> = {
  cp: { name: 'cpython', platform: 'CPython' },
  pp: { name: 'pypy', platform: 'PyPy' },
  ip: { name: 'ironpython', platform: 'IronPython' },
  jy: { name: 'jython', platform: 'Jython' },
};
const WINDOWS_MACHINES: Record<string, string> = { amd64: 'AMD64', arm64: 'ARM64' };
