import { DeployError } from '../../errors.js';

/** A failure of the path to the host, not of the work: a retry with backoff may succeed. */
export class TransientError extends DeployError {
  readonly transient = true;
}

/** A command the runner stopped at its time limit (--timeout): the host kept it going. */
export class CommandTimeoutError extends TransientError {}
