import { SpecError } from '../../errors.js';

/** The interpreter and platforms the wheels are for (spec.targets.python). */
export interface PythonTarget {
  /** "MAJOR.MINOR", or "MAJOR.MINOR.PATCH" when the hosts' patch release is known (python_full_version) */
  version: string;
  /** "cp" (CPython), "pp" (PyPy)... */
  implementation: string;
  /** e.g. "cp311"; defaults to the implementation's usual ABI (cp311, cp37m; pypy39_pp73 for PyPy 3.9) */
  abi?: string;
  /** platform tags in order of preference: manylinux_2_36_x86_64, musllinux_1_2_aarch64, win_amd64... */
  platforms: string[];
}

const LEGACY_MANYLINUX: Record<string, [number, number]> = { manylinux1: [2, 5], manylinux2010: [2, 12], manylinux2014: [2, 17] };
const LEGACY_BY_GLIBC = new Map(Object.entries(LEGACY_MANYLINUX).map(([tag, [, minor]]) => [minor, tag]));

/**
 * Every wheel tag ("py-abi-platform") the target's own pip accepts, best first: the order that
 * `packaging.tags.sys_tags()` produces on the target host, which is the order pip prefers wheels in.
 * A platform like manylinux_2_36_x86_64 stands for a host with glibc 2.36, so it accepts every older
 * manylinux generation (and its legacy alias) down to manylinux1 on x86, manylinux2014 elsewhere,
 * then the plain linux_ARCH; musllinux_1_2 likewise accepts musllinux_1_1 and musllinux_1_0.
 */
export function targetTags(target: PythonTarget): string[] {
  const m = /^(\d+)\.(\d+)(?:\.\d+)?$/.exec(target.version);
  if (!m) throw new SpecError(`targets.python.version must be MAJOR.MINOR or MAJOR.MINOR.PATCH, like "3.11" or "3.11.2"; found "${target.version}"`);
  const major = Number(m[1]);
  const minor = Number(m[2]);
  const impl = target.implementation;
  const interpreter = `${impl}${major}${minor}`;
  const platforms = expandPlatforms(target.platforms);
  const tags: string[] = [];
  if (impl === 'cp') {
    // packaging.tags.cpython_tags: own ABI, abi3, none; then abi3 of every older CPython 3 down to 3.2
    const abi = target.abi ?? (major === 3 && minor < 8 ? `cp${major}${minor}m` : `cp${major}${minor}`);
    const abi3 = major === 3 && minor >= 2;
    for (const a of [abi].filter((a) => a !== 'abi3' && a !== 'none')) for (const p of platforms) tags.push(`${interpreter}-${a}-${p}`);
    if (abi3) for (const p of platforms) tags.push(`${interpreter}-abi3-${p}`);
    for (const p of platforms) tags.push(`${interpreter}-none-${p}`);
    if (abi3) for (let v = minor - 1; v > 1; v--) for (const p of platforms) tags.push(`cp${major}${v}-abi3-${p}`);
  } else {
    // packaging.tags.generic_tags; its ABI is the host's SOABI, which every PyPy 3 release since 7.3
    // (2020) gives as pypy<MAJOR><MINOR>-pp73 (the ABI of PyPy's wheels on PyPI: pp39-pypy39_pp73-...)
    const abis = target.abi ? [target.abi] : impl === 'pp' && major === 3 ? [`pypy${major}${minor}_pp73`] : [];
    if (!abis.includes('none')) abis.push('none');
    for (const a of abis) for (const p of platforms) tags.push(`${interpreter}-${a}-${p}`);
  }
  // packaging.tags.compatible_tags; PyPy's generic interpreter tag is "pp3"
  const pyRange = [`py${major}${minor}`, `py${major}`];
  for (let v = minor - 1; v >= 0; v--) pyRange.push(`py${major}${v}`);
  for (const py of pyRange) for (const p of platforms) tags.push(`${py}-none-${p}`);
  tags.push(`${impl === 'pp' ? `pp${major}` : interpreter}-none-any`);
  for (const py of pyRange) tags.push(`${py}-none-any`);
  return [...new Set(tags)];
}

/** Platform tags the target accepts, best first (see targetTags). */
export function expandPlatforms(platforms: string[]): string[] {
  const out: string[] = [];
  const plainLinux: string[] = [];
  for (const raw of platforms) {
    const p = raw.toLowerCase().replace(/[-.]/g, '_');
    const many = /^manylinux_(\d+)_(\d+)_(.+)$/.exec(p);
    const legacy = /^(manylinux1|manylinux2010|manylinux2014)_(.+)$/.exec(p);
    const musl = /^musllinux_(\d+)_(\d+)_(.+)$/.exec(p);
    if (many || legacy) {
      const [glibcMajor, glibcMinor] = many ? [Number(many[1]), Number(many[2])] : LEGACY_MANYLINUX[legacy![1]!]!;
      const arch = many ? many[3]! : legacy![2]!;
      if (glibcMajor !== 2) throw new SpecError(`targets.python.platforms: ${raw}: only glibc 2.x manylinux tags exist`);
      // the oldest glibc any manylinux policy covers: 2.5 on x86, 2.17 on other architectures
      const oldest = arch === 'x86_64' || arch === 'i686' ? 5 : 17;
      for (let v = glibcMinor; v >= oldest; v--) {
        out.push(`manylinux_2_${v}_${arch}`);
        const alias = LEGACY_BY_GLIBC.get(v);
        if (alias) out.push(`${alias}_${arch}`);
      }
      plainLinux.push(`linux_${arch}`);
    } else if (musl) {
      for (let v = Number(musl[2]); v >= 0; v--) out.push(`musllinux_${musl[1]}_${v}_${musl[3]}`);
      plainLinux.push(`linux_${musl[3]}`);
    } else {
      out.push(p);
    }
  }
  return [...new Set([...out, ...plainLinux])];
}
