import { Header } from 'tar';
import { describe, expect, it } from 'vitest';
import { decodeTarHeader } from '../../src/bundle/decodeTarHeader.js';

/** a header as node-tar (the bundle writer's encoder) makes it, then edited and its checksum made right again */
function header(fields: Record<string, unknown>, edit: (b: Buffer) => void = () => {}): Buffer {
  const block = Buffer.alloc(512);
  new Header({ mode: 0o644, uid: 0, gid: 0, mtime: new Date(0), type: 'File', size: 0, ...fields } as never).encode(block);
  edit(block);
  block.fill(0x20, 148, 156);
  const sum = block.reduce((n, b) => n + b, 0);
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

describe('decodeTarHeader: the fields a bundle reader needs, without node-tar', () => {
  it('reads path, type, size and mode as node-tar wrote them', () => {
    const h = decodeTarHeader(header({ path: 'files/app/config.yaml', size: 1234567, mode: 0o640 }));
    expect(h).toEqual({ path: 'files/app/config.yaml', type: 'File', size: 1234567, mode: 0o640, cksumValid: true });
  });

  it('joins the ustar prefix to the name for a long path', () => {
    const path = `apt/pool/main/${'p'.repeat(120)}/${'n'.repeat(90)}.deb`;
    expect(decodeTarHeader(header({ path })).path).toBe(path);
  });

  it('names every other entry type for the refusal message', () => {
    expect(decodeTarHeader(header({ path: 'l', type: 'SymbolicLink', linkpath: '/etc/passwd' })).type).toBe('SymbolicLink');
    expect(decodeTarHeader(header({ path: 'x', type: 'ExtendedHeader' })).type).toBe('ExtendedHeader');
    expect(decodeTarHeader(header({ path: 'x' }, (b) => (b[156] = 0))).type).toBe('File');
    expect(decodeTarHeader(header({ path: 'x' }, (b) => (b[156] = 'Q'.charCodeAt(0)))).type).toBe('Unsupported');
    // old writers marked folders as files whose name ends in "/": a folder, of no size
    expect(decodeTarHeader(header({ path: 'd/', size: 512 }))).toMatchObject({ type: 'Directory', size: 0 });
  });

  it('reads base-256 sizes, refuses one past 2^53 and gives a negative one no size', () => {
    const base256 = (bytes: number[]) => header({ path: 'x' }, (b) => b.set(bytes, 124));
    expect(decodeTarHeader(base256([0x80, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0])).size).toBe(2 ** 25);
    expect(() => decodeTarHeader(base256([0x80, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toThrow(/parsed number outside of javascript safe integer range/);
    expect(decodeTarHeader(base256([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe])).size).toBeUndefined();
    expect(decodeTarHeader(header({ path: 'x' }, (b) => b.write('not octal\0', 124, 'latin1'))).size).toBeUndefined();
    // octal digits followed by junk are no count either (parseInt alone would read "0000017x" as 15)
    expect(decodeTarHeader(header({ path: 'x' }, (b) => b.write('0000017x\0', 124, 'latin1'))).size).toBeUndefined();
    expect(decodeTarHeader(header({ path: 'x' }, (b) => b.write(' 0000017 \0', 124, 'latin1'))).size).toBe(15);
  });

  it('tells a header whose bytes do not add up to its checksum', () => {
    const block = header({ path: 'files/a' });
    block[0] ^= 1;
    expect(decodeTarHeader(block).cksumValid).toBe(false);
  });
});
