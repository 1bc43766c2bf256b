import { downloadLimits } from '../../fetch/downloadLimits.js';
import { runTool, startTool, type RunningTool } from '../../util/runTool.js';

/**
 * Run git and return its standard output (at most runTool's bound of it): no terminal prompts (a private repository without
 * credentials fails at once instead of waiting), C locale for parsable messages. By default the
 * system and user configuration are ignored, so settings like pack.compression cannot change the
 * bytes ferry writes; commands that talk to an upstream pass `userConfig` to keep the operator's
 * proxies, credential helpers and url.insteadOf rewrites. Only the file, git, http(s) and ssh transports
 * are allowed (GIT_ALLOW_PROTOCOL), never one that runs a program (ext::). A failing git is a ToolError carrying its
 * stderr (callers that expect a failure, like an unreachable upstream, turn that into their own error).
 */
export async function runGit(args: string[], opts: GitOptions & Pick<Parameters<typeof runTool>[2] & {}, 'maxOutput' | 'tooMuchOutput'> = {}): Promise<string> {
  return (await runTool('git', args, { cwd: opts.cwd, env: gitEnv(opts), maxOutput: opts.maxOutput, tooMuchOutput: opts.tooMuchOutput })).toString('utf8');
}

/** runGit's git, its output read as it comes (a listing too long to hold, read until the reader has seen enough). */
export function startGit(args: string[], opts: GitOptions & { processGroup?: boolean } = {}): RunningTool {
  const git = startTool('git', args, { cwd: opts.cwd, env: gitEnv(opts), processGroup: opts.processGroup });
  git.stdin.end();
  return git;
}

/**
 * For git reading a bundle's objects on the runner (import's check, extract): no single allocation over
 * 1 GiB (git's GIT_ALLOC_LIMIT, checked by its every xmalloc). git resolves a delta in memory, at the size
 * the delta states, and a delta of a few hundred bytes can state gigabytes (each byte of it copies 64 KiB
 * of its base): a signed bundle of 200 bytes made `ferry import` allocate and fill 2 GiB, a larger claim
 * as much as the machine has. ferry build never writes such a delta (git does not delta-compress objects
 * over core.bigFileThreshold, 512 MiB), and objects larger than that are streamed, not allocated whole.
 */
export const BUNDLE_OBJECTS = { env: { GIT_ALLOC_LIMIT: '1g' } } as const;

interface GitOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  userConfig?: boolean;
}

function gitEnv(opts: GitOptions): NodeJS.ProcessEnv {
  // ferry may run where another repository's variables are set (a git hook sets GIT_DIR): they would point
  // every command at that repository instead of the one named by -C, so they go, as git drops them for a submodule
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !DROPPED_ENV_VARS.includes(k)));
  return {
    ...inherited,
    ...(opts.userConfig ? lowSpeedEnv(inherited) : { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' }),
    // only the transports that move data: never ext:: or another helper that runs a program, whatever
    // the operator's protocol.allow or a url.insteadOf rewrite says
    GIT_ALLOW_PROTOCOL: 'file:git:http:https:ssh',
    GIT_TERMINAL_PROMPT: '0',
    LC_ALL: 'C',
    ...opts.env,
  };
}

/**
 * For git talking to an upstream over http(s): ferry's low-speed limit (fetch/downloadLimits.ts), as curl's,
 * so a server trickling its ref listing or pack cannot hold `ferry lock` or `build` forever. Variables the
 * operator set for git win. (git://, ssh:// and file transports have no such setting.)
 */
function lowSpeedEnv(inherited: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const limits = downloadLimits();
  return {
    GIT_HTTP_LOW_SPEED_LIMIT: inherited.GIT_HTTP_LOW_SPEED_LIMIT ?? String(limits.lowSpeedLimit),
    GIT_HTTP_LOW_SPEED_TIME: inherited.GIT_HTTP_LOW_SPEED_TIME ?? String(Math.max(1, Math.ceil(limits.lowSpeedTime / 1000))),
  };
}

/** `git rev-parse --local-env-vars` (git 2.39): the variables that locate or configure one repository. */
export const LOCAL_ENV_VARS = [
  'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_CONFIG', 'GIT_CONFIG_PARAMETERS', 'GIT_CONFIG_COUNT', 'GIT_OBJECT_DIRECTORY', 'GIT_DIR', 'GIT_WORK_TREE',
  'GIT_IMPLICIT_WORK_TREE', 'GIT_GRAFT_FILE', 'GIT_INDEX_FILE', 'GIT_NO_REPLACE_OBJECTS', 'GIT_REPLACE_REF_BASE', 'GIT_PREFIX', 'GIT_INTERNAL_SUPER_PREFIX',
  'GIT_SHALLOW_FILE', 'GIT_COMMON_DIR',
];

/**
 * What every git ferry runs (here and in a host's git step) goes without: LOCAL_ENV_VARS, and GIT_DEFAULT_HASH,
 * with which `git init` makes a sha256 repository that no sha1 upstream or bundle can be fetched into (import
 * called every signed git bundle damaged, extract and build failed).
 */
export const DROPPED_ENV_VARS = [...LOCAL_ENV_VARS, 'GIT_DEFAULT_HASH'];
