import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeployError } from '../../src/errors.js';
import { LocalTransport } from '../../src/deploy/transport/localTransport.js';
import { OUTPUT_MAX_BYTES } from '../../src/deploy/transport/spawnCommand.js';
import { ferry } from '../helpers/cli.js';
import { writeRelease } from './storeFixture.js';

/**
 * A host's output is kept in memory until its command ends: a host that floods stdout or stderr (hostile,
 * or a command gone wrong) is stopped at OUTPUT_MAX_BYTES and its step fails with one line, instead of
 * growing the runner without bound.
 */
describe('what a host prints is bounded', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-output-bound-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(['stdout', 'stderr'] as const)('a command that prints more than the bound on %s is stopped (DeployError, not transient)', async (stream) => {
    const flood = `head -c ${OUTPUT_MAX_BYTES + 4096} /dev/zero${stream === 'stderr' ? ' >&2' : ''}`;
    const err = await new LocalTransport('me').run(flood).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeployError);
    expect((err as Error).message).toBe(`host me: the command printed more than 32 MiB on ${stream} and was stopped (ferry keeps a command's output in memory: send large output to a file on the host)`);
  });

  it('output up to the bound is returned whole (the control)', async () => {
    const r = await new LocalTransport('me').run(`head -c ${OUTPUT_MAX_BYTES} /dev/zero | tr '\\0' x`);
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(OUTPUT_MAX_BYTES);
  });

  it('a deploy whose configure command floods its output fails that host with one line, exit 72', async () => {
    const store = join(dir, 'store');
    const root = join(dir, 'host');
    writeRelease(store, { name: 'noisy', version: '1', services: { web: { version: '1.0.0', groups: ['web'], files: { 'note.txt': 'staged\n' }, configure: [{ command: { run: `head -c ${OUTPUT_MAX_BYTES * 2} /dev/zero` } }] } } });
    const inventory = join(dir, 'inventory.yaml');
    writeFileSync(inventory, stringify({ groups: { web: { hosts: ['me'] } }, hosts: { me: { transport: 'local', vars: { root, ferry_data_dir: `${root}/var/lib/ferry`, ferry_ansible_facts_dir: '' } } } }));
    const r = await ferry(['deploy', 'noisy@1', '--store', store, '--push', '--allow-local', '-i', inventory]);
    expect(r.code, r.stderr).toBe(72);
    expect(r.stdout + r.stderr).toMatch(/the command printed more than 32 MiB on stdout and was stopped/);
  });
});
