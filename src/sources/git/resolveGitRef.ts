import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { FetchError, ToolError } from '../../errors.js';
import { parseSize } from '../../util/parseSize.js';
import { runGit, startGit } from './runGit.js';

/** A ref that is itself a full commit id: the spec pins that commit, no listing is needed, and a lock may name no other. */
export function refIsCommit(ref: string): boolean {
  return /^[0-9a-f]{40}$/.test(ref);
}

/**
 * The most output of `git ls-remote` read (FERRY_MAX_REF_LISTING, default 256 MiB: some 3 million refs):
 * a server can advertise refs without end, and the listing is read as it comes, keeping only the refs
 * asked for, but never past this bound.
 */
const DEFAULT_MAX_REF_LISTING = 256 << 20;

/**
 * Pin a ref of a remote (or local) repository to a commit with `git ls-remote`. A ref may be a
 * full commit id (kept as is), a tag (annotated tags are peeled to their commit), a branch, or a
 * full ref name such as refs/changes/12/345/6. When a tag and a branch share the name, the tag
 * wins, as it does for `git checkout`. A short name lists only tags and branches (a server that speaks
 * protocol v2 leaves the other refs out itself).
 */
export async function resolveGitRef(url: string, ref: string, scratch: string): Promise<string> {
  if (refIsCommit(ref)) return ref;
  // run in an empty repository of ferry's own, as the build's fetch is: run where ferry was started, git would
  // read the configuration of the repository around that folder (a core.sshCommand there ran at lock, a
  // url.insteadOf there pinned a commit of another server than the build then fetched from)
  await mkdir(scratch, { recursive: true });
  const repo = await mkdtemp(join(scratch, 'ls-remote-'));
  try {
    await runGit(['init', '--quiet', '--bare', '--template=', repo]);
    return await listRef(repo, url, ref);
  } finally {
    await rm(repo, { recursive: true, force: true });
  }
}

async function listRef(repo: string, url: string, ref: string): Promise<string> {
  const candidates = ref.startsWith('refs/') ? [ref] : [`refs/tags/${ref}`, `refs/heads/${ref}`];
  const wanted = new Set(candidates.flatMap((c) => [c, `${c}^{}`]));
  const max = process.env.FERRY_MAX_REF_LISTING ? parseSize(process.env.FERRY_MAX_REF_LISTING, 'FERRY_MAX_REF_LISTING') : DEFAULT_MAX_REF_LISTING;
  const refs = new Map<string, string>();
  const git = startGit(['-C', repo, 'ls-remote', ...(ref.startsWith('refs/') ? [] : ['--tags', '--heads']), '--', url], { userConfig: true });
  let read = 0;
  let rest = '';
  const decoder = new StringDecoder('utf8');
  const take = (line: string) => {
    const [sha, name] = line.split('\t');
    if (sha && name && wanted.has(name)) refs.set(name, sha);
  };
  for await (const chunk of git.stdout) {
    read += (chunk as Buffer).length;
    if (read > max) break;
    const lines = (rest + decoder.write(chunk as Buffer)).split('\n');
    rest = lines.pop()!;
    for (const line of lines) take(line);
  }
  if (read > max) {
    // leaving the loop destroyed the output, so git's end is reported once it is killed
    git.kill();
    await git.exited.catch(() => {});
    throw new FetchError(
      `${url} lists more than ${max} bytes of refs; ferry stopped reading there. Check the URL, give the ref as a 40-hex commit id, or raise FERRY_MAX_REF_LISTING`,
      { url },
    );
  }
  take(rest + decoder.end());
  try {
    await git.exited;
  } catch (err) {
    if (err instanceof ToolError && err.stderr !== undefined) {
      throw new FetchError(`cannot list the refs of ${url}: ${err.stderr.trim() || `git exited with ${err.status}`}; check the URL and that this machine can reach it`, {
        cause: err,
        transient: /timed out|Could not resolve|Connection (reset|refused)/i.test(err.stderr),
      });
    }
    throw err;
  }
  for (const c of candidates) {
    const peeled = refs.get(`${c}^{}`);
    if (peeled) return peeled;
    const direct = refs.get(c);
    if (direct) return direct;
  }
  throw new FetchError(`${url} has no tag or branch "${ref}"; name an existing tag, branch, full ref (refs/...) or a 40-hex commit id`);
}
