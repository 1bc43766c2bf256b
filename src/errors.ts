/**
 * One error class per kind of failure, each with a stable exit code so scripts can react.
 * Messages name the bundle/entry/host, what was expected, what was found, and what to do next.
 */
export class FerryError extends Error {
  /** Process exit code used by the CLI. */
  readonly exitCode: number = 1;
  /** Stable machine-readable code, printed with --json. */
  readonly code: string = 'FERRY_ERROR';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Wrong command-line usage or options. */
export class UsageError extends FerryError {
  override readonly exitCode = 64;
  override readonly code = 'USAGE';
}

/** A spec, lock or inventory file that does not match its schema. */
export class SpecError extends FerryError {
  override readonly exitCode = 65;
  override readonly code = 'SPEC';
}

/** A signature is missing, invalid, or made by an untrusted, expired or revoked key. */
export class SignatureError extends FerryError {
  override readonly exitCode = 66;
  override readonly code = 'SIGNATURE';
}

/** Content does not match its recorded digest or size. */
export class IntegrityError extends FerryError {
  override readonly exitCode = 67;
  override readonly code = 'INTEGRITY';
}

/** A bundle or archive whose structure is not allowed (unlisted, duplicated, escaping, linked entries...). */
export class BundleFormatError extends FerryError {
  override readonly exitCode = 68;
  override readonly code = 'BUNDLE_FORMAT';
}

/** An upstream could not be fetched or resolved. */
export class FetchError extends FerryError {
  override readonly exitCode = 69;
  override readonly code = 'FETCH';
  /** Whether a retry may succeed (connection reset, 5xx, timeout). */
  readonly transient: boolean;
  /** The upstream URL or path, when one is involved. */
  readonly url?: string;
  /** The final HTTP status, when the server answered (callers fall back on 404, e.g. InRelease → Release). */
  readonly status?: number;
  constructor(message: string, options?: { cause?: unknown; transient?: boolean; url?: string; status?: number }) {
    super(message, options);
    this.transient = options?.transient ?? false;
    this.url = options?.url;
    this.status = options?.status;
  }
}

/** Dependency resolution failed (apt closure, python pins). */
export class ResolveError extends FerryError {
  override readonly exitCode = 70;
  override readonly code = 'RESOLVE';
}

/** The store is missing something or is inconsistent. */
export class StoreError extends FerryError {
  override readonly exitCode = 71;
  override readonly code = 'STORE';
}

/** A deploy step or host failed. */
export class DeployError extends FerryError {
  override readonly exitCode = 72;
  override readonly code = 'DEPLOY';
}

/** An external program ferry runs (git, tar, zstd, xz, mmdebstrap…) is missing or failed. */
export class ToolError extends FerryError {
  override readonly exitCode = 73;
  override readonly code = 'TOOL';
  readonly tool: string;
  /** the Debian package that provides the tool */
  readonly debianPackage: string;
  /** the tool is not installed (no `failure`) */
  readonly missing: boolean;
  /** when the tool ran and failed: the end of what it wrote to stderr, and its exit status (null: killed) */
  readonly stderr?: string;
  readonly status?: number | null;
  /** without `failure`: the tool is not installed (`hint`: what else the user may do) */
  constructor(tool: string, debianPackage: string, opts: { failure?: string; hint?: string; cause?: unknown; stderr?: string; status?: number | null } = {}) {
    super(opts.failure === undefined ? `${tool} is not installed; install it (apt-get install ${debianPackage})${opts.hint ? ` ${opts.hint}` : ''}` : `${tool} failed: ${opts.failure}`, { cause: opts.cause });
    this.tool = tool;
    this.debianPackage = debianPackage;
    this.missing = opts.failure === undefined;
    this.stderr = opts.stderr;
    this.status = opts.status;
  }
}

/**
 * `--check` found hosts that differ from the release: not a failure of ferry (the report says what
 * differs, and `deploy --repair` fixes it). 2, like `terraform plan -detailed-exitcode`, apart from
 * the failure codes 64–74.
 */
export class DriftError extends FerryError {
  override readonly exitCode = 2;
  override readonly code = 'DRIFT';
}

/** A bug in ferry: anything thrown that is not one of the errors above. */
export class InternalError extends FerryError {
  override readonly exitCode = 74;
  override readonly code = 'INTERNAL';
}
