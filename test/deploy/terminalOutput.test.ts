import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { repo } from './fixtures.js';
import { writeRelease } from './storeFixture.js';

const HOSTS = 24;

/**
 * The live view on a real terminal (a pseudo-terminal from util-linux `script`) above 20 hosts: counters
 * per stage and the running hosts, not a line per host; a failure printed once. Hosts are folders (local
 * transport), so the test needs no sshd.
 */
describe('deploy on a terminal, above 20 hosts', () => {
  let dir: string;
  let inventory: string;
  let store: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-tty-'));
    store = join(dir, 'store');
    writeRelease(store, {
      name: 'big',
      version: '1',
      services: {
        web: {
          version: '1.0.0',
          groups: ['web'],
          files: { 'app.conf': 'x\n' },
          configure: [{ file: { src: 'app.conf', dest: '{{ root }}/etc/app.conf' } }, { command: { run: 'test "{{ fail | default(\'no\') }}" != yes' } }],
        },
      },
    });
    const names = Array.from({ length: HOSTS }, (_, i) => `t${i + 1}`);
    const hosts = Object.fromEntries(
      names.map((n) => {
        const root = join(dir, 'hosts', n);
        mkdirSync(root, { recursive: true });
        return [n, { transport: 'local', vars: { root, ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '', ...(n === 't7' ? { fail: 'yes' } : {}) } }];
      }),
    );
    inventory = join(dir, 'inventory.yaml');
    writeFileSync(inventory, stringify({ groups: { web: { hosts: names } }, hosts }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('shows counters and running hosts, prints the failure once, and ends with the per-stage counts', async () => {
    const cmd = ['node', join(repo, 'bin/ferry.js'), 'deploy', 'big@1', '--store', store, '--allow-local', '-i', inventory, '--push', '--serial', '25%'].map((a) => `'${a}'`).join(' ');
    // script -e: exit with the command's status; the pty gets both stdout and stderr
    const r = await run('script', ['-qec', cmd, '/dev/null']);
    expect(r.code, r.stdout).toBe(72);
    const screen = r.stdout.replace(/\r/g, '');
    expect(screen).toContain('\x1b[K'); // drawn in place
    expect(screen.match(/FAILED t7 web configure: [^\n]*exit status 1/g)).toHaveLength(1);
    // the last view: every host done with stage and install, all but t7 with configure
    expect(screen).toMatch(/stage {6}24\/24 done\n\x1b\[Kinstall {4}24\/24 done\n\x1b\[Kconfigure  23\/24 done {2}1 failed\n\x1b\[K\d+:\d\d elapsed\n/);
    // never a line per host, as a small run shows it
    expect(screen).not.toMatch(/^(\x1b\[K)?t\d+ +\d+ ran +\d+ skipped/m);
    expect(screen).toMatch(/^STAGE +RAN +SKIPPED +FAILED +NOT RUN\nstage +24 +0 +0 +0\ninstall +24 +0 +0 +0\nconfigure +23 +0 +1 +0\n/m);
  });
});
