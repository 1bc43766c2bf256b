export interface RunOptions {
  /** bytes or a stream written to the remote command's standard input */
  stdin?: Uint8Array | string | PipeSource;
  /** kill the command after this long and report a transient failure */
  timeoutMs?: number;
}

/** a node stream or a minipass stream (node-tar's packer) */
export interface PipeSource {
  pipe(dest: NodeJS.WritableStream): unknown;
  on(event: 'error', cb: (err: unknown) => void): unknown;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A command that keeps running on the host for as long as the runner holds it: its standard input
 * stays open, and its end (the runner finished, or died) is what the host acts on.
 */
export interface Held {
  /** what the command printed up to its ready line */
  ready: string;
  /** close its standard input and wait for it to finish: at most the time `hold` was given, then it is killed (TransientError) */
  release(): Promise<RunResult>;
}

/** A run's hold on a host, as the host sees it: its lock file is locked, and its holder file names this run. */
export interface HeldBy {
  lock: string;
  holderFile: string;
  /** the line the hold wrote to holderFile */
  holder: string;
}

/**
 * How the runner reaches a host. `run` executes a POSIX shell script there. A failure of the
 * transport itself (connection refused or dropped, timeout) rejects with TransientError; the script's
 * own exit status is returned, never thrown.
 */
export interface Transport {
  readonly kind: 'ssh' | 'local';
  run(script: string, opts?: RunOptions): Promise<RunResult>;
  /**
   * Start a script that prints `readyLine` when it is ready and then runs until its standard input
   * closes; for ssh it carries the connection every later command shares. Resolves once the line is
   * printed; a script that exits before it resolves with its result instead.
   */
  hold(script: string, readyLine: string, timeoutMs?: number): Promise<Held | RunResult>;
  /**
   * from now on every command records its process group in this file on the host (for cleanup when the
   * runner dies), and, with `held`, runs only while the run's hold on the host is still there
   */
  registerSessions(file: string, held?: HeldBy): void;
  /** commands sent so far (the tests count them; the report shows them) */
  readonly commands: number;
}
