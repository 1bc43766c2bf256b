import { setFlagsFromString } from 'node:v8';

/**
 * V8 settings for a process that runs one ferry command. Imported before anything else (bin/ferry.js, and
 * the benchmarks' child processes that stand for a ferry command), because V8 reads them as it goes:
 *
 * - `--semi-space-growth-factor=1`, for every command but `ferry build`: peak memory counts more here than
 *   the last percent of allocation speed (`ferry lock` is measured against apt-get's, docs/apt.md). While the
 *   modules load, V8 doubles its young generation up to 2 × 16 MiB, which then stays mostly empty; growth
 *   factor 1 keeps it at its first 2 × 1 MiB (measured on bookworm main: lock's peak RSS 125 -> 104 MiB, CPU
 *   time within 5 %; a process that only parses and resolves, the closure benchmark's, peaks 4 MiB higher
 *   with it: docs/apt.md; `ferry serve` spent ~7 % less CPU per request with it). Not for `ferry build`:
 *   its downloads keep up to 1 MiB of 64 KiB socket buffers per file waiting for the disk, which outlive a
 *   1 MiB young generation, are promoted and then cost full mark-compacts: fetching 512 MiB of images
 *   took 14-22 of them and 1.8-1.9 s of user CPU with it, 2 and 1.4-1.5 s without, 2.2-2.5 s -> 2.0-2.1 s
 *   wall, peak RSS 125 -> 130 MiB (2026-12-06, scripts/bench/images.mjs's setup, `--trace-gc`).
 * - `--wasm-tiering-budget=20000000` (default 1,800,000): undici parses HTTP with a WebAssembly build of
 *   llhttp. After a few responses its parser counts as hot and V8 recompiles it with TurboFan on a background
 *   thread, about 0.2 s of work that the process then waits for at exit, even after `process.exit`: a
 *   `ferry lock` of a small mirror finished its work at 0.45 s and exited at 0.65 s. With eleven times the
 *   budget a short command ends before the recompilation starts; long work still gets it within its first
 *   few milliseconds (xz-decoding bookworm's 50 MB Packages in WebAssembly: 0.92 s either way, against
 *   1.14 s with no TurboFan at all).
 */
// the command is the first argument (ferry has no options before it)
if (process.argv[2] !== 'build') setFlagsFromString('--semi-space-growth-factor=1');
setFlagsFromString('--wasm-tiering-budget=20000000');
