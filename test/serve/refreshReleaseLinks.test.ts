import { mkdir, mkdtemp, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/errors.js';
import { refreshReleaseLinks } from '../../src/serve/refreshReleaseLinks.js';
import type { Logger } from '../../src/ui/log.js';

function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info: ${m}`), warn: (m) => lines.push(`warn: ${m}`), progress() {}, event() {} };
}

describe('refreshing STORE/releases for a static web server (ferry serve --sync-links, --nginx-config)', () => {
  let dir: string;
  const digest = 'a'.repeat(64);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-refresh-links-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function store(name: string): Promise<string> {
    const s = join(dir, name);
    await mkdir(join(s, 'refs/app'), { recursive: true });
    await writeFile(join(s, 'refs/app/1.0.0'), `${digest}\n`);
    return s;
  }

  it('links every release and says what changed', async () => {
    const s = await store('fresh');
    const log = recorder();
    await refreshReleaseLinks(s, log);
    expect(await readlink(join(s, 'releases/app/1.0.0'))).toBe(`../../bundles/${digest}`);
    // the ref names a bundle the store lacks: its release link is made (a web server answers 404 under it), and
    // the mirror refresh, which must read the manifest, says so and goes on with the other releases
    expect(log.lines).toEqual([
      `warn: ignoring ${s}/refs/app/1.0.0: bundle ${digest} is not in the store ${s} (no ${s}/bundles/${digest}/manifest.json); import it again`,
      `info: release links in ${s}/releases: 1 created, 0 updated, 0 removed`,
    ]);
  });

  it('stops on a store it cannot bring in step, unless it only warns (printing the nginx configuration)', async () => {
    const s = await store('planted');
    // STORE/releases planted as a link out of the store: ferry never follows one
    await mkdir(join(dir, 'elsewhere'), { recursive: true });
    await symlink(join(dir, 'elsewhere'), join(s, 'releases'));
    await expect(refreshReleaseLinks(s, recorder())).rejects.toThrow(StoreError);
    const log = recorder();
    await refreshReleaseLinks(s, log, { warnOnly: true });
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toMatch(new RegExp(`^warn: cannot refresh ${s}/releases \\(.+\\); run ferry serve --sync-links as the store's owner$`));
  });
});
