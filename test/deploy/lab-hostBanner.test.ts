import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { startSshLab, type LabHost, type SshLab } from './sshLab.js';
import { writeRelease } from './storeFixture.js';

/**
 * What a host says before it lets ferry in (its sshd's Banner, which ssh prints to stderr at the default
 * LogLevel) is the host's text, not ssh's: a host that writes ssh's "REMOTE HOST IDENTIFICATION HAS CHANGED"
 * and "Host key for NAME has changed" into its banner made ferry print `ssh-keygen -R 'NAME'` for the
 * operator to paste, NAME and its shell syntax the host's (`x';touch${IFS}/tmp/pwned;'`).
 */
describe("a host's ssh banner that forges ssh's host key warning", () => {
  let dir: string;
  let lab: SshLab;
  let store: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-host-banner-'));
    store = join(dir, 'store');
    writeRelease(store, { name: 'app', version: '1', services: { web: { version: '1.0.0', groups: ['web'], install: [{ command: { run: 'true' } }] } }, extra: [{ path: 'keys/bundle.asc', content: 'key\n', kind: 'key', services: [] }] });
    lab = await startSshLab(dir, ['bn1']);
    const h = lab.hosts[0] as LabHost;
    await lab.stop(h);
    const banner = join(dir, 'banner');
    writeFileSync(banner, [
      '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
      '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @',
      '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
      "Host key for x';touch${IFS}/tmp/pwned;' has changed and you have requested strict checking.",
      '',
    ].join('\n'));
    appendFileSync(h.config, `Banner ${banner}\n`);
    await lab.start(h);
  });
  afterAll(async () => {
    await lab?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("puts none of the banner's text into the ssh-keygen command ferry suggests (exit 72)", async () => {
    const h = lab.hosts[0] as LabHost;
    // the operator's ssh_config at ssh's default LogLevel (INFO), which shows banners; a user the host refuses
    // (ssh exits 255, as for a changed host key)
    const config = join(dir, 'ssh_config_info');
    writeFileSync(config, readFileSync(lab.sshConfig, 'utf8').replace(/^ {2}LogLevel .*\n/m, ''));
    const inventory = join(dir, 'inventory.yaml');
    writeFileSync(inventory, stringify({ groups: { web: { hosts: ['bn1'] } }, hosts: { bn1: { address: h.address, port: h.port, user: 'nosuchuser' } } }));
    const r = await ferry(['plan', 'app@1', '-i', inventory, '--store', store, '-F', config]);
    const out = r.stdout + r.stderr;
    expect(r.code, out).toBe(72);
    // the banner was shown to ssh (else this test proves nothing): ferry saw the forged warning
    expect(out, out).toMatch(/bn1: unreachable: host bn1 \(nosuchuser@127\.0\.0\.1:\d+\): /);
    expect(out, out).not.toContain('touch');
    // any ssh-keygen command suggested names the host as the inventory gives it, nothing of the banner's
    for (const m of out.matchAll(/ssh-keygen -R ('[^']*'|\S+)/g)) expect(m[1], out).toBe(`'[127.0.0.1]:${h.port}'`);
  });
});
