import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readRequirementsFile } from '../../src/sources/python/readRequirementsFile.js';

// Requirements files as the real pip 23.2 reads them (pip._internal.req.req_file.parse_requirements, the
// reader of `pip download -r` and `pip install -r`, with the check its --require-hashes mode makes of
// every requirement: pinned with == or ===, and hashed), against ferry's reading of the same files: the
// same pins with the same hashes, or both refuse the file. Refusing what pip reads (or reading what it
// refuses), or reading another set of pins, is a disagreement.
const H = 'a'.repeat(64);
const H2 = 'b'.repeat(64);
const H3 = 'c'.repeat(64);
const VAR = `FERRY_TEST_PINNED_VERSION_${process.pid}`;
const CASES: Record<string, string> = {
  'pip-compile form': `# header\n--index-url https://index.invalid/simple\n\nflask[async]==3.0.0 \\\n    --hash=sha256:${H} \\\n    --hash=sha256:${H2}\n    # via -r requirements.in\ntomli==2.0.1 ; python_version < "3.11" --hash=sha256:${H}\n`,
  // a comment line ending in a backslash joins nothing: the next line is a requirement of its own
  'comment line ending in a backslash': `# the next pin was reviewed \\\nbeta==1.0 --hash=sha256:${H2}\n`,
  'commented-out continuation': `# old==0.9 \\\n#     --hash=sha256:${H3}\nalpha==1.0 --hash=sha256:${H}\n`,
  'comment after a pin ending in a backslash': `alpha==1.0 --hash=sha256:${H} # note \\\nbeta==1.0 --hash=sha256:${H2}\n`,
  'old Mac line ends': `alpha==1.0 --hash=sha256:${H}\rbeta==1.0 --hash=sha256:${H2}\r`,
  'form feed between lines': `alpha==1.0 --hash=sha256:${H}\fbeta==1.0 --hash=sha256:${H2}\n`,
  'backslash on the last line': `alpha==1.0 --hash=sha256:${H} \\`,
  'continuation inside a word': `alpha==1.\\\n0 --hash=sha256:${H}\n`,
  '-r with the file name attached': `-rother.txt\nalpha==1.0 --hash=sha256:${H}\n`,
  '--requirement=FILE': `--requirement=other.txt\n`,
  '-r=FILE names the file "=FILE"': `-r=other.txt\n`,
  'two -r on one line (pip reads the first)': `-r other.txt -r more.txt -c more.txt\n`,
  'pins of an included file come where its -r is': `alpha==1.0 --hash=sha256:${H}\n-r more.txt\nbeta==1.0 --hash=sha256:${H2}\n`,
  'abbreviated long options': `--extra-index=https://index.invalid/simple\n--trusted=index.invalid\n--only=:all:\nalpha==1.0 --hash=sha256:${H}\n`,
  'ambiguous abbreviation': `--no\nalpha==1.0 --hash=sha256:${H}\n`,
  'a flag given a value': `--pre=yes\nalpha==1.0 --hash=sha256:${H}\n`,
  '-f with the URL attached, --use-feature, --pypi-url': `-fhttps://index.invalid/links\n--use-feature=truststore\n--pypi-url https://index.invalid/simple\nalpha==1.0 --hash=sha256:${H}\n`,
  'build options after a pin': `alpha==1.0 --config-settings=x=y -C z=1 --global-option=--quiet --hash=sha256:${H}\n`,
  'index options after a pin (pip drops them)': `alpha==1.0 --hash=sha256:${H} --prefer-binary --pre -r other.txt\n`,
  'a word after the options (pip drops it)': `alpha==1.0 --hash=sha256:${H} stray\n`,
  'quoted hash': `alpha==1.0 --hash="sha256:${H}" --hash 'sha256:${H2}'\n`,
  'unclosed quote': `alpha==1.0 --hash="sha256:${H}\n`,
  'md5 beside sha256': `alpha==1.0 --hash=sha256:${H} --hash=md5:${'d'.repeat(32)}\n`,
  'sha512 beside sha256': `alpha==1.0 --hash=sha256:${H} --hash=sha512:${'e'.repeat(128)}\n`,
  'environment variable set': `alpha==\${${VAR}} --hash=sha256:${H}\n`,
  'trailing comma': `alpha==1.0, --hash=sha256:${H}\n`,
  'tab before the options': `alpha==1.0\t--hash=sha256:${H}\n`,
  'extras with a space': `alpha[x y]==1.0 --hash=sha256:${H}\n`,
  'extras with a trailing comma': `alpha[x,]==1.0 --hash=sha256:${H}\n`,
  'extras with a character PEP 508 does not allow': `alpha[x!]==1.0 --hash=sha256:${H}\n`,
  'no extras, spaced extras': `alpha[]==1.0 --hash=sha256:${H}\nbeta[ x , y.z ]==1.0 --hash=sha256:${H2}\n`,
  'a space inside the version': `alpha == 1.0 .0 --hash=sha256:${H}\n`,
  'a word after the version': `alpha==1.0 extra --hash=sha256:${H}\n`,
  'spaces around operators and commas': `alpha == 1.0 --hash=sha256:${H}\nbeta (== 1.0) --hash=sha256:${H2}\n`,
  'a marker that does not parse': `alpha==1.0 ; python_version < '3' and --hash=sha256:${H}\n`,
  'a marker with an unknown variable': `alpha==1.0 ; foo == 'x' --hash=sha256:${H}\n`,
  'a marker false for the target (read, left out later)': `alpha==1.0 ; python_version < '3' --hash=sha256:${H}\n`,
  'hash alone on an option line': `--hash=sha256:${H}\nalpha==1.0 --hash=sha256:${H2}\n`,
  'format options on option and pin lines': `--only-binary :all:\n--no-binary=alpha,:none: --prefer-binary\nalpha==1.0 --no-binary alpha --hash=sha256:${H}\n`,
  '--no-binary given a value that starts with "-"': `--no-binary -x\nalpha==1.0 --hash=sha256:${H}\n`,
  '--only-binary given a value that starts with "-", after a pin': `alpha==1.0 --hash=sha256:${H} --only-binary -\n`,
};
const INCLUDED: Record<string, string> = {
  'other.txt': `gamma==2.0 --hash=sha256:${H3}\n`,
  'more.txt': `delta==3.0 --hash=sha256:${H2}\n`,
};

