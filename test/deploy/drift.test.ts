import { describe, expect, it } from 'vitest';
import type { DriftResult } from '../../src/deploy/checkDrift.js';
import { driftReport } from '../../src/deploy/driftReport.js';
import { renderTemplate } from '../../src/template/renderTemplate.js';
import { comparePins } from '../../src/deploy/steps/comparePins.js';
import { DIFF_MAX_LINES, shortDiff } from '../../src/deploy/steps/inspectFile.js';
import { marksSecret } from '../../src/template/marksSecret.js';
import { ferry } from '../helpers/cli.js';

const result = (drift: DriftResult['drift'], extra: Partial<DriftResult> = {}): DriftResult => ({
  release: { name: 'site', version: '1', digest: 'ab'.repeat(32) },
  drift,
  inspected: 7,
  unchecked: [],
  failed: [],
  hosts: 2,
  ...extra,
});

describe('drift: comparing a venv with its pins', () => {
  const pins = 'Foo_Bar==1.2 \\\n    --hash=sha256:aa\nbaz[extra]==2.0 --hash=sha256:bb  # a comment\nonly-old==1.0 ; python_version < "3"\n';

  it('matches names the way pip normalizes them and ignores what python -m venv brings', () => {
    expect(comparePins(pins, 'foo-bar==1.2\nBaz==2.0\npip==23.0.1\nsetuptools==66.1.1\n')).toEqual([]);
  });

  it('reports a pinned package at another version, a missing one and one nobody pinned', () => {
    expect(comparePins(pins, 'foo-bar==1.3\nintruder==0.1\n')).toEqual([
      { what: 'package', want: 'Foo_Bar 1.2', have: 'foo-bar 1.3' },
      { what: 'package', want: 'baz 2.0', have: 'baz not installed' },
      { what: 'package', want: 'no intruder', have: 'intruder 0.1' },
    ]);
  });
});

describe('drift: file diffs', () => {
  it('is a unified diff from the host to the wanted text', () => {
    expect(shortDiff('/etc/a.conf', 'a\nb\nc\n', 'a\nB\nc\n')).toBe('--- /etc/a.conf (host)\n+++ /etc/a.conf (wanted)\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c');
  });

  it(`is cut after ${DIFF_MAX_LINES} lines, saying how many more there are`, () => {
    const many = (p: string) => Array.from({ length: 100 }, (_, i) => `${p}${i}`).join('\n') + '\n';
    const lines = shortDiff('/f', many('x'), many('y')).split('\n');
    expect(lines).toHaveLength(DIFF_MAX_LINES + 1);
    expect(lines.at(-1)).toBe(`… ${3 + 200 - DIFF_MAX_LINES} more lines`);
  });

  it('prints what a host sent with control characters escaped, so a file cannot drive the terminal', () => {
    const out = driftReport(
      result([
        {
          host: 'h1',
          service: 'web',
          stage: 'configure',
          step: 'template',
          key: '0',
          target: '/etc/x',
          differences: [{ what: 'content', want: 'sha256 1', have: 'sha256 2', diff: shortDiff('/etc/x', 'ok\n\x1b]0;pwned\x07\x1b[2J\n', 'ok\n') }],
        },
      ]),
    );
    expect(out).not.toMatch(/\x1b|\x07/);
    expect(out).toContain('    -\\x1b]0;pwned\\x07\\x1b[2J');
    expect(out).toMatch(/1 of 7 steps differs on 1 of 2 hosts \(site 1, abababababab\)\n$/);
  });

  it('says no drift, and names hosts that could not be checked', () => {
    expect(driftReport(result([], { failed: [{ host: 'h2', error: 'ssh: connect refused' }] }))).toBe('h2: not checked: ssh: connect refused\nno drift: 7 steps on 1 host match (site 1, abababababab)\n');
  });
});

describe('drift: secrets a template marks', () => {
  it('the secret filter renders the value as it is', () => {
    expect(renderTemplate('password {{ pw | secret }}\n', { pw: 'p4ss' }, 't')).toBe('password p4ss\n');
  });

  it('a template or option that uses it is recognised, with or without spaces and after other filters', () => {
    expect(marksSecret('password {{ pw | secret }}')).toBe(true);
    expect(marksSecret('password {{ pw|default("x")|secret }}')).toBe(true);
    expect(marksSecret('password {{ pw }} # secretary')).toBe(false);
  });
});

describe('drift: the command line', () => {
  it('refuses --check with --repair (one reads, the other acts) as wrong usage, before reading anything', async () => {
    const r = await ferry(['deploy', 'site@1', '-i', '/nonexistent/inventory.yaml', '--store', '/nonexistent', '--check', '--repair']);
    expect(r.code).toBe(64);
    expect(r.stderr).toBe('ferry: --check changes nothing and --repair changes what differs: give one of them\n');
  });
});
