import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);

/**
 * What each worker runs: read the file with plain system calls into one reused buffer and hash it, as
 * `openssl dgst` does (a fresh buffer per read costs the kernel a zeroed mapping each time, more CPU than
 * the sha256 itself); and, asked for, hand back one member of an ar archive (a .deb's control.tar) from
 * the same open file. Kept as a script text so the same code runs from dist/ and under the tests' loader;
 * a CommonJS script whatever the process's flags say (execArgv: [] below: --input-type=module would
 * otherwise apply to it).
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const { createHash } = require('node:crypto');
const buf = Buffer.allocUnsafe(1 << 20);
const MEMBER_MAX = 64 << 20;
function readFully(fd, data, pos) {
  for (let at = 0; at < data.length; ) {
    const n = readSync(fd, data, at, data.length - at, pos + at);
    if (n === 0) return false;
    at += n;
  }
  return true;
}
let xzInstance;
let xzLoading;
/**
 * One xz stream decoded with xz-decompress's WebAssembly build of xz-embedded, called directly: its web
 * stream wrapper cost more per small member (streams created, made transferable, a promise per piece) than
 * the decoding itself. Its context is, in 32-bit words: buffer size, input pointer, input position, input
 * size, output pointer, output position (the layout its own wrapper reads; package.json pins the exact version,
 * and the tests publish real xz-compressed .debs through here). Input goes in 1 KiB at a time and each
 * piece's output comes back before the next (a generator), so a caller that has what it wants stops early.
 */
function* unxz(data) {
  const x = xzInstance.exports;
  const ctx = x.create_context();
  const words = () => new Uint32Array(x.memory.buffer, ctx, 6);
  const bufSize = words()[0];
  let fed = 0;
  // calls after the last input that gave nothing: the decoder may need one to reach the stream's end
  let idle = 0;
  try {
    for (;;) {
      let w = words();
      if (w[2] === w[3]) {
        const piece = data.subarray(fed, fed + Math.min(1024, bufSize));
        new Uint8Array(x.memory.buffer, w[1], piece.length).set(piece);
        x.supply_input(ctx, piece.length);
        fed += piece.length;
      }
      const result = x.get_next_output(ctx);
      w = words();
      const produced = w[5];
      if (result === 1) {
        if (produced > 0) yield Buffer.from(new Uint8Array(x.memory.buffer, w[4], produced));
        return;
      }
      // 8 is xz-embedded's XZ_BUF_ERROR: no progress possible, here because the input ran out
      if (result === 8 || (result === 0 && fed >= data.length && produced === 0 && ++idle > 2)) throw new Error('the xz data ends early');
      if (result !== 0) throw new Error('xz decoding failed (code ' + result + ')');
      w[5] = 0;
      if (produced > 0) yield Buffer.from(new Uint8Array(x.memory.buffer, w[4], produced));
    }
  } finally {
    x.destroy_context(ctx);
  }
}
/** the decoder's WebAssembly instance, made once per worker */
async function loadXz() {
  const { XzReadableStream } = require(workerData.xzModule);
  if (typeof XzReadableStream._getModuleInstance !== 'function') throw new Error('this version of xz-decompress has no module instance to call');
  await XzReadableStream._getModuleInstance();
  xzInstance = XzReadableStream._moduleInstance;
}
/**
 * The data of the entry named one of \`wanted\` in a tar, walking from \`state.pos\` while every header is plain
 * (a name alone, a file or folder, its checksum right); 'unusual' at anything else (long names, pax records,
 * links, a bad checksum, the end of the archive without it), where a real tar reader is to judge the whole;
 * otherwise the number of bytes from the start of \`tar\` the walk needs to go on (\`state.pos\` is then at
 * the first entry not walked whole, and may lie past the end when a body is still to come).
 */
