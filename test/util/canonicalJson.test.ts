import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, canonicalMismatch } from '../../src/util/canonicalJson.js';

/** Any JSON value, with strings of every plane (ASCII, accents, CJK, emoji as surrogate pairs). */
const json = fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' });

describe('canonicalMismatch', () => {
  it('finds no difference between a value and its own canonical encoding, whatever its characters', () => {
    fc.assert(fc.property(json, (value) => canonicalMismatch(Buffer.from(canonicalJson(value), 'utf8'), value) === undefined));
  });

  it('points at the first byte that differs, also inside and after non-ASCII text', () => {
    fc.assert(
      fc.property(json, fc.nat(), fc.integer({ min: 1, max: 255 }), (value, at, flip) => {
        const bytes = Buffer.from(canonicalJson(value), 'utf8');
        const i = at % bytes.length;
        const changed = Buffer.from(bytes);
        changed[i] = changed[i]! ^ flip;
        return canonicalMismatch(changed, value) === i;
      }),
    );
    const value = { name: 'café ☕ 名前', n: 1 };
    const bytes = Buffer.from(canonicalJson(value), 'utf8');
    expect(canonicalMismatch(bytes.subarray(0, bytes.length - 1), value)).toBe(bytes.length - 1);
    expect(canonicalMismatch(Buffer.concat([bytes, Buffer.from(' ')]), value)).toBe(bytes.length);
  });
});
