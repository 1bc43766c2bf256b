import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IntegrityError } from '../../src/errors.js';
import { readWheelMetadata } from '../../src/sources/python/readWheelMetadata.js';
import { buildWheels } from './fixtures.js';

describe('reading METADATA out of a wheel', () => {
  let dir: string;
  let wheel: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-wheel-metadata-'));
    const [name] = buildWheels(dir, [{ name: 'demo-pkg', version: '2.1', requires: ['idna>=3'], requires_python: '>=3.9', files: { 'demo_pkg/__init__.py': 'X = 1\n'.repeat(5000) } }]);
    wheel = join(dir, name!);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('finds the same METADATA whether the wheel is read whole (size given, at most 4 MiB) or through its central directory', async () => {
    const { size } = await stat(wheel);
    const whole = await readWheelMetadata(wheel, 'demo', size);
    const directory = await readWheelMetadata(wheel, 'demo');
    expect(whole).toBe(directory);
    expect(whole).toMatch(/^Name: demo-pkg$/m);
    expect(whole).toMatch(/^Version: 2\.1$/m);
    expect(whole).toMatch(/^Requires-Dist: idna>=3$/m);
    expect(whole).toMatch(/^Requires-Python: >=3\.9$/m);
  });

  it('refuses a file that is not a zip, either way, naming it', async () => {
    const bad = join(dir, 'bad-1.0-py3-none-any.whl');
    await writeFile(bad, Buffer.alloc(3000, 0x41));
    for (const size of [3000, undefined]) {
      const err = await readWheelMetadata(bad, 'bad-1.0-py3-none-any.whl', size).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IntegrityError);
      expect((err as Error).message).toMatch(/^bad-1\.0-py3-none-any\.whl: not a readable wheel \(zip\)/);
    }
  });
});
