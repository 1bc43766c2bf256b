import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { numberOption } from '../../src/cli/numberOption.js';
import { UsageError } from '../../src/errors.js';
import { ferry } from '../helpers/cli.js';

describe('numeric options', () => {
  it('refuses what Number() lets through: empty, NaN, Infinity, fractions for counts, values out of range', () => {
    const jobs = numberOption('--jobs', { whole: true, min: 1 });
    expect(jobs('8')).toBe(8);
    for (const bad of ['', ' ', 'abc', '8x', 'Infinity', '1.5', '0', '-2', '0x10', '0b1', '0o7', '1e1', '8e0', '1_000']) expect(() => jobs(bad), bad).toThrow(UsageError);
    expect(jobs(' 8 ')).toBe(8);
    expect(numberOption('--progress-interval', { min: 0.01 })('.5')).toBe(0.5);
    expect(() => jobs('abc')).toThrow('--jobs abc: expected a whole number, at least 1');
    const percent = numberOption('--max-fail-percent', { min: 0, max: 100, suffix: '%' });
    expect(percent('25%')).toBe(25);
    expect(percent('2.5')).toBe(2.5);
    expect(() => percent('1e1%')).toThrow('--max-fail-percent 1e1%: expected a number, from 0 to 100');
    expect(() => percent('101')).toThrow('--max-fail-percent 101: expected a number, from 0 to 100');
    expect(numberOption('--cache', { min: 0, unit: 'MiB' })('0')).toBe(0);
    expect(() => numberOption('--cache', { min: 0, unit: 'MiB' })('-1')).toThrow('--cache -1: expected a number of MiB, 0 or more');
  });

  describe('on the command line', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ferry-number-options-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it.each([
      [['lock', 'spec.yaml', '--jobs', 'many'], '--jobs many: expected a whole number, at least 1'],
      [['build', 'spec.yaml', '--jobs', '0'], '--jobs 0: expected a whole number, at least 1'],
      [['gc', '--keep', 'all'], '--keep all: expected a whole number of releases, at least 1'],
      [['key', 'generate', '--name', 'x', '--out', 'KEY', '--expires-days', 'soon'], '--expires-days soon: expected a whole number, at least 1'],
      [['serve', '--cache', 'lots'], '--cache lots: expected a number of MiB, 0 or more'],
      [['deploy', 'demo', '-i', 'inventory.yaml', '--progress-interval', '0'], '--progress-interval 0: expected a number of seconds, at least 0.01'],
    ])('ferry %j refuses with a usage error (exit 64) and writes nothing', async (args, message) => {
      const r = await ferry(args.map((a) => (a === 'KEY' ? join(dir, 'key') : a)));
      expect(r.stderr).toContain(message);
      expect(r.code).toBe(64);
      expect(await readdir(dir)).toEqual([]);
    });
  });
});
