import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { hashGrowingFile } from '../../src/util/hashGrowingFile.js';

const dir = mkdtempSync(join(tmpdir(), `ferry-growing-${process.pid}-`));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Another process appends `pieces` to `file`, one each time it reads a line on its stdin, and exits after
 * the last: the test decides when each piece is written, so no timing is guessed.
 */
function writer(file: string, pieces: number, pieceBytes: number) {
  const script = `
    const fs = require('node:fs'); const crypto = require('node:crypto');
    const fd = fs.openSync(${JSON.stringify(file)}, 'a');
    let n = 0;
    process.stdin.on('data', (d) => {
      for (const _ of d.toString()) {
        if (n === ${pieces}) continue;
        fs.writeSync(fd, crypto.randomBytes(${pieceBytes}));
        process.stdout.write('w');
        if (++n === ${pieces}) { fs.closeSync(fd); process.exit(0); }
      }
    });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const written = async () => {
    child.stdin.write('\n');
    await once(child.stdout, 'data');
  };
  return { child, written };
}

describe('hashGrowingFile', () => {
  it('gives the digest and size of the whole file another process wrote while it was reading', async () => {
    const file = join(dir, 'grown');
    writeFileSync(file, '');
    const hasher = hashGrowingFile(file);
    const w = writer(file, 5, 700_000);
    const exited = once(w.child, 'exit');
    for (let i = 0; i < 5; i++) await w.written();
    expect((await exited)[0]).toBe(0);
    const got = await hasher.written();
    await hasher.stop();
    const data = readFileSync(file);
    expect(got).toEqual({ sha256: createHash('sha256').update(data).digest('hex'), size: data.length });
    expect(data.length).toBe(3_500_000);
  });

  it('hashes a file already complete when it starts, and an empty one', async () => {
    const full = join(dir, 'full');
    const data = randomBytes(3 << 20);
    writeFileSync(full, data);
    const a = hashGrowingFile(full);
    expect(await a.written()).toEqual({ sha256: createHash('sha256').update(data).digest('hex'), size: data.length });
    await a.stop();
    const empty = join(dir, 'empty');
    writeFileSync(empty, '');
    const b = hashGrowingFile(empty);
    expect(await b.written()).toEqual({ sha256: createHash('sha256').update('').digest('hex'), size: 0 });
    await b.stop();
  });

  it('stops reading when the writer failed, and says why when the file cannot be read', async () => {
    const file = join(dir, 'abandoned');
    writeFileSync(file, 'partial');
    const hasher = hashGrowingFile(file);
    await hasher.stop();
    await expect(hasher.written()).rejects.toThrow(/stopped/);

    const missing = hashGrowingFile(join(dir, 'no-such-file'));
    await expect(missing.written()).rejects.toThrow(/^hashing .*no-such-file: ENOENT/);
    await missing.stop();
  });
});
