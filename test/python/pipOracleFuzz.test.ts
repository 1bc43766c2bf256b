import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PIP_OFFLINE_ENV, runCommand } from './fixtures.js';

// scripts/fixtures/pip_oracle_fuzz.py on fixed seeds: random indexes on 127.0.0.1 (tags, build tags, local
// versions, yanked files, Requires-Python, name spellings, percent-encoded links, HTML and JSON pages) and
// requirements (== and === pins, extras, markers, duplicate lines), `ferry lock` (bin/ferry.js: npm run build)
// against the real pip 23.2's `pip download --no-deps --only-binary=:all:` for the same target; with `requires`,
// also pip with the dependencies, from the chosen files alone (`--no-index --find-links`, as hosts install).
const SCRIPT = join(import.meta.dirname, '../../scripts/fixtures/pip_oracle_fuzz.py');

/** run the fuzzer on seeds 1..10 with `opts`: every case must agree, and the seeds make both kinds of case */
async function agreesOnTenSeeds(opts: Record<string, boolean>): Promise<void> {
  const r = await runCommand('python3', [SCRIPT, '1', '10', JSON.stringify(opts)], PIP_OFFLINE_ENV);
  const lines = r.stdout.trim().split('\n');
  expect(r.code, r.stdout + r.stderr).toBe(0);
  const summary = JSON.parse(lines[lines.length - 1]!) as { cases: number; agree: number; both_ok: number; both_fail: number };
  expect(summary).toMatchObject({ cases: 10, agree: 10 });
  expect(summary.both_ok).toBeGreaterThan(0);
  expect(summary.both_fail).toBeGreaterThan(0);
}

/** seeds on which ferry disagreed with pip before the fixes of 2026-12-07, with the options they ran with */
const DISAGREED: Array<[number, Record<string, boolean>]> = [
  // an upper-case --hash on a line whose marker is false for the target: pip ignores the line, ferry refused the file
  [200022, { same_dup_hashes: true, hash_spellings: true }],
  [200172, { same_dup_hashes: true, hash_spellings: true }],
  [200385, { same_dup_hashes: true, hash_spellings: true }],
  // a dependency with extras (`gamma.lib[fast]!=1.0+cpu`, `delta_x[fast]<=2.1.0`) on a pre-release pin: pip's
  // finder looks `name[extra]` up with that specifier alone, which admits no pre-release, and refuses; ferry accepted
  [500042, { same_dup_hashes: true, requires: true }],
  [500053, { same_dup_hashes: true, requires: true }],
];

describe('ferry lock against pip 23.2 on generated indexes', () => {
  it.each(DISAGREED)('agrees with pip on seed %i (%j), where it once disagreed', async (seed, opts) => {
    const r = await runCommand('python3', [SCRIPT, String(seed), '1', JSON.stringify(opts)], PIP_OFFLINE_ENV);
    const lines = r.stdout.trim().split('\n');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(JSON.parse(lines[lines.length - 1]!)).toMatchObject({ cases: 1, agree: 1 });
  }, 120_000);


  it('chooses the files pip chooses, and refuses (in one line) what pip refuses, on 10 fixed seeds', () => agreesOnTenSeeds({ same_dup_hashes: true }), 600_000);

  it('agrees with pip, on 10 fixed seeds, where page hashes are in upper case, md5 or beside another JSON algorithm, pins in upper case, and the requirements say --prefer-binary/--only-binary/--no-binary', () =>
    agreesOnTenSeeds({ same_dup_hashes: true, hash_spellings: true }), 600_000);

  it('agrees with pip, on 10 fixed seeds, where the wheels declare Requires-Dist (specifiers, extras, markers) and Provides-Extra: ferry accepts exactly when pip installs the chosen files with their dependencies', () =>
    agreesOnTenSeeds({ same_dup_hashes: true, requires: true }), 600_000);
});
