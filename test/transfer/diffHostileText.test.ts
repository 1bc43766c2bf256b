import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ferry } from '../helpers/cli.js';
import { manifestFor } from '../helpers/craft.js';
import { canonicalJson } from '../../src/util/canonicalJson.js';

/**
 * `ferry diff` prints what two manifests list, and reads them unverified: the fields of manifest.artifacts its
 * schema leaves free (an apt package's architecture, a mirror's package records) are the bundle's text. A
 * newline in one printed a line of the attacker's choosing ("  - openssl ...": a package removed that was not),
 * and a carriage return or escape sequence went to the terminal as it was.
 */
describe('ferry diff prints manifest text escaped, one line per item', () => {
  let dir: string;
  const forged = '\n  - openssl 3.0.11-1 \x1b[2K\r';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-diff-text-'));
    for (const [version, pkg] of [['1.0.0', '1.0-1'], ['2.0.0', '2.0-1']] as const) {
      const m = manifestFor([{ path: 'files/app/a.txt', data: Buffer.from(version) }], {
        name: 'app',
        version,
        artifacts: {
          apt: { suite: 'bookworm', packages: [{ name: 'curl', version: pkg, architecture: `amd64${forged}` }] },
          mirror: { apt: { debian: { suites: ['bookworm'], packages: [{ name: `jq${forged}`, version: pkg, architecture: 'amd64', suite: 'bookworm' }] } } },
        },
      });
      await writeFile(join(dir, `${version}.json`), canonicalJson(m));
    }
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('shows the newline, carriage return and escape as escapes, never as a line of their own', async () => {
    const r = await ferry(['diff', join(dir, '1.0.0.json'), join(dir, '2.0.0.json')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/[\r\x1b]/);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('  - openssl'))).toEqual([]);
    expect(r.stdout).toContain('  ~ curl:amd64\\n  - openssl 3.0.11-1 \\x1b[2K\\r 1.0-1 -> 2.0-1\n');
    expect(r.stdout).toContain('  ~ debian/bookworm/jq\\n  - openssl 3.0.11-1 \\x1b[2K\\r:amd64 1.0-1 -> 2.0-1\n');
  });
});
