import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { excludedFormat, readFormatControl } from '../../src/sources/python/formatControl.js';
import { readRequirementsFile } from '../../src/sources/python/readRequirementsFile.js';

// The formats pip 23.2 permits per project after reading a requirements file (its finder's FormatControl,
// which every line's --no-binary/--only-binary updates as pip reads it, an included file's where its -r
// is, and an option line's --prefer-binary), against ferry's reading of the same files.
const H = 'a'.repeat(64);
const PROJECTS = ['a', 'b', 'c', 'foo-bar-baz', 'd'];
const CASES: Record<string, string> = {
  'an include between two options': `--no-binary :all:\n-r inc.txt --only-binary=b\nA==1.0 --only-binary Foo_Bar.baz --hash=sha256:${H}\n`,
  'a later :all: clears what an include said': `-r inc.txt\n--no-binary :all:\n`,
  ':all: then :none: in one value': `--no-binary a,:all:,:none:,b\n--only-binary=:all:,c,:none:,d\n`,
  ':none: clears one side only': `--only-binary :all:\n--no-binary :none:\n--only-binary :none:\n--no-binary c\n`,
  '--prefer-binary on a pin line is dropped': `alpha==1.0 --hash=sha256:${H} --prefer-binary --no-binary=A\n`,
  'the other name spellings': `--only-binary FOO.bar-BAZ,B\n--no-binary foo__bar_baz\n`,
};

const PIP_READS = `
import json, sys, types
from pip._internal.models.format_control import FormatControl
from pip._internal.network.session import PipSession
from pip._internal.req.req_file import parse_requirements
class Finder:
    def __init__(self):
        self.format_control = FormatControl(set(), set())
        self.find_links, self.index_urls, self.prefer = [], [], False
        self.search_scope = types.SimpleNamespace(no_index=False)
    def set_prefer_binary(self): self.prefer = True
    def set_allow_all_prereleases(self): pass
out = {}
cases, projects = json.load(sys.stdin)
for name, path in cases:
    finder = Finder()
    list(parse_requirements(path, PipSession(), finder=finder))
    out[name] = {'prefer': finder.prefer, 'formats': {p: sorted(finder.format_control.get_allowed_formats(p)) for p in projects}}
print(json.dumps(out))
`;

const dir = mkdtempSync(join(tmpdir(), 'ferry-pipformat-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('--no-binary, --only-binary and --prefer-binary as pip 23.2 reads them', () => {
  writeFileSync(join(dir, 'inc.txt'), '--only-binary a,c\n--prefer-binary\n');
  const files = Object.keys(CASES).map((name, i) => {
    const file = `case-${i}.txt`;
    writeFileSync(join(dir, file), CASES[name]!);
    return [name, join(dir, file)] as const;
  });
  const pip = JSON.parse(execFileSync('python3', ['-c', PIP_READS], { input: JSON.stringify([files, PROJECTS]), encoding: 'utf8', env: { ...process.env, PIP_CONFIG_FILE: '/dev/null' } })) as Record<string, unknown>;

  it('ferry permits the same formats per project as pip, and prefers wheels when pip does', async () => {
    const differ: string[] = [];
    for (const [name, path] of files) {
      const r = await readRequirementsFile(path, dir);
      const fc = readFormatControl(r.formatOptions, r.preferBinary);
      const formats = Object.fromEntries(
        PROJECTS.map((p) => {
          const excluded = excludedFormat(fc, p)?.format;
          return [p, ['binary', 'source'].filter((f) => !(f === 'binary' ? excluded === 'wheel' : excluded === 'sdist'))];
        }),
      );
      const ferry = { prefer: fc.preferBinary !== undefined, formats };
      if (JSON.stringify(ferry) !== JSON.stringify(pip[name])) differ.push(`${name}: pip ${JSON.stringify(pip[name])}, ferry ${JSON.stringify(ferry)}`);
    }
    expect(differ).toEqual([]);
  });

  it('the cases are not all alike', () => {
    const seen = new Set(Object.values(pip).map((v) => JSON.stringify(v)));
    expect(seen.size).toBeGreaterThan(4);
  });
});