function walkPlain(tar, state, wanted) {
  while (tar.length >= state.pos + 512) {
    const h = tar.subarray(state.pos, state.pos + 512);
    const field = (at, len) => h.toString('latin1', at, at + len).replace(/\\0.*$/s, '').trim();
    const sizeText = field(124, 12);
    const sumText = field(148, 8);
    if (!/^[0-7]{1,11}$/.test(sizeText) || !/^[0-7]{1,7}$/.test(sumText) || h[345] !== 0 || !(h[156] === 0x30 || h[156] === 0 || h[156] === 0x35)) return 'unusual';
    let sum = 8 * 0x20;
    for (let i = 0; i < 512; i++) if (i < 148 || i >= 156) sum += h[i];
    if (sum !== parseInt(sumText, 8)) return 'unusual';
    const size = parseInt(sizeText, 8);
    const nul = h.indexOf(0);
    const name = h.toString('utf8', 0, nul >= 0 && nul < 100 ? nul : 100);
    if (wanted.includes(name) && h[156] !== 0x35) {
      if (tar.length < state.pos + 512 + size) return state.pos + 512 + size;
      return Buffer.from(tar.subarray(state.pos + 512, state.pos + 512 + size));
    }
    state.pos += 512 + Math.ceil(size / 512) * 512;
  }
  return state.pos + 512;
}
/**
 * control.tar.xz decoded only as far as its ./control entry (usually the second, before md5sums and
 * maintainer scripts): \`{ entry }\`; when a header on the way is unusual, the whole archive decoded, \`{ tar }\`.
 * The walk keeps only the bytes it has not walked past and looks again only once it has what it asked
 * for, so a large entry before ./control costs its decoding, not a copy per piece.
 */
