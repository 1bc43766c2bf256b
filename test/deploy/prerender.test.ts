import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, type RunResult } from '../helpers/cli.js';
import { writeRelease } from './storeFixture.js';

/**
 * Step options and templates are rendered with each host's variables. A value that does not render, or
 * renders to something a step refuses (a `dest` that leaves its place, a unit name that is not one), is found
 * on the runner for every chosen host before any host is contacted: the run is refused with one line, and no
 * host (not even the first, which a rolling deploy would have finished) is touched.
 */
describe('an inventory whose values a host cannot render is refused before any host is touched', () => {
  let dir: string;
  let store: string;
  const HOSTS = ['h1', 'h2', 'h3'];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-prerender-'));
    store = join(dir, 'store');
    writeRelease(store, {
      name: 'pre',
      version: '1',
      services: {
        web: {
          version: '1.0.0',
          groups: ['web'],
          files: { 'app.conf.j2': 'colour {{ colour }}\n' },
          install: [{ command: { run: 'touch {{ root }}/installed' } }],
          configure: [{ file: { content: 'x\n', dest: '{{ root }}{{ sub }}/app.txt' } }, { template: { src: 'app.conf.j2', dest: '{{ root }}/etc/app.conf' } }],
        },
      },
    });
    writeRelease(store, {
      name: 'unit',
      version: '1',
      services: { web: { version: '1.0.0', groups: ['web'], files: { 'a.txt': 'a\n' }, install: [{ command: { run: 'touch {{ root }}/installed' } }], configure: [{ service: { name: '{{ unit }}' } }] } },
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** three local hosts, each under its own empty folder; `h2` gets `vars` over the defaults */
  function inventory(name: string, h2: Record<string, unknown>): string {
    const hosts: Record<string, unknown> = {};
    for (const h of HOSTS) {
      const root = join(dir, name, h);
      rmSync(root, { recursive: true, force: true });
      mkdirSync(root, { recursive: true });
      const vars: Record<string, unknown> = { root, ferry_data_dir: `${root}/var/lib/ferry`, ferry_ansible_facts_dir: '', colour: 'blue', sub: '/etc', unit: 'web.service' };
      if (h === 'h2') {
        Object.assign(vars, h2);
        for (const [k, v] of Object.entries(h2)) if (v === undefined) delete vars[k];
      }
      hosts[h] = { transport: 'local', vars };
    }
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, stringify({ groups: { web: { hosts: HOSTS } }, hosts }));
    return file;
  }

  /** exit `code`, one line on stderr matching `pattern`, and no host's folder holds anything */
  function expectRefused(r: RunResult, name: string, pattern: RegExp) {
    expect(r.code, r.stderr).toBe(72);
    expect(r.stderr.endsWith('\n'), r.stderr).toBe(true);
    expect(r.stderr.slice(0, -1).split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(pattern);
    // no staged bundle, no fact, no lock, no install marker: on h1 (first in the rollout) as on the others
    for (const h of HOSTS) expect(readdirSync(join(dir, name, h)), `${name}/${h}`).toEqual([]);
  }

  const deploy = (release: string, file: string, ...more: string[]) => ferry(['deploy', release, '-i', file, '--store', store, '--allow-local', '--push', ...more]);
  const plan = (release: string, file: string) => ferry(['plan', release, '-i', file, '--store', store, '--allow-local']);

  it('a dest that a host value makes leave its place: deploy and plan refuse, naming the host and step (exit 72)', async () => {
    const file = inventory('escape', { sub: '/../../../../tmp/elsewhere' });
    const line = /^ferry: host h2, service web, configure file: .*dest.*\n$/;
    expectRefused(await deploy('pre@1', file), 'escape', line);
    expectRefused(await plan('pre@1', file), 'escape', line);
    // with --serial 3 too (one batch): refused, not configured on h1 and h3 beside the failure
    expectRefused(await deploy('pre@1', file, '--serial', '3'), 'escape', line);
  });

  it('an undefined variable in a template a host renders: refused the same way', async () => {
    const file = inventory('undef', { colour: undefined });
    const line = /^ferry: template files\/web\/app\.conf\.j2 for host h2: cannot render \{\{ colour \}\}: line 1: colour is an undefined value; .*\n$/;
    expectRefused(await deploy('pre@1', file), 'undef', line);
    expectRefused(await plan('pre@1', file), 'undef', line);
  });

  it('an undefined variable in a step option, and a unit name that is not one: refused too', async () => {
    const file = inventory('undefopt', { root: undefined, ferry_data_dir: join(dir, 'undefopt', 'h2', 'var/lib/ferry') });
    expectRefused(await deploy('pre@1', file), 'undefopt', /^ferry: host h2, service web, install command option run: cannot render \{\{ root \}\}: root is an undefined value; .*\n$/);
    const unit = inventory('unit', { unit: '-x; touch /tmp/p' });
    expectRefused(await deploy('unit@1', unit), 'unit', /^ferry: host h2, service web, configure service: .*name.*\n$/);
  });

  it('a valid inventory still deploys to every host', async () => {
    const file = inventory('valid', {});
    const r = await deploy('pre@1', file);
    expect(r.code, r.stderr).toBe(0);
    for (const h of HOSTS) {
      const root = join(dir, 'valid', h);
      expect(readFileSync(join(root, 'etc/app.conf'), 'utf8')).toBe('colour blue\n');
      expect(readFileSync(join(root, 'etc/app.txt'), 'utf8')).toBe('x\n');
      expect(existsSync(join(root, 'installed'))).toBe(true);
      expect(existsSync(join(root, 'var/lib/ferry/facts/web.json'))).toBe(true);
    }
  });
});
