import { rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestStore } from './makeStore.js';

/** Stands for the digest of a bundle that exists (the table is built before the store is). */
const DIGEST = 'd'.repeat(64);

/**
 * Request lines that try to leave the served URL space. Each must be answered 400 or 404 (414 for the
 * overlong ones) with a body that says nothing about the store. Fill them in with `hostileRequestLine`.
 */
export function hostileRequests(): Array<[label: string, template: string]> {
  const digest = DIGEST;
  const b = `/bundles/${digest}`;
  const get = (target: string) => `GET ${target} HTTP/1.1`;
  return [
    ['plain ../ out of a bundle', get(`${b}/../../../../etc/passwd`)],
    ['../ into the refs', get(`${b}/../../refs/openstack/2026.11.0`)],
    ['encoded %2e%2e/', get(`${b}/%2e%2e/%2e%2e/%2e%2e/etc/passwd`)],
    ['encoded ..%2f', get(`${b}/..%2f..%2f..%2fetc%2fpasswd`)],
    ['fully encoded %2e%2e%2f', get(`${b}/%2e%2e%2f%2e%2e%2f.tmp%2fsecret-in-progress`)],
    ['upper-case %2E%2E%2F', get(`${b}/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd`)],
    ['double-encoded %252e%252e%252f', get(`${b}/%252e%252e%252f%252e%252e%252fetc%252fpasswd`)],
    ['double-encoded %25%32%65', get(`${b}/%25%32%65%25%32%65/manifest.json`)],
    ['UTF-8 overlong dot %c0%ae', get(`${b}/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd`)],
    ['UTF-8 overlong slash %c0%af', get(`${b}/..%c0%af..%c0%afetc%c0%afpasswd`)],
    ['encoded NUL', get(`${b}/manifest.json%00.html`)],
    ['raw NUL', get(`${b}/manifest.json\0.html`)],
    ['raw backslashes', get(`${b}/..\\..\\..\\etc\\passwd`)],
    ['encoded backslashes', get(`${b}/..%5c..%5c..%5cetc%5cpasswd`)],
    ['encoded leading slash', get(`${b}/%2fetc%2fpasswd`)],
    ['empty path component', get(`${b}//etc/passwd`)],
    ['protocol-relative', get(`//etc/passwd`)],
    ['absolute-form target', get(`http://localhost/etc/passwd`)],
    ['the importer scratch folder', get(`/.tmp/secret-in-progress`)],
    ['the importer scratch listing', get(`/.tmp/`)],
    ['refs are not served', get(`/refs/openstack/2026.11.0`)],
    ['blob listing', get(`/blobs/sha256/`)],
    ['blob with a short name', get(`/blobs/sha256/abc`)],
    ['blob with upper-case hex', get(`/blobs/sha256/${digest.toUpperCase()}`)],
    ['blob escaping by ..', get(`/blobs/sha256/../../refs/openstack/2026.11.0`)],
    ['bundle listing', get(`/bundles/`)],
    ['bundle root listing', get(`${b}/`)],
    ['bundle folder listing', get(`${b}/apt/`)],
    ['not a digest', get(`/bundles/..%2f..%2f/manifest.json`)],
    ['release escaping by ..', get(`/releases/openstack/2026.11.0/../../../refs/openstack/2026.11.0`)],
    ['release name ..', get(`/releases/%2e%2e/%2e%2e/etc/passwd`)],
    ['release name with a dot first', get(`/releases/.tmp/x/secret-in-progress`)],
    ['a file outside the routes', get(`/etc/passwd`)],
    ['symlink in a bundle pointing out', get(`/bundles/EVIL/files/evil/passwd`)],
    ['symlinked folder in a bundle pointing out', get(`/bundles/EVIL/files/evil-dir/passwd`)],
    ['overlong path', get(`${b}/${'a/'.repeat(3000)}x`)],
    ['overlong encoded path', get(`${b}/${'%61'.repeat(3000)}`)],
  ];
}

/** Strings that must never appear in a refusal: file contents, store paths, internals. */
export const LEAK_MARKERS = ['root:', 'importer scratch', 'ferry-serve-store', '/tmp/', 'Error', 'at ', 'node:', 'ENOENT', 'sha256'];

/** A template of `hostileRequests` with the real digests of the sample bundle and of the bundle holding planted links. */
export function hostileRequestLine(template: string, digest: string, evil: string): string {
  return template.replaceAll(DIGEST, digest).replaceAll(DIGEST.toUpperCase(), digest.toUpperCase()).replaceAll('EVIL', evil);
}

/** A bundle whose manifest lists two files that were replaced by links out of the store after import (its digest fills EVIL). */
export async function addEvilBundle(t: TestStore): Promise<string> {
  const evil = await t.addBundle('evil', '1', { 'files/evil/passwd': 'x\n', 'files/evil-dir/passwd': 'y\n' });
  const dir = join(t.store, 'bundles', evil.digest, 'files');
  await rm(join(dir, 'evil', 'passwd'));
  await symlink('/etc/passwd', join(dir, 'evil', 'passwd'));
  await rm(join(dir, 'evil-dir'), { recursive: true });
  await symlink('/etc', join(dir, 'evil-dir'));
  return evil.digest;
}
