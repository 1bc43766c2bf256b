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
/**
 * control.tar.xz decoded only as far as its ./control entry (usually the second, before md5sums and
 * maintainer scripts), then closed with an end-of-archive marker; anything unusual in the headers (long
 * names, pax records) and the whole archive is decoded, for the caller's tar reader to judge.
 */
async function unxzUntil(data, wanted) {
  const { XzReadableStream } = require(workerData.xzModule);
  const reader = new XzReadableStream(new Blob([data]).stream()).getReader();
  let out = Buffer.alloc(0);
  let pos = 0;
  let walking = true;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return out;
    out = Buffer.concat([out, value]);
    while (walking && out.length >= pos + 512) {
      const h = out.subarray(pos, pos + 512);
      const sizeText = h.toString('latin1', 124, 136).replace(/\\0.*$/s, '').trim();
      const simple = /^[0-7]{1,11}$/.test(sizeText) && h[345] === 0 && (h[156] === 0x30 || h[156] === 0 || h[156] === 0x35);
      if (!simple) {
        walking = false;
        break;
      }
      const nul = h.indexOf(0);
      const name = h.toString('utf8', 0, nul >= 0 && nul < 100 ? nul : 100);
      const end = pos + 512 + Math.ceil(parseInt(sizeText, 8) / 512) * 512;
      if (wanted.includes(name) && out.length >= end) {
        await reader.cancel();
        return Buffer.concat([out.subarray(0, end), Buffer.alloc(1024)]);
      }
      if (wanted.includes(name)) break;
      pos = end;
    }
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
    if (out.member && tarEntry && out.member.name.endsWith('.xz')) {
      try {
        out.member.data = await unxzUntil(out.member.data, tarEntry);
        out.member.decompressed = true;
      } catch (err) {
        delete out.member;
        out.problem = 'its ' + prefix + ' member is not valid xz data (' + err.message + ')';
      }
    }
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
export function readInWorker(path: string, what: { sha256?: boolean; arMember?: string; tarEntry?: string[] }): Promise<ReadInWorkerResult> {
  const slot = leastBusy();
  const id = ++lastId;
  return new Promise((resolve, reject) => {
    if (slot.jobs.size === 0) slot.worker.ref();
    slot.jobs.set(id, { resolve, reject });
    slot.worker.postMessage({ id, path, ...what });
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
      if (result.member) result.member.data = Buffer.from(result.member.data.buffer, result.member.data.byteOffset, result.member.data.byteLength);
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
