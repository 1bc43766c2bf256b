import { FetchError, ToolError } from '../../errors.js';
import { runGit } from './runGit.js';

const COMMIT_RE = /^[0-9a-f]{40}$/;

/**
 * Pin a ref of a remote (or local) repository to a commit with `git ls-remote`. A ref may be a
 * full commit id (kept as is), a tag (annotated tags are peeled to their commit), a branch, or a
 * full ref name such as refs/changes/12/345/6. When a tag and a branch share the name, the tag
 * wins, as it does for `git checkout`.
 */
export async function resolveGitRef(url: string, ref: string): Promise<string> {
  if (COMMIT_RE.test(ref)) return ref;
  let out: string;
  try {
    out = await runGit(['ls-remote', '--', url], { userConfig: true });
  } catch (err) {
    if (err instanceof ToolError && err.stderr !== undefined) {
      throw new FetchError(`cannot list the refs of ${url}: ${err.stderr.trim() || `git exited with ${err.status}`}; check the URL and that this machine can reach it`, {
        cause: err,
        transient: /timed out|Could not resolve|Connection (reset|refused)/i.test(err.stderr),
      });
    }
    throw err;
  }
  const refs = new Map<string, string>();
  for (const line of out.split('\n')) {
    const [sha, name] = line.split('\t');
    if (sha && name) refs.set(name, sha);
  }
  const candidates = ref.startsWith('refs/') ? [ref] : [`refs/tags/${ref}`, `refs/heads/${ref}`];
  for (const c of candidates) {
    const peeled = refs.get(`${c}^{}`);
    if (peeled) return peeled;
    const direct = refs.get(c);
    if (direct) return direct;
  }
  throw new FetchError(`${url} has no tag or branch "${ref}"; name an existing tag, branch, full ref (refs/...) or a 40-hex commit id`);
}
