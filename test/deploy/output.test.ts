import { describe, expect, it } from 'vitest';
import { deployOutput } from '../../src/ui/deployOutput.js';
import { deployTable } from '../../src/deploy/deployTable.js';
import type { DeployReport } from '../../src/deploy/runDeploy.js';

function stream(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, s: { isTTY, write: (c: string) => chunks.push(c) } as unknown as NodeJS.WriteStream };
}

describe('deploy output', () => {
  it('prints one plain line per finished stage when not on a terminal', () => {
    const { chunks, s } = stream(false);
    const log = deployOutput({ stream: s });
    log.event('stage', { host: 'h1', service: 'web', stage: 'stage', status: 'start', reason: 'not deployed yet' });
    log.event('stage', { host: 'h1', service: 'web', stage: 'stage', status: 'ran', changed: 3, ms: 1500 });
    log.event('stage', { host: 'h2', service: 'web', stage: 'install', status: 'failed', reason: 'host h2: exit status 1\nmore' });
    expect(chunks.join('')).toBe('h1 web stage: ran (3 changed, 1.5 s)\nh2 web install: failed (host h2: exit status 1)\n');
  });

  it('keeps one live line per host on a terminal, redrawn in place', () => {
    const { chunks, s } = stream(true);
    const log = deployOutput({ stream: s });
    log.event('stage', { host: 'h1', service: 'web', stage: 'stage', status: 'start', reason: 'not deployed yet' });
    log.event('stage', { host: 'h2', service: 'web', stage: 'stage', status: 'skipped', reason: 'done' });
    log.event('stage', { host: 'h1', service: 'web', stage: 'stage', status: 'ran', changed: 1, ms: 10 });
    const out = chunks.join('');
    expect(out).toContain('\x1b[2A'); // back up over the two host lines
    expect(out.split('\x1b[2A').pop()).toMatch(/h1\s+1 ran\s+0 skipped\s+0 failed\s+web stage ran\n.*h2\s+0 ran\s+1 skipped\s+0 failed\s+web stage skipped\n$/s);
  });

  it('writes JSON events with --json', () => {
    const { chunks, s } = stream(true);
    deployOutput({ json: true, stream: s }).event('stage', { host: 'h1', status: 'ran' });
    expect(JSON.parse(chunks[0]!)).toMatchObject({ type: 'stage', host: 'h1', status: 'ran' });
  });

  it('ends with a host × stage table and the reasons for failures', () => {
    const report: DeployReport = {
      release: { name: 'demo', version: '1', digest: 'ab'.repeat(32) },
      ok: false,
      ms: 2000,
      hosts: [
        { host: 'h1', commands: 9, services: { web: { stage: { status: 'ran', reason: '', changed: 2, ms: 1 }, install: { status: 'skipped', reason: 'done', changed: 0, ms: 0 }, configure: { status: 'ran', reason: '', changed: 1, ms: 1 } } } },
        { host: 'h2', commands: 2, error: 'host h2: ssh: Connection refused', services: { web: { stage: { status: 'failed', reason: 'host h2: ssh: Connection refused', changed: 0, ms: 1 }, install: { status: 'not run', reason: 'host failed earlier', changed: 0, ms: 0 } } } },
      ],
    };
    expect(deployTable(report)).toBe(
      [
        'HOST  SERVICE  STAGE            INSTALL  CONFIGURE        COMMANDS',
        'h1    web      ran (2 changed)  skipped  ran (1 changed)  9',
        'h2    web      failed           not run  -                2',
        '',
        'h2 web stage: failed: host h2: ssh: Connection refused',
        'h2 web install: not run: host failed earlier',
        '',
        'demo 1 (abababababab): 1 of 2 hosts ok, 2.0 s',
        '',
      ].join('\n'),
    );
  });
});
