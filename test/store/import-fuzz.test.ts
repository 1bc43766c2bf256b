import { describe, expect, it, vi } from 'vitest';
import { PassThrough, Readable } from 'node:stream';
import { fs as memfs, vol } from 'memfs';
import fc from 'fast-check';
import * as openpgp from 'openpgp';
import { Header } from 'tar';

// In-process on an in-memory file system: thousands of imports in seconds, and the whole store can be
// compared after each one.
vi.mock('node:fs/promises', () => ({ ...memfs.promises, default: memfs.promises }));
vi.mock('node:fs', () => ({ ...memfs, default: memfs }));
// syncfs is spawned (`sync -f`) on the real disk, which holds none of memfs' files
vi.mock('../../src/util/syncFileSystem.js', () => ({ syncFileSystem: async () => {} }));

const { importBundle } = await import('../../src/store/importBundle.js');
const { FerryError } = await import('../../src/errors.js');
const { writeTar } = await import('../../src/bundle/writeTar.js');
const { generateKey } = await import('../../src/pgp/generateKey.js');
const { signDetached } = await import('../../src/pgp/sign.js');
const { canonicalJson } = await import('../../src/util/canonicalJson.js');
const { manifestDigest } = await import('../../src/bundle/manifest.js');
const { manifestFor } = await import('../helpers/craft.js');

const SEED = 20261201;
const RUNS = Number(process.env.FERRY_FUZZ_RUNS ?? 3000);

const keyPair = await generateKey({ name: 'fuzz team' });
const secret = await openpgp.readPrivateKey({ armoredKey: keyPair.secretArmored });
const pub = secret.toPublic();

async function signedBundle(name: string, files: Array<{ path: string; data: Buffer }>): Promise<{ bytes: Buffer; digest: string }> {
  const manifest = manifestFor(files, { name });
  const bytes = Buffer.from(canonicalJson(manifest));
  const sig = Buffer.from(await signDetached(bytes, [secret], secret.getCreationTime()));
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const byPath = new Map(files.map((f) => [f.path, f.data]));
  await writeTar(
    out,
    [
      { path: 'manifest.json', data: bytes, size: bytes.length },
      { path: 'manifest.json.asc', data: sig, size: sig.length },
      ...manifest.entries.map((e) => ({ path: e.path, data: byPath.get(e.path)!, size: e.size })),
    ],
    // the epoch, as ferry's writer gives every entry (the readers insist on it)
    new Date(manifest.epoch),
  );
  return { bytes: Buffer.concat(chunks), digest: manifestDigest(bytes) };
}

// every shape the reader meets: an empty file, a body over one block, a path long enough for a pax
// header, a name beside its ".blob" twin
const valid = await signedBundle('fuzzed', [
  { path: 'files/s/empty', data: Buffer.alloc(0) },
  { path: 'files/s/x', data: Buffer.from('x\n') },
  { path: 'files/s/x.blob', data: Buffer.from('x.blob\n') },
  { path: 'files/s/large.bin', data: Buffer.alloc(1500, 7) },
  { path: `files/s/${'long-name-'.repeat(12)}end.txt`, data: Buffer.from('long\n') },
]);

/** [start, end) of each entry in the archive, a pax header counted with the entry it belongs to; and the end marker's offset */
function records(tar: Buffer): { entries: Array<[number, number]>; end: number } {
  const entries: Array<[number, number]> = [];
  let at = 0;
  let start = 0;
  while (!tar.subarray(at, at + 512).every((b) => b === 0)) {
    const h = new Header(tar.subarray(at, at + 512));
    const next = at + 512 + Math.ceil((h.size ?? 0) / 512) * 512;
    if (h.type !== 'ExtendedHeader') {
      entries.push([start, next]);
      start = next;
    }
    at = next;
  }
  return { entries, end: at };
}
const layout = records(valid.bytes);
const headerOffsets = (() => {
  const out: number[] = [];
  for (const [start, end] of layout.entries) {
    for (let at = start; at < end; ) {
      out.push(at);
      const h = new Header(valid.bytes.subarray(at, at + 512));
      at += 512 + Math.ceil((h.size ?? 0) / 512) * 512;
    }
  }
  return out;
})();

function fixChecksum(tar: Buffer, at: number): void {
  tar.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + 512; i++) sum += tar[i]!;
  tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 'latin1');
}

const FIELDS = { name: [0, 100], mode: [100, 8], size: [124, 12], type: [156, 1], linkname: [157, 100], magic: [257, 8], prefix: [345, 155] } as const;

