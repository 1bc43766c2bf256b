import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnCommand, spawnHeld } from '../../src/deploy/transport/spawnCommand.js';

/**
 * A held command (a deploy's hold on a host) prints the host's facts before its ready line. A host may send them
 * in pieces as small as it likes: the writer below sends each piece only once the runner has read the one
 * before (FIONREAD of the pipe is 0), so every piece is one 'data' event on the runner.
 */
const dir = mkdtempSync(join(tmpdir(), 'ferry-heldoutput-'));
const writer = join(dir, 'writer.py');
writeFileSync(
  writer,
  `import fcntl, os, struct, sys, termios, time
def send(b):
    os.write(1, b)
    while struct.unpack('i', fcntl.ioctl(1, termios.FIONREAD, b'\\0\\0\\0\\0'))[0]:
        time.sleep(0.0001)
pieces = [p.encode() for p in sys.argv[2:]] if sys.argv[1] == 'pieces' else [b'x' * 4095 + b'\\n'] * int(sys.argv[1])
for p in pieces:
    send(p)
if sys.argv[1] != 'pieces':
    send(b'READY\\n')
sys.stdin.buffer.read()
`,
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function held(args: string[]) {
  const r = await spawnHeld('python3', [writer, ...args], Buffer.alloc(0), 'READY', { timeoutMs: 120_000 });
  if (!('held' in r)) throw new Error(`ended before its ready line: ${JSON.stringify(r.ended.stderr)}`);
  await r.held.release();
  return r.held.ready;
}

describe('spawnHeld', () => {
  it('finds the ready line at the start, and split over pieces', async () => {
    expect(await held(['pieces', 'READY\n'])).toBe('');
    expect(await held(['pieces', 'fact\nRE', 'AD', 'Y', '\nmore\n'])).toBe('fact\n');
    expect(await held(['pieces', 'fact\n', 'READYX\n', 'READY\n'])).toBe('fact\nREADYX\n');
  });

  // the runner searched all it had received again for every piece: 24 MiB in 4 KiB pieces cost it about as
  // much CPU as copying and decoding 72 GiB (seconds), every other host of the run waiting behind it
  it('costs the runner about what reading the same output costs, however small the pieces', async () => {
    const pieces = 6144;
    let t = process.cpuUsage();
    const plain = await spawnCommand('python3', [writer, String(pieces)], { timeoutMs: 120_000 });
    const readCpu = process.cpuUsage(t);
    expect(plain.stdout.length).toBe(pieces * 4096 + 'READY\n'.length);
    t = process.cpuUsage();
    const ready = await held([String(pieces)]);
    const heldCpu = process.cpuUsage(t);
    expect(ready.length).toBe(pieces * 4096);
    const ms = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
    expect(ms(heldCpu)).toBeLessThan(10 * ms(readCpu) + 500);
  }, 300_000);
});
