import { SpecError } from '../../errors.js';
import { IMAGE_DIGEST_RE, IMAGE_REGISTRY_RE, IMAGE_REPOSITORY_RE, IMAGE_TAG_RE } from '../../util/names.js';

/** The names Docker Hub goes by in references. */
const DOCKER_HUB = ['docker.io', 'index.docker.io'];

/** A full image reference, split: `registry.example/team/app:1.4[@sha256:…]`. */
export interface ImageRef {
  /** `REGISTRY/REPOSITORY:TAG`, as hosts and the bundle's index name it (without any @digest) */
  name: string;
  registry: string;
  repository: string;
  tag: string;
  /** the digest the reference pins, when it carries one */
  digest?: string;
}

/**
 * Split an image reference. Only full references are accepted: the registry is named (a host with a dot
 * or a port, or `localhost`) and so is the tag. A short name (`nginx:1.25`) means a different image to
 * docker, podman and containerd, each with its own default registry and search list; a bundle must say
 * which image it carries.
 */
export function parseImageRef(ref: string, where: string): ImageRef {
  const at = ref.indexOf('@');
  const digest = at >= 0 ? ref.slice(at + 1) : undefined;
  const named = at >= 0 ? ref.slice(0, at) : ref;
  const slash = named.indexOf('/');
  const registry = slash >= 0 ? named.slice(0, slash) : '';
  const rest = slash >= 0 ? named.slice(slash + 1) : named;
  const colon = rest.lastIndexOf(':');
  const repository = colon >= 0 ? rest.slice(0, colon) : rest;
  const tag = colon >= 0 ? rest.slice(colon + 1) : '';
  const fail = (why: string) => new SpecError(`${where}: image reference ${JSON.stringify(ref)} ${why}`);
  if (!registry || !(registry.includes('.') || registry.includes(':') || registry === 'localhost') || !IMAGE_REGISTRY_RE.test(registry)) {
    throw fail('does not name its registry: write the full reference, like registry.example/team/app:1.4 (docker.io/library/NAME:TAG for Docker Hub)');
  }
  if (!IMAGE_REPOSITORY_RE.test(repository) || repository.length > 255) throw fail('has an invalid repository: lowercase path components of letters and digits, separated by . _ __ or -, joined by /');
  // docker, podman and skopeo complete docker.io/nginx to docker.io/library/nginx: ferry would ask the
  // registry for another repository than they do, and serve it under a name hosts never ask for
  if (DOCKER_HUB.includes(registry) && !repository.includes('/')) {
    throw fail(`names a Docker Hub image without its namespace: write docker.io/library/${repository}:${tag || 'TAG'}, as docker, podman and skopeo read it`);
  }
  if (!tag) throw fail('has no tag: name one (registry.example/team/app:1.4), also when pinning a digest (…:1.4@sha256:…)');
  if (!IMAGE_TAG_RE.test(tag)) throw fail('has an invalid tag: up to 128 letters, digits and _ . -, not starting with . or -');
  if (digest !== undefined && !IMAGE_DIGEST_RE.test(digest)) throw fail('pins an invalid digest: sha256: and 64 lowercase hex digits');
  return { name: `${registry}/${repository}:${tag}`, registry, repository, tag, ...(digest !== undefined && { digest }) };
}
