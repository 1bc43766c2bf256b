import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FERRY_BIN, ferry, run } from '../helpers/cli.js';

describe('ferry key generate checks the user ID; a closed output ends ferry quietly', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-key-output-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each([
    ['--email', 't@x', /^ferry: --email "t@x" is not an e-mail address: give NAME@HOST\.DOMAIN\n$/],
    ['--email', 'a b@example.org', /^ferry: --email "a b@example.org" is not an e-mail address/],
    ['--name', 'line\nbreak', /^ferry: --name must be non-empty text without control characters\n$/],
    ['--name', ' ', /^ferry: --name must be non-empty text without control characters\n$/],
    // past 2106-02-07 an OpenPGP time wraps: openpgp.js wrote 49711 days as a key that expires the next day
    ['--expires-days', '49711', /^ferry: --expires-days 49711: the key would expire after 2106-02-07T06:28:16\.000Z, later than OpenPGP's 32-bit times go \(gpg and apt would take it as expired\); give fewer days, or none for a key that does not expire\n$/],
    ['--expires-days', '30000', /^ferry: --expires-days 30000: the key would expire after 2106-02-07/],
  ])('%s %j: exit 64, one line, no key file written', async (option, value, message) => {
    const out = join(dir, 'refused');
    const args = option === '--name' ? ['key', 'generate', '--name', value, '--out', out] : ['key', 'generate', '--name', 'Team', option, value, '--out', out];
    const r = await ferry(args);
    expect(r.code, r.stderr).toBe(64);
    expect(r.stderr).toMatch(message);
    expect(await readdir(dir)).toEqual([]);
  });

  it('a valid e-mail address makes a key', async () => {
    const r = await ferry(['key', 'generate', '--name', 'Team', '--email', 'team@example.org', '--out', join(dir, 'ok')]);
    expect(r.code, r.stderr).toBe(0);
    expect((await readdir(dir)).sort()).toEqual(['ok.asc', 'ok.revocation.asc', 'ok.secret.asc']);
  });

  it('--expires-days makes a key that gpg reads as expiring that many days after its creation', async () => {
    const out = join(dir, 'expiring', 'key');
    await mkdir(join(dir, 'expiring', 'gnupg'), { recursive: true, mode: 0o700 });
    const r = await ferry(['key', 'generate', '--name', 'Team', '--expires-days', '20000', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const shown = await run('gpg', ['--homedir', join(dir, 'expiring', 'gnupg'), '--batch', '--with-colons', '--show-keys', `${out}.asc`]);
    const pub = shown.stdout.split('\n').find((l) => l.startsWith('pub:'))!.split(':');
    expect(pub[1], shown.stdout).not.toBe('e');
    expect(Number(pub[6]) - Number(pub[5])).toBe(20000 * 86400);
  });

  it('output into a pipe whose reader has gone (| head): exit 141 as by SIGPIPE, nothing on stderr', async () => {
    const child = spawn(process.execPath, [FERRY_BIN, 'key', 'generate', '--name', 'Team', '--out', join(dir, 'piped')], { stdio: ['ignore', 'pipe', 'pipe'] });
    // the reader goes away before ferry writes its first line
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(141);
  });
});