const sizeField = fc.oneof(
  fc.nat({ max: 4096 }).map((n) => Buffer.from(`${n.toString(8).padStart(11, '0')}\0`)),
  fc.bigInt({ min: 1n, max: (1n << 88n) - 1n }).map((n) => base256(n, false)), // base-256, up to far past 2^53
  fc.bigInt({ min: 1n, max: 1n << 60n }).map((n) => base256(n, true)), // negative base-256
  fc.uint8Array({ minLength: 12, maxLength: 12 }).map((b) => Buffer.from(b)),
);
function base256(n: bigint, negative: boolean): Buffer {
  const b = Buffer.alloc(12);
  let v = negative ? (1n << 88n) - n : n;
  for (let i = 11; i >= 1; i--) {
    b[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  b[0] = negative ? 0xff : 0x80;
  return b;
}

type HeaderEdit = { header: number; field: keyof typeof FIELDS; value: Buffer };
const headerEdit: fc.Arbitrary<HeaderEdit> = fc.record({
  header: fc.nat({ max: headerOffsets.length - 1 }),
  field: fc.constantFrom(...(Object.keys(FIELDS) as Array<keyof typeof FIELDS>)),
  size: sizeField,
  type: fc.constantFrom(...'0123456789xgLKA'.split(''), '\0').map((c) => Buffer.from(c, 'latin1')),
  bytes: fc.uint8Array({ minLength: 1, maxLength: 155 }).map((b) => Buffer.from(b)),
  path: fc.constantFrom('files/s/x', 'files/s/x.blob', '../x', '/etc/passwd', 'manifest.json', 'files//x', 'files/s/./x', 'files/s/x\0y').map((p) => Buffer.from(p)),
}).map((r) => ({ header: r.header, field: r.field, value: r.field === 'size' ? r.size : r.field === 'type' ? r.type : r.field === 'name' ? r.path : r.bytes }));

const structural = fc.oneof(
  fc.record({ op: fc.constant('swap' as const), i: fc.nat({ max: layout.entries.length - 1 }), j: fc.nat({ max: layout.entries.length - 1 }) }),
  fc.record({ op: fc.constant('dup' as const), i: fc.nat({ max: layout.entries.length - 1 }) }),
  fc.record({ op: fc.constant('drop' as const), i: fc.nat({ max: layout.entries.length - 1 }) }),
  fc.record({ op: fc.constant('pax' as const), i: fc.nat({ max: layout.entries.length - 1 }), body: fc.oneof(fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)), fc.constantFrom('11 size=99\n', '30 path=files/s/x\n', '12 path=abc', '5 a=b\n', '16 linkpath=/etc\n').map((s) => Buffer.from(s))) }),
);

const byteEdit = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: fc.nat({ max: valid.bytes.length + 1024 }), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat({ max: valid.bytes.length + 1024 }) }),
  fc.record({ op: fc.constant('append' as const), bytes: fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)) }),
);

const mutation = fc.record({
  headers: fc.array(headerEdit, { maxLength: 2 }),
  structure: fc.option(structural, { nil: undefined }),
  bytes: fc.array(byteEdit, { maxLength: 3 }),
});
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function paxHeader(body: Buffer): Buffer {
  const block = Buffer.alloc(512);
  new Header({ path: 'PaxHeader/x', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: new Date(0), type: 'ExtendedHeader' }).encode(block);
  return Buffer.concat([block, body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}

function mutate(m: Mutation): Buffer {
  const tar = Buffer.from(valid.bytes);
  for (const e of m.headers) {
    const at = headerOffsets[e.header]!;
    const [offset, length] = FIELDS[e.field];
    tar.fill(0, at + offset, at + offset + length);
    e.value.copy(tar, at + offset, 0, length);
    fixChecksum(tar, at);
  }
  let parts = layout.entries.map(([s, e]) => tar.subarray(s, e));
  const s = m.structure;
  if (s?.op === 'swap') [parts[s.i], parts[s.j]] = [parts[s.j]!, parts[s.i]!];
  if (s?.op === 'dup') parts.splice(s.i, 0, parts[s.i]!);
  if (s?.op === 'drop') parts = parts.filter((_, k) => k !== s.i);
  if (s?.op === 'pax') parts.splice(s.i, 0, paxHeader(s.body));
  let out = Buffer.concat([...parts, tar.subarray(layout.end)]);
  for (const b of m.bytes) {
    if (b.op === 'set' && b.at < out.length) out[b.at] = b.value;
    if (b.op === 'truncate') out = out.subarray(0, Math.min(b.at, out.length));
    if (b.op === 'append') out = Buffer.concat([out, b.bytes]);
  }
  return out;
}

describe('import of a mutated bundle (property-based, fixed seed)', () => {
  it(`ends in success or a one-line FerryError with exit 66-68, never a crash, and a refusal leaves the store as it was (${RUNS} runs, seed ${SEED})`, async () => {
    vol.reset();
    vol.mkdirSync('/store', { recursive: true });
    // the store holds another release, so "unchanged" is not trivially "empty"
    const other = await signedBundle('other', [{ path: 'files/o/x', data: Buffer.from('x\n') }]);
    await importBundle(Readable.from([other.bytes]), { storeDir: '/store', keys: [pub] });
    const baseline = vol.toJSON();
    const outcomes = { imported: 0, refused: new Map<number, number>() };

    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const bytes = mutate(m);
        let result: Awaited<ReturnType<typeof importBundle>> | undefined;
        let error: unknown;
        try {
          result = await importBundle(Readable.from([bytes]), { storeDir: '/store', keys: [pub] });
        } catch (err) {
          error = err;
        }
        if (result) {
          // only the signed manifest can be imported, whatever else changed around it
          expect(result.digest).toBe(valid.digest);
          outcomes.imported++;
          vol.reset();
          vol.fromJSON(baseline);
          return;
        }
        if (!(error instanceof FerryError)) throw new Error(`crashed: ${(error as Error)?.stack ?? String(error)}`);
        expect([66, 67, 68], error.message).toContain(error.exitCode);
        expect(error.message).not.toContain('\n');
        expect(vol.toJSON()).toEqual(baseline);
        outcomes.refused.set(error.exitCode, (outcomes.refused.get(error.exitCode) ?? 0) + 1);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    // the mutations reach every verdict, so the property is not passing on one easy path
    expect(outcomes.imported).toBeGreaterThan(0);
    for (const code of [66, 67, 68]) expect(outcomes.refused.get(code) ?? 0, `exit ${code}`).toBeGreaterThan(0);
  });
});
