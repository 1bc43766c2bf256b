import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FERRY_BIN, ferry, run } from '../helpers/cli.js';
import { repo } from './fixtures.js';
import { writeRelease } from './storeFixture.js';
import { folderSite } from './folderSite.js';

/**
 * One compromised host of a fleet (folder hosts, the local transport): what it sends back, its facts, must
 * reach the operator's terminal as text, and say nothing about the other hosts.
 */
const HOSTS = ['w1', 'w2'];

function site(prefix: string) {
  const s = folderSite(`hostilefacts-${prefix}`, HOSTS);
  const facts = (h: string) => join(s.root(h), 'var/lib/ferry/facts');
  return { ...s, facts, common: ['-i', s.inventory, '--allow-local', '--store', s.store] };
}

function release(store: string, version: string) {
  return writeRelease(store, {
    name: 'hf',
    version,
    epoch: `2026-11-0${version[0]}T00:00:00Z`,
    services: { web: { version, groups: ['web'], files: { 'web.conf': 'web\n' }, configure: [{ command: { run: 'true' } }] } },
  });
}

/** Anything that would drive a terminal: ESC (CSI, OSC), a carriage return, BEL, other C0/C1 controls. */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

beforeAll(() => {
  if (!existsSync(join(repo, 'dist/cli/main.js'))) throw new Error('run npm run build first: the test runs bin/ferry.js');
});

