import { spawn } from 'node:child_process';
import { holdChild } from './holdScratch.js';
import { Readable, type Writable } from 'node:stream';
import { ToolError } from '../errors.js';

export interface ToolOptions {
  /** the Debian package that provides the tool (default: the tool's own name) */
  debianPackage?: string;
  /** added to "TOOL is not installed; install it (apt-get install PACKAGE)": what else the user may do */
  hint?: string;
  /** what the run was for, named in its failure (default: the command line) */
  doing?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** an open file the program writes its standard output to itself (then `stdout` is an empty stream) */
  stdoutFd?: number;
  /**
   * run the program in a process group of its own, which `kill` ends whole (SIGKILL): for a program whose
   * own children do the writing (git fetch's remote helper and index-pack), which a kill of it alone leaves running
   */
  processGroup?: boolean;
}

export interface RunningTool {
  /** the program's standard input: end it (or pipe into it); a program that stops reading is reported through `exited` */
  stdin: Writable;
  /** the program's standard output, to read (or resume) */
  stdout: Readable;
  /** resolves once the program exited 0 and its output is read; otherwise rejects with a ToolError */
  exited: Promise<void>;
  kill(): void;
}

/** what is kept of a program's stderr: its end, where programs put the reason they stop */
const STDERR_KEPT = 16384;

/**
 * Start an external program (git, tar, zstd, xz, mmdebstrap, sync…) with its standard streams as pipes.
 * Every failure is one ToolError (exit 73) naming the tool: not installed (with its Debian package),
 * or its exit status and the last line it wrote to stderr (the whole kept stderr is on the error).
 */
export function startTool(tool: string, args: string[], opts: ToolOptions = {}): RunningTool {
  const pkg = opts.debianPackage ?? tool;
  const child = spawn(tool, args, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', opts.stdoutFd ?? 'pipe', 'pipe'], detached: opts.processGroup });
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      return process.kill(-child.pid!, signal);
    } catch {
      return false; // gone already
    }
  };
  holdChild(
    opts.processGroup && child.pid !== undefined
      ? { get exitCode() { return child.exitCode; }, get signalCode() { return child.signalCode; }, kill: killGroup, once: (e, l) => child.once(e, l) }
      : child,
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-STDERR_KEPT);
  });
  // a program that ends without reading all of its input closes the pipe: its exit says why
  child.stdin!.on('error', () => {});
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'ENOENT' ? new ToolError(tool, pkg, { hint: opts.hint }) : new ToolError(tool, pkg, { failure: `${opts.doing ?? tool}: ${err.message}`, cause: err })),
    );
    child.on('close', (code, signal) => {
      if (code === 0) return resolve();
      const last = reason(stderr);
      const status = code === null ? `killed by ${signal}` : `exit ${code}`;
      reject(new ToolError(tool, pkg, { failure: `${opts.doing ?? `${tool} ${args.join(' ')}`} (${status})${last ? `: ${last}` : ''}`, stderr, status: code }));
    });
  });
  exited.catch(() => {});
  return { stdin: child.stdin!, stdout: child.stdout ?? Readable.from([]), exited, kill: () => {
    if (opts.processGroup && child.pid !== undefined) killGroup('SIGKILL');
    else if (child.exitCode === null) child.kill();
  } };
}

/**
 * The most standard output runTool keeps of one program (64 MiB): what git, tar and the like print
 * can be as long as a hostile bundle, lock or upstream makes it, and it is held in memory whole.
 */
export const DEFAULT_MAX_OUTPUT = 64 << 20;

/**
 * Run a program to its end, with `input` (or nothing) on its stdin; its standard output. Past `maxOutput`
 * bytes of it (default DEFAULT_MAX_OUTPUT) the program is killed and the run fails with `tooMuchOutput(limit)`
 * (the caller's kind of error), by default a ToolError (exit 73), one line.
 */
export async function runTool(
  tool: string,
  args: string[],
  opts: ToolOptions & { input?: Buffer; maxOutput?: number; tooMuchOutput?: (limit: number) => Error } = {},
): Promise<Buffer> {
  const limit = opts.maxOutput ?? DEFAULT_MAX_OUTPUT;
  const t = startTool(tool, args, opts);
  const out: Buffer[] = [];
  let size = 0;
  let over = false;
  t.stdout.on('data', (d: Buffer) => {
    if (over) return;
    size += d.length;
    if (size > limit) {
      over = true;
      out.length = 0;
      t.kill();
      // a program's child that holds the output open (git's remote helper) sees it closed
      t.stdout.destroy();
      return;
    }
    out.push(d);
  });
  t.stdin.end(opts.input);
  await t.exited.catch((err: unknown) => {
    if (!over) throw err;
  });
  if (over) {
    throw (
      opts.tooMuchOutput?.(limit) ??
      new ToolError(tool, opts.debianPackage ?? tool, { failure: `${opts.doing ?? `${tool} ${args.join(' ')}`} wrote more than ${limit} bytes of output; ferry stopped it there` })
    );
  }
  return Buffer.concat(out);
}

/**
 * The line of a failed program's stderr that says why: its last, except GNU tar's closing summary
 * ("Exiting with failure status due to previous errors"), after which the first error it reported
 * (not one of its notices that it removed a leading `/` or `../`) is the reason.
 */
function reason(stderr: string): string | undefined {
  const lines = stderr.trim().split('\n').map((l) => l.trim()).filter(Boolean);
  const last = lines.at(-1);
  if (last === undefined || !/Exiting with failure status due to previous errors/.test(last)) return last;
  return lines.find((l) => l !== last && !/: Removing leading /.test(l)) ?? last;
}
