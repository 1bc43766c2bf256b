import { Worker } from 'node:worker_threads';

/** the shared word: the writer is still writing, has finished, or failed */
const WRITING = 0;
const WRITTEN = 1;
const STOPPED = 2;
/** how long the thread sleeps when it has caught up with the writer before it looks again (woken at once when the writer ends) */
const WAIT_MS = 20;

/**
 * What the thread runs: read the file from the start with plain system calls into one reused buffer and
 * hash it; when it has caught up with the writer, sleep on the shared word until more may be there (a
 * short timeout) or the writer is done (woken at once); once told the writer is done, read to the end and
 * report. A CommonJS script (execArgv: [] below, as in readInWorker).
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const { createHash } = require('node:crypto');
const state = new Int32Array(workerData.state);
const buf = Buffer.allocUnsafe(1 << 20);
const hash = createHash('sha256');
let fd;
try {
  fd = openSync(workerData.file, 'r');
  let size = 0;
  for (;;) {
    // the state is read before the file: a read that finds nothing more after the writer was done is the end
    const now = Atomics.load(state, 0);
    const n = readSync(fd, buf, 0, buf.length, size);
    if (n > 0) {
      hash.update(buf.subarray(0, n));
      size += n;
      continue;
    }
    if (now === ${STOPPED}) {
      parentPort.postMessage({ stopped: true });
      break;
    }
    if (now === ${WRITTEN}) {
      parentPort.postMessage({ sha256: hash.digest('hex'), size });
      break;
    }
    Atomics.wait(state, 0, ${WRITING}, ${WAIT_MS});
  }
} catch (err) {
  parentPort.postMessage({ error: err.message });
} finally {
  if (fd !== undefined) closeSync(fd);
}
`;

export interface GrowingFileHash {
  /** the writer has finished (its last write is in the file): the sha256 and size of the whole file */
  written(): Promise<{ sha256: string; size: number }>;
  /** the writer failed: stop reading */
  stop(): Promise<void>;
}

/**
 * Hash a file while another process writes it from the start (a compressor writing its output): on a
 * thread of its own, which reads what is there and catches up as it grows, so the hash is ready moments
 * after the writer ends instead of a whole read later (356 MiB of zstd output took 0.3-0.5 s to hash
 * after the compressor had finished). The file must exist when this is called and only grow at its end.
 */
export function hashGrowingFile(file: string): GrowingFileHash {
  const state = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(WORKER, { eval: true, execArgv: [], workerData: { file, state: state.buffer } });
  const result = new Promise<{ sha256?: string; size?: number; stopped?: boolean }>((resolve, reject) => {
    worker.once('message', (m: { sha256?: string; size?: number; stopped?: boolean; error?: string }) => {
      if (m.error !== undefined) reject(new Error(`hashing ${file}: ${m.error}`));
      else resolve(m);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the hashing thread for ${file} stopped (exit code ${code})`)));
  });
  result.catch(() => {}); // awaited by written() or stop()
  const tell = (to: number) => {
    Atomics.store(state, 0, to);
    Atomics.notify(state, 0);
  };
  return {
    async written() {
      tell(WRITTEN);
      const r = await result;
      if (r.sha256 === undefined || r.size === undefined) throw new Error(`hashing ${file}: stopped`);
      return { sha256: r.sha256, size: r.size };
    },
    async stop() {
      if (Atomics.load(state, 0) === WRITING) tell(STOPPED);
      await result.catch(() => {});
      await worker.terminate();
    },
  };
}
