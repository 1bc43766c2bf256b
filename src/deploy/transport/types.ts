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
 * How the runner reaches a host. `run` executes a POSIX shell script there. A failure of the
 * transport itself (connection refused or dropped, timeout) rejects with TransientError; the script's
 * own exit status is returned, never thrown.
 */
export interface Transport {
  readonly kind: 'ssh' | 'local';
  run(script: string, opts?: RunOptions): Promise<RunResult>;
  /** commands sent so far (the tests count them; the report shows them) */
  readonly commands: number;
  close(): Promise<void>;
}
