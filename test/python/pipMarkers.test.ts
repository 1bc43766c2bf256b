import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { evaluateMarker } from '../../src/sources/python/evaluateMarker.js';
import { GUESSED, markerEnvironment } from '../../src/sources/python/markerEnvironment.js';

// Environment markers as pip 23.2 evaluates them (its vendored packaging 21.3: Marker(m).evaluate(env)),
// against evaluateMarker, for every variable the target defines, every operator and literals that are
// versions, pre-releases, post-releases, local versions, spaced, cased or not versions at all, on both sides.
// Left out: `~=` with a literal whose release has a leading zero or a "v" ("03.11", "v3.11"), which
// packaging 21.3 compares as strings after parsing (False for python_version 3.11); ferry compares versions.
const VARIABLES = ['python_version', 'python_full_version', 'implementation_version', 'platform_machine', 'sys_platform', 'os_name', 'implementation_name', 'platform_python_implementation', 'platform_system'];
const OPERATORS = ['==', '!=', '<', '<=', '>', '>=', '~=', '===', 'in', 'not in'];
const LITERALS = ['3.11', '3.11.0', '3.11.7', '3', '3.1', '3.12', '3.9', '3.10', '3.11.*', '3.*', '3.11.7rc1', '3.11rc1', '3.12.0a1', '3.11.7.post1', '3.11+loc', '3.11.7+loc', '1!3', '3.11a', '3.11.dev1', '3.11.7.0', '3.11.07', ' 3.11', '3.11 ', 'x86_64', 'X86_64', 'linux', 'Linux', 'posix', 'cpython', 'CPython', '', 'cp', 'nt', '3.11,'];

describe('markers as pip 23.2 evaluates them', () => {
  const env = markerEnvironment({ version: '3.11.7', implementation: 'cp', platforms: ['manylinux_2_17_x86_64'] });
  const markers = VARIABLES.flatMap((v) => OPERATORS.flatMap((op) => LITERALS.flatMap((l) => [`${v} ${op} '${l}'`, `'${l}' ${op} ${v}`])));
  const pipEnv = { ...Object.fromEntries(Object.entries(env).filter(([k]) => k !== GUESSED)), platform_release: '', platform_version: '', extra: '' };
  const pip = JSON.parse(
    execFileSync(
      'python3',
      ['-c', 'import json,sys\nfrom pip._vendor.packaging.markers import Marker\nd=json.load(sys.stdin)\nout=[]\nfor m in d["markers"]:\n    try: out.append(Marker(m).evaluate(d["env"]))\n    except Exception: out.append(None)\nprint(json.dumps(out))'],
      { input: JSON.stringify({ markers, env: pipEnv }), encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
    ),
  ) as Array<boolean | null>;

  it('evaluateMarker answers as pip does for each of the markers (or refuses where pip raises)', () => {
    const differ = markers.flatMap((m, i) => {
      let ferry: boolean | null;
      try {
        ferry = evaluateMarker(m, env);
      } catch {
        ferry = null;
      }
      return ferry === pip[i] ? [] : [`${m}: pip ${pip[i]}, ferry ${ferry}`];
    });
    expect(differ).toEqual([]);
  });

  it('the markers are not all alike', () => {
    expect(pip.filter((x) => x === true).length).toBeGreaterThan(500);
    expect(pip.filter((x) => x === false).length).toBeGreaterThan(500);
  });
});
