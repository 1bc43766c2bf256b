import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { canRunLab, claimLabNet, LAB_SCRIPT, labFor, labNetPool } from '../helpers/lab.js';

const CLAIM_MODULE = new URL('../../scripts/lab/claimLabNet.mjs', import.meta.url).href;
const enabled = await canRunLab();

// Claims of this test live in a namespace of their own and on octets real labs never take, so they
// neither disturb nor race the labs of other tests and runs on this machine.
const namespace = `ferry-test-claim-${process.pid}`;
const realPool = new Set(labNetPool());
const pool = Array.from({ length: 254 }, (_, k) => k + 1).filter((o) => !realPool.has(o));

/** A second process that claims from `octets` and holds its claim until killed. */
async function claimInAnotherProcess(octets: number[]) {
  const code = `import { claimLabNet } from ${JSON.stringify(CLAIM_MODULE)};
try { const c = await claimLabNet({ pool: ${JSON.stringify(octets)}, namespace: ${JSON.stringify(namespace)} }); console.log('claimed ' + c.octet); setInterval(() => {}, 1 << 30); }
catch (err) { console.log('refused: ' + err.message); }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
  return { child, line };
}

describe('lab subnets: one claim per lab, held by its process', () => {
  it('gives two claims different subnets, and refuses a claimed subnet to another process', async () => {
    const a = await claimLabNet({ pool, namespace });
    const b = await claimLabNet({ pool, namespace });
    try {
      expect(a.net).toBe(`10.${a.octet}`);
      expect(b.octet).not.toBe(a.octet);
      const other = await claimInAnotherProcess([a.octet]);
      expect(other.line).toMatch(new RegExp(`^refused: no free lab subnet in 10\\.${a.octet}`));
    } finally {
      await a.release();
      await b.release();
    }
  });

  it('frees a subnet the moment its holder dies, even by SIGKILL, with nothing left to clean', async () => {
    const holder = await claimInAnotherProcess(pool);
    const octet = Number(/^claimed (\d+)$/.exec(holder.line)?.[1]);
    expect(octet).toBeGreaterThan(0);
    await expect(claimLabNet({ pool: [octet], namespace })).rejects.toThrow(/no free lab subnet/);
    const exited = new Promise((r) => holder.child.once('exit', r));
    holder.child.kill('SIGKILL');
    await exited;
    const again = await claimLabNet({ pool: [octet], namespace });
    expect(again.octet).toBe(octet);
    await again.release();
  });
});

describe.skipIf(!enabled)('labs side by side (root, network namespaces)', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('derives distinct names, folders, subnets and link prefixes for two labs of one run', async () => {
    const a = await labFor('side', 1);
    cleanup.push(() => a.close());
    const b = await labFor('side', 1);
    cleanup.push(() => b.close());
    expect(new Set([a.name, b.name]).size).toBe(2);
    expect(new Set([a.dir, b.dir]).size).toBe(2);
    expect(new Set([a.net, b.net]).size).toBe(2);
    expect(new Set([a.env.LAB_IFPREFIX, b.env.LAB_IFPREFIX]).size).toBe(2);
  });

  it('passes over a subnet this machine already uses, and lab.sh refuses to build a lab on it', async () => {
    // a subnet claimed here (so no other lab takes it), then put to use by an interface of the machine
    const mine = await claimLabNet();
    cleanup.push(() => mine.release());
    const link = `fyclaim${mine.octet}`;
    await run('ip', ['link', 'del', link]);
    expect((await run('ip', ['link', 'add', link, 'type', 'veth', 'peer', 'name', `${link}p`])).code).toBe(0);
    cleanup.push(() => run('ip', ['link', 'del', link]));
    expect((await run('ip', ['addr', 'add', `${mine.net}.9.1/30`, 'dev', link])).code).toBe(0);

    await expect(claimLabNet({ pool: [mine.octet], namespace })).rejects.toThrow(/no free lab subnet/);
    const env = { LAB_NAME: `ferry-lab-clash${mine.octet}`, LAB_NET: mine.net, LAB_IFPREFIX: `fc${mine.octet}h` };
    const up = await run('bash', [LAB_SCRIPT, 'up', '1'], { env });
    expect(up.code).not.toBe(0);
    expect(up.stderr).toContain(`lab: subnet ${mine.net}.0.0/16 is already in use on this machine`);
    // nothing of the refused lab was built
    expect((await run('ip', ['netns', 'list'])).stdout).not.toContain(env.LAB_NAME);
    expect((await run('test', ['-e', `/var/tmp/${env.LAB_NAME}`])).code).not.toBe(0);
  });
});
