import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { compareDebVersions } from '../../src/sources/apt/compareDebVersions.js';

// [a, expected relation, b]; every row is also checked against the real `dpkg --compare-versions`.
const TABLE: Array<[string, '<' | '=' | '>', string]> = [
  ['1.0', '=', '1.0'],
  ['1.0', '<', '1.1'],
  ['1.0', '=', '1.0-0'],
  ['1.0-1', '<', '1.0-2'],
  ['1.0-1', '<', '1.0.1-1'],
  ['1.0~rc1', '<', '1.0'],
  ['1.0~rc1', '<', '1.0~rc2'],
  ['1.0~~', '<', '1.0~'],
  ['1.0~', '<', '1.0'],
  ['1.0~rc1-1', '<', '1.0-1'],
  ['1.0', '<', '1.0+b1'],
  ['1.0', '<', '1.0a'],
  ['1.0a', '<', '1.0+'],
  ['1.0.', '>', '1.0'],
  ['1:0.1', '>', '2.0'],
  ['0:1.0', '=', '1.0'],
  ['2:1.0', '>', '1:9.9'],
  ['1.2.10', '>', '1.2.9'],
  ['1.02', '=', '1.2'],
  ['1.0-1ubuntu1', '>', '1.0-1'],
  ['1.0-1+deb12u1', '>', '1.0-1'],
  ['1.0-1~bpo12+1', '<', '1.0-1'],
  ['2.36-9+deb12u4', '>', '2.36-9'],
  ['1.22.1-9', '<', '1.22.1-9+deb12u1'],
  ['3.0.11-1~deb12u2', '<', '3.0.11-1'],
  ['7.88.1-10+deb12u10', '>', '7.88.1-10+deb12u9'],
  ['1.0-a-1', '>', '1.0-1'],
  ['a', '<', 'b'],
  ['1.0A', '<', '1.0a'],
  ['99999999999999999999999', '<', '100000000000000000000000'],
  ['1.000000000000000000001', '>', '1.0'],
  ['0.0', '<', '0.0.0'],
  ['1.0+~', '<', '1.0+'],
  ['1:1.2.13.dfsg-1', '>', '1.2.13.dfsg-1'],
];

const sign = (n: number) => (n < 0 ? '<' : n > 0 ? '>' : '=');

function dpkgSays(a: string, b: string): '<' | '=' | '>' {
  const is = (op: string) => {
    try {
      execFileSync('dpkg', ['--compare-versions', a, op, b], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  return is('lt') ? '<' : is('eq') ? '=' : '>';
}

describe('compareDebVersions', () => {
  it.each(TABLE)('%s %s %s (as dpkg says)', (a, rel, b) => {
    expect(dpkgSays(a, b)).toBe(rel);
    expect(sign(compareDebVersions(a, b))).toBe(rel);
    expect(sign(compareDebVersions(b, a))).toBe(rel === '<' ? '>' : rel === '>' ? '<' : '=');
  });

  it('sorts a shuffled list exactly like dpkg', () => {
    const versions = TABLE.flatMap(([a, , b]) => [a, b]);
    const sorted = [...versions].sort(compareDebVersions);
    for (let i = 1; i < sorted.length; i++) expect(dpkgSays(sorted[i - 1]!, sorted[i]!)).not.toBe('>');
  });
});