describe('status: a host whose facts carry escape sequences', () => {
  const s = site('status');
  beforeAll(async () => {
    release(s.store, '1.0.0');
    const r = await ferry(['deploy', 'hf@1.0.0', ...s.common, '--push']);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(() => rmSync(s.dir, { recursive: true, force: true }));

  const file = () => join(s.facts('w1'), 'web.json');
  let original = '';
  beforeAll(() => {
    original = readFileSync(file(), 'utf8');
  });
  const evil = '\x1b[2K\r\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[1A\n2 hosts, complete';

  it('a digest that is no bundle digest makes the fact unreadable: the host is reported so, the other host as it is', async () => {
    const fact = JSON.parse(original);
    fact.digest = evil.slice(0, 12) + fact.digest;
    fact.stages.configure.digest = '\x1b[1A\x1b[2K' + fact.stages.configure.digest;
    writeFileSync(file(), JSON.stringify(fact));
    const r = await ferry(['status', ...s.common]);
    expect(r.stdout).not.toMatch(CONTROL);
    expect(r.stdout).toMatch(/^w1 +web +- +- +- +- +- +- +\S+\/web\.json is not a ferry fact$/m);
    expect(r.stdout).toMatch(/^w2 +web +hf 1\.0\.0 +1\.0\.0 +[0-9a-f]{12} +done +done +done +yes$/m);
    expect(r.stdout).toMatch(/^1 distinct bundle digest across 2 hosts \([0-9a-f]{12}\)$/m);
  });

  it("a failure's step and a service name with escape sequences are printed escaped", async () => {
    const fact = JSON.parse(original);
    fact.service = `web${evil}`;
    fact.failure = { stage: 'configure', step: `cmd${evil}`, time: 'now', message: 'x', digest: fact.digest };
    writeFileSync(file(), JSON.stringify({ ...JSON.parse(original), failure: fact.failure }));
    // a fact file whose name carries the sequence, and a fact that claims it
    writeFileSync(join(s.facts('w1'), 'web\x1b[2K\r\x07.json'), JSON.stringify({ ...fact, service: 'web\x1b[2K\r\x07' }));
    const r = await ferry(['status', ...s.common]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(CONTROL);
    expect(r.stdout).toContain('w1 web: configure cmd\\x1b[2K\\r\\x1b]52;c;ZWNobyBwd25lZA==\\x07\\x1b[1A\\n2 hosts, complete failed at now: x\n');
    expect(r.stdout).toContain('w1 web\\x1b[2K\\r\\x07: configure cmd\\x1b[2K');
    expect(r.stdout).toMatch(/^w2 +web +hf 1\.0\.0 +1\.0\.0 +[0-9a-f]{12} +done +done +done +yes$/m);
  });
});

describe('deploy: a host whose hold does not end when the run is done', () => {
  const s = site('release');
  const bin = join(s.dir, 'bin');
  const pidFile = join(s.dir, 'hung.pid');
  afterAll(() => {
    // the hung part of w1's hold, when ferry left it running
    if (existsSync(pidFile)) {
      try {
        process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
      } catch {
        // ended with the hold
      }
    }
    rmSync(s.dir, { recursive: true, force: true });
  });

  // w1's hold ignores the end of its input (its `rm` of the holder line never returns): a host that keeps the
  // session open. The run had to wait for it forever, and printed no report, for w2 neither.
  it('is waited for at most --timeout: the report comes, for both hosts', async () => {
    release(s.store, '1.0.0');
    mkdirSync(bin);
    writeFileSync(join(bin, 'rm'), `#!/bin/sh\ncase "$*" in *${s.root('w1')}/var/lib/ferry/run/holder*) echo $$ > ${pidFile}; exec sleep 3600;; esac\nexec /bin/rm "$@"\n`, { mode: 0o755 });
    // GNU timeout ends a ferry that waits for ever (exit 124)
    const r = await run('timeout', ['-s', 'KILL', '60', process.execPath, FERRY_BIN, 'deploy', 'hf@1.0.0', ...s.common, '--push', '--timeout', '5'], { env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^w1 +web +ran/m);
    expect(r.stdout).toMatch(/^w2 +web +ran/m);
    expect(r.stderr).toContain('warning: host w1: its hold (DATA/run/lock) did not end within --timeout after the run; stopped waiting for it\n');
  }, 120_000);
});

describe('plan and deploy: a fact written for another host', () => {
  const s = site('other');
  afterAll(() => rmSync(s.dir, { recursive: true, force: true }));

  // status said so, but plan and deploy took w2's checkpoints for w1's and skipped the stages they showed done
  it('is not taken for this host: its stages run again, and plan, deploy and status say why', async () => {
    release(s.store, '1.0.0');
    expect((await ferry(['deploy', 'hf@1.0.0', ...s.common, '--push'])).code).toBe(0);
    writeFileSync(join(s.facts('w1'), 'web.json'), readFileSync(join(s.facts('w2'), 'web.json')));
    const why = 'the fact was written for host w2, not this one';
    const plan = await ferry(['plan', 'hf@1.0.0', ...s.common]);
    expect(plan.code, plan.stderr).toBe(0);
    for (const stage of ['stage', 'install', 'configure']) expect(plan.stdout).toMatch(new RegExp(`^w1 +web +${stage} +run +${why}, running again$`, 'm'));
    expect(plan.stdout).toMatch(/^w2 +web +configure +skip +done /m);
    const status = await ferry(['status', ...s.common]);
    expect(status.stdout).toMatch(new RegExp(`^w1 +web +- .* ${why}$`, 'm'));
    const deploy = await ferry(['deploy', 'hf@1.0.0', ...s.common, '--push', '--json']);
    expect(deploy.code, deploy.stderr).toBe(0);
    const w1 = JSON.parse(deploy.stdout).hosts.find((h: { host: string }) => h.host === 'w1');
    expect(Object.values(w1.services.web).map((o) => (o as { status: string }).status)).toEqual(['ran', 'ran', 'ran']);
    expect(JSON.parse(readFileSync(join(s.facts('w1'), 'web.json'), 'utf8')).host).toBe('w1');
  });
});

describe('status and plan: a host whose facts command fails with lines of its own', () => {
  const s = site('lines');
  const bin = join(s.dir, 'bin');
  afterAll(() => rmSync(s.dir, { recursive: true, force: true }));

  // the host's error was printed with its newlines: its lines stood among ferry's, a forged row and summary too
  it('prints its error on its one line', async () => {
    release(s.store, '1.0.0');
    expect((await ferry(['deploy', 'hf@1.0.0', ...s.common, '--push'])).code).toBe(0);
    mkdirSync(bin);
    // w1's shell prints lines that look like ferry's on its stderr and fails (the command reading its facts ends with 137)
    const forged = 'w2    web      hf 1.0.0  1.0.0    0123456789ab  done   done     done       yes\n1 distinct bundle digest across 2 hosts (0123456789ab)';
    // its cat writes them to the stderr of the shell that runs ferry's command, also where ferry's facts script
    // sends cat's to /dev/null (pidfd_getfd, syscall 438, takes that shell's fd 2), then kills the subshell
    const cat = [
      '#!/usr/bin/env python3',
      'import ctypes, os, sys',
      `if ${JSON.stringify(`${s.root('w1')}/var/lib/ferry/facts/`)} in ' '.join(sys.argv):`,
      "    shell = int(open('/proc/%d/stat' % os.getppid()).read().rsplit(')', 1)[1].split()[1])",
      '    fd = ctypes.CDLL(None).syscall(438, os.pidfd_open(shell), 2, 0)',
      `    os.write(fd, ${JSON.stringify(`\n${forged}\n`)}.encode())`,
      '    os.kill(os.getppid(), 9)',
      "os.execv('/bin/cat', ['cat'] + sys.argv[1:])",
    ];
    writeFileSync(join(bin, 'cat'), cat.join('\n') + '\n', { mode: 0o755 });
    const env = { PATH: `${bin}:${process.env.PATH}` };
    for (const command of [['status'], ['plan', 'hf@1.0.0']]) {
      const r = await ferry([...command, ...s.common], { env });
      expect(r.code, r.stderr).toBe(72);
      const lines = r.stdout.split('\n');
      expect(lines).not.toContain('1 distinct bundle digest across 2 hosts (0123456789ab)');
      expect(lines.filter((l) => l.includes('0123456789ab')).length).toBe(1);
      expect(r.stdout).toMatch(/^w1: unreachable: host w1: cannot read facts in \S+: w2 {4}web .*\\n1 distinct bundle digest across 2 hosts \(0123456789ab\)(\\n.*)?$/m);
    }
  });
});

describe('deploy: a fact nested deeper than it can be written back', () => {
  const s = site('deep');
  afterAll(() => rmSync(s.dir, { recursive: true, force: true }));

  // its fields beyond ferry's are kept and written back: the host failed every run with "Maximum call stack size exceeded"
  it('is read as not a ferry fact: the host is deployed and gets a fact of its own', async () => {
    release(s.store, '1.0.0');
    release(s.store, '2.0.0');
    expect((await ferry(['deploy', 'hf@1.0.0', ...s.common, '--push'])).code).toBe(0);
    const file = join(s.facts('w1'), 'web.json');
    writeFileSync(file, readFileSync(file, 'utf8').trim().slice(0, -1) + ',"x":' + '['.repeat(1_000_000) + ']'.repeat(1_000_000) + '}');
    const plan = await ferry(['plan', 'hf@2.0.0', ...s.common]);
    expect(plan.stdout).toMatch(/^w1 +web +stage +run +\S+\/web\.json is not a ferry fact: more than 100,000 objects, lists, items and keys, running again$/m);
    const r = await ferry(['deploy', 'hf@2.0.0', ...s.common, '--push']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ host: 'w1', version: '2.0.0' });
  });
});

describe('status: a host whose fact is many small objects', () => {
  const s = site('wide');
  afterAll(() => rmSync(s.dir, { recursive: true, force: true }));

  // JSON.parse of a 24 MiB `[{},{},…]` took some 500 MiB of the runner's heap before the fact was found no
  // ferry fact, for each host that sent one: with a heap of 256 MiB the runner died (out of memory)
  it('is refused before it is parsed: its row says so, the other host as it is', async () => {
    release(s.store, '1.0.0');
    expect((await ferry(['deploy', 'hf@1.0.0', ...s.common, '--push'])).code).toBe(0);
    writeFileSync(join(s.facts('w1'), 'web.json'), '[' + '{},'.repeat(8 * 1024 * 1024) + '{}]');
    const r = await ferry(['status', ...s.common], { env: { NODE_OPTIONS: '--max-old-space-size=256' } });
    expect(r.stderr).not.toContain('heap');
    expect(r.stdout).toMatch(/^w1 +web +- +- +- +- +- +- +\S+\/web\.json is not a ferry fact: larger than 4 MiB$/m);
    expect(r.stdout).toMatch(/^w2 +web +hf 1\.0\.0 +1\.0\.0 +[0-9a-f]{12} +done +done +done +yes$/m);
    expect(r.stdout.split('\n').filter((l) => l.includes('web.json'))).toHaveLength(1);
    // status reports what the facts say, as for any fact that is none (exit 0; `--expect` fails on it)
    expect(r.code, r.stderr).toBe(0);
    // under the size bound, a fact of more small objects than ferry writes is refused too
    writeFileSync(join(s.facts('w1'), 'web.json'), '[' + '{},'.repeat(200_000) + '{}]');
    const few = await ferry(['status', ...s.common]);
    expect(few.stdout).toMatch(/^w1 +web +- +- +- +- +- +- +\S+\/web\.json is not a ferry fact: more than 100,000 objects, lists, items and keys$/m);
  }, 120_000);
});

describe('status: a host whose facts folder holds thousands of files', () => {
  const s = site('many');
  afterAll(() => rmSync(s.dir, { recursive: true, force: true }));

  // each file was read and made a row: the other hosts' rows were buried under w1's 1,500
  it('is refused with one line: its facts are not read, the other host is reported as it is', async () => {
    release(s.store, '1.0.0');
    expect((await ferry(['deploy', 'hf@1.0.0', ...s.common, '--push'])).code).toBe(0);
    for (let i = 0; i < 1500; i++) writeFileSync(join(s.facts('w1'), `junk${i}.json`), '');
    const r = await ferry(['status', ...s.common]);
    expect(r.code).toBe(72);
    expect(r.stdout).not.toMatch(/junk/);
    expect(r.stdout).toMatch(/^w1: unreachable: host w1: more than 1000 fact files in \S+\/facts \(ferry writes one per service\): its facts are not read; remove the files ferry did not write$/m);
    expect(r.stdout).toMatch(/^w2 +web +hf 1\.0\.0 +1\.0\.0 +[0-9a-f]{12} +done +done +done +yes$/m);
    expect(r.stdout.split('\n').length).toBeLessThan(12);
    expect(r.stderr).toBe('ferry: 1 host(s) could not be asked for their facts: w1\n');
    // a deploy is refused there with the same line (its hold reads every fact)
    const d = await ferry(['deploy', 'hf@1.0.0', ...s.common, '--push', '--limit', 'w1']);
    expect(d.code).toBe(72);
    expect(d.stdout + d.stderr).toMatch(/host w1: more than 1000 fact files in \S+\/facts \(ferry writes one per service\): its facts are not read; remove the files ferry did not write/);
  }, 120_000);
});

describe('status and deploy: a host whose lock holder line is long', () => {
  const s = site('holder');
  const bin = join(s.dir, 'bin');
  let locker: ReturnType<typeof spawn> | undefined;
  afterAll(() => {
    locker?.kill('SIGKILL');
    rmSync(s.dir, { recursive: true, force: true });
  });

  // the holder line came from the host whole: 1 MB of it was printed in status (text and --json) and in the
  // deploy's lock refusal, and kept with each host's error
  it('is shown as its first 300 characters', async () => {
    release(s.store, '1.0.0');
    expect((await ferry(['deploy', 'hf@1.0.0', ...s.common, '--push'])).code).toBe(0);
    const run = join(s.root('w1'), 'var/lib/ferry/run');
    writeFileSync(join(run, 'holder'), 'h'.repeat(1_000_000) + '\nsecond line\n');
    // another run holds w1: flock on its lock, taken before the test goes on
    locker = spawn('flock', [join(run, 'lock'), '-c', 'echo held; exec sleep 600'], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise<void>((resolve) => locker!.stdout!.once('data', () => resolve()));
    // the configure that run is in, as its fact shows it
    const file = join(s.facts('w1'), 'web.json');
    const fact = JSON.parse(readFileSync(file, 'utf8'));
    fact.failure = { stage: 'configure', time: 'now', message: 'did not finish', digest: fact.digest, unfinished: true };
    writeFileSync(file, JSON.stringify(fact));
    // w1's cut passes the holder line whole, as a hostile host's would
    mkdirSync(bin);
    writeFileSync(join(bin, 'cut'), '#!/bin/sh\nexec cat\n', { mode: 0o755 });
    const env = { PATH: `${bin}:${process.env.PATH}` };
    const shown = `${'h'.repeat(300)}…`;
    const status = await ferry(['status', ...s.common], { env });
    expect(status.stdout).toContain(`w1 web: configure running since now: the host is held by ${shown}\n`);
    expect(status.stdout.length).toBeLessThan(5000);
    const json = await ferry(['status', ...s.common, '--json'], { env });
    expect(JSON.parse(json.stdout).rows.find((r: { host: string }) => r.host === 'w1').running).toEqual({ stage: 'configure', by: shown });
    const deploy = await ferry(['deploy', 'hf@1.0.0', ...s.common, '--push', '--limit', 'w1']);
    expect(deploy.code).toBe(72);
    expect(deploy.stdout + deploy.stderr).toContain(`host w1 is locked by ${shown}; wait for that run to finish`);
    expect((deploy.stdout + deploy.stderr).length).toBeLessThan(5000);
  }, 120_000);
});