const PIP_READS = `
import json, os, sys
from pip._internal.exceptions import CommandError, InstallationError
from pip._internal.network.session import PipSession
from pip._internal.req.constructors import install_req_from_parsed_requirement
from pip._internal.req.req_file import parse_requirements
from pip._vendor.packaging.markers import InvalidMarker
out = {}
for name, path in json.load(sys.stdin):
    try:
        pins = []
        for parsed in parse_requirements(path, PipSession()):
            req = install_req_from_parsed_requirement(parsed)
            hashes = (parsed.options or {}).get('hashes') or {}
            # --require-hashes mode (any --hash puts pip in it): every requirement pinned and hashed
            if not req.is_pinned or not hashes:
                raise InstallationError('not pinned with hashes: %s' % req.req)
            spec = str(req.req.specifier)
            pins.append([req.req.name, spec, sorted(req.req.extras), req.markers is not None, sorted(hashes.get('sha256', []))])
        out[name] = pins
    except (CommandError, InstallationError, InvalidMarker, SystemExit) as e:
        out[name] = None
print(json.dumps(out))
`;

const dir = mkdtempSync(join(tmpdir(), 'ferry-pipreqfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('requirements files as pip 23.2 reads them', () => {
  for (const [file, text] of Object.entries(INCLUDED)) writeFileSync(join(dir, file), text);
  const files = Object.keys(CASES).map((name, i) => {
    const file = `case-${i}.txt`;
    writeFileSync(join(dir, file), CASES[name]!);
    return [name, join(dir, file)] as const;
  });
  const pip = JSON.parse(
    execFileSync('python3', ['-c', PIP_READS], { input: JSON.stringify(files), encoding: 'utf8', env: { ...process.env, [VAR]: '1.0', PIP_CONFIG_FILE: '/dev/null' }, stdio: ['pipe', 'pipe', 'ignore'] }),
  ) as Record<string, unknown[] | null>;

  it('ferry reads the same pins as pip, or refuses the file as pip does, in every case', async () => {
    process.env[VAR] = '1.0';
    const differ: string[] = [];
    try {
      for (const [name, path] of files) {
        let ferry: unknown[] | null;
        try {
          const r = await readRequirementsFile(path, dir);
          // pip keeps a digest as written; ferry reads it case-insensitively (none here is in upper case)
          ferry = r.pins.map((p) => [p.name, `${p.arbitrary ? '===' : '=='}${p.version}`, [...p.extras].sort(), p.marker !== undefined, [...p.hashes].sort()]);
        } catch {
          ferry = null;
        }
        if (JSON.stringify(ferry) !== JSON.stringify(pip[name])) differ.push(`${name}: pip ${JSON.stringify(pip[name])}, ferry ${JSON.stringify(ferry)}`);
      }
    } finally {
      delete process.env[VAR];
    }
    expect(differ).toEqual([]);
  });

  it('the cases are not all alike', () => {
    expect(Object.values(pip).filter((p) => p === null).length).toBeGreaterThan(3);
    expect(Object.values(pip).filter((p) => p !== null).length).toBeGreaterThan(10);
  });
});