async function unxzUntil(data, wanted) {
  if (!xzInstance) await (xzLoading ??= loadXz());
  const chunks = [];
  let decoded = 0;
  let walking = true;
  // the walk's undecided bytes, how many it needs before it looks again, and body bytes it skips unseen
  let parts = [];
  let held = 0;
  let need = 512;
  let skip = 0;
  for (const value of unxz(data)) {
    // a control archive is small: one that decodes to more is refused, not held
    if ((decoded += value.length) > MEMBER_MAX) throw new Error('it decodes to more than ' + (MEMBER_MAX >> 20) + ' MiB');
    chunks.push(value);
    if (!walking) continue;
    const skipped = Math.min(skip, value.length);
    skip -= skipped;
    if (skipped === value.length) continue;
    parts.push(value.subarray(skipped));
    held += value.length - skipped;
    if (held < need) continue;
    const tail = Buffer.concat(parts, held);
    const state = { pos: 0 };
    const found = walkPlain(tail, state, wanted);
    if (found === 'unusual') walking = false;
    else if (found instanceof Buffer) return { entry: found };
    else {
      const rest = tail.subarray(Math.min(state.pos, tail.length));
      skip = Math.max(0, state.pos - tail.length);
      parts = rest.length > 0 ? [rest] : [];
      held = rest.length;
      need = found - state.pos;
    }
  }
  return { tar: Buffer.concat(chunks) };
}
/** Find \`wanted\` in an ar member holding a tar (control.tar, .gz or .xz), setting \`out.entry\` or leaving \`out.member\` to the caller's tar reader. */
async function findEntry(out, prefix, wanted) {
  const { name, data } = out.member;
  if (name.endsWith('.xz')) {
    try {
      const { entry, tar } = await unxzUntil(data, wanted);
      if (entry) {
        out.entry = entry;
        delete out.member;
      } else out.member = { name, data: tar, decompressed: true };
    } catch (err) {
      delete out.member;
      out.problem = 'its ' + prefix + ' member is not valid xz data (' + err.message + ')';
    }
    return;
  }
  let tar;
  if (name === 'control.tar') tar = data;
  else if (name.endsWith('.gz')) {
    try {
      tar = require('node:zlib').gunzipSync(data, { maxOutputLength: MEMBER_MAX });
    } catch (err) {
      if (err.code !== 'ERR_BUFFER_TOO_LARGE') return; // the caller's decoder says what is wrong with it
      delete out.member;
      out.problem = 'its ' + prefix + ' member is not valid gzip data (it decodes to more than ' + (MEMBER_MAX >> 20) + ' MiB)';
      return;
    }
  } else return;
  const found = walkPlain(tar, { pos: 0 }, wanted);
  if (found instanceof Buffer) {
    out.entry = found;
    delete out.member;
  }
}
function arMember(fd, prefix) {
  const head = Buffer.alloc(60);
  if (readSync(fd, head, 0, 8, 0) < 8 || head.toString('latin1', 0, 8) !== '!<arch>\\n') return { problem: 'not a Debian package (no ar header)' };
  let pos = 8;
  for (let i = 0; i < 3 && readSync(fd, head, 0, 60, pos) === 60; i++) {
    const name = head.toString('latin1', 0, 16).trim().replace(/\\/$/, '');
    const sizeText = head.toString('latin1', 48, 58).trim();
    const size = /^[0-9]{1,10}$/.test(sizeText) ? Number(sizeText) : -1;
    pos += 60;
    if (name.startsWith(prefix)) {
      if (size < 0 || size > MEMBER_MAX) return { problem: name + ' has an implausible size' };
      const data = Buffer.alloc(size);
      if (!readFully(fd, data, pos)) return { problem: name + ' is cut short' };
      return { member: { name, data } };
    }
    if (size < 0) break;
    pos += size + (size % 2);
  }
  return { problem: 'no ' + prefix + ' member' };
}
parentPort.on('message', async ({ id, path, sha256, arMember: prefix, tarEntry }) => {
  let fd;
  try {
    fd = openSync(path, 'r');
    const out = { id };
    if (prefix) Object.assign(out, arMember(fd, prefix));
    if (out.member && tarEntry) await findEntry(out, prefix, tarEntry);
    if (sha256) {
      const hash = createHash('sha256');
      let size = 0;
      for (let n; (n = readSync(fd, buf, 0, buf.length, size)) > 0; size += n) hash.update(buf.subarray(0, n));
      out.sha256 = hash.digest('hex');
      out.size = size;
    }
    parentPort.postMessage(out);
  } catch (err) {
    parentPort.postMessage({ id, error: { message: err.message, code: err.code } });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
});
`;

export interface ReadInWorkerResult {
  /** with `sha256: true` */
  sha256?: string;
  size?: number;
  /**
   * with `arMember`: the first of the archive's first three members whose name starts with it; with
   * `tarEntry` too, an xz-compressed member comes decompressed (`decompressed`), up to that entry
   */
  member?: { name: string; data: Buffer; decompressed?: boolean };
  /**
   * with `tarEntry`: that entry's data, when the member's headers up to it are plain ones (walked on the
   * worker, which also decompresses a gzip or xz member); `member` is left out then
   */
  entry?: Buffer;
  /** with `arMember`: why there is no member (not an ar archive, no such member, implausible size) */
  problem?: string;
}

interface Job {
  resolve(r: ReadInWorkerResult): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  jobs: Map<number, Job>;
}

const slots: Slot[] = [];
let lastId = 0;

/**
 * Read a file on one of a few worker threads (one per core, at most 4): its sha256 and size, and/or one
 * member of it as an ar archive (a .deb's control.tar), from one open file. node's hashing is synchronous,
 * so hashing many files from the main thread used one core however many were read at once (publishing 500
 * .deb files spent most of its time there). A worker holds the process open only while it has work.
 */
export function readInWorker(path: string, what: { sha256?: boolean; arMember?: string; tarEntry?: string[] }, signal?: AbortSignal): Promise<ReadInWorkerResult> {
  const slot = leastBusy();
  const id = ++lastId;
  return new Promise((resolve, reject) => {
    if (slot.jobs.size === 0) slot.worker.ref();
    slot.jobs.set(id, { resolve, reject });
    slot.worker.postMessage({ id, path, ...what });
    // a read cannot be stopped inside the thread: the thread is stopped, and its jobs fail (the next call starts another)
    signal?.addEventListener('abort', () => void (slot.jobs.has(id) && slot.worker.terminate()), { once: true });
  });
}

function leastBusy(): Slot {
  if (slots.length === 0) {
    const count = Math.max(1, Math.min(availableParallelism(), 4));
    for (let i = 0; i < count; i++) slots.push(startWorker());
  }
  return slots.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
}

function startWorker(): Slot {
  const slot: Slot = { worker: new Worker(WORKER, { eval: true, execArgv: [], workerData: { xzModule: require.resolve('xz-decompress') } }), jobs: new Map() };
  slot.worker.on('message', (m: ReadInWorkerResult & { id: number; error?: { message: string; code?: string } }) => {
    const job = slot.jobs.get(m.id);
    if (!job) return;
    slot.jobs.delete(m.id);
    if (slot.jobs.size === 0) slot.worker.unref();
    if (m.error) job.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
    else {
      // a structured clone arrives as a plain Uint8Array
      const { id: _id, ...result } = m;
      const asBuffer = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
      if (result.member) result.member.data = asBuffer(result.member.data);
      if (result.entry) result.entry = asBuffer(result.entry);
      job.resolve(result);
    }
  });
  // a worker that died takes its jobs with it; the next call starts a new one in its place
  const fail = (err: Error) => {
    slots.splice(slots.indexOf(slot), 1);
    for (const job of slot.jobs.values()) job.reject(err);
    slot.jobs.clear();
  };
  slot.worker.on('error', fail);
  // after the listeners: adding a 'message' listener refs the worker's port again
  slot.worker.unref();
  slot.worker.on('exit', (code) => {
    if (slots.includes(slot)) fail(new Error(`the hashing thread stopped (exit code ${code})`));
  });
  return slot;
}
