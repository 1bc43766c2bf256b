import { describe, expect, it } from 'vitest';
import { evaluatePreconditions } from '../../src/serve/evaluatePreconditions.js';
import { parseRange } from '../../src/serve/parseRange.js';
import { resolveRequestPath } from '../../src/serve/resolveRequestPath.js';
import { contentTypeFor } from '../../src/serve/contentTypeFor.js';
import { prefersPep691 } from '../../src/serve/prefersPep691.js';

const D = 'ab'.repeat(32);

describe('resolveRequestPath', () => {
  it.each([
    [`/bundles/${D}/apt/dists/bookworm/InRelease`, { kind: 'bundle', digest: D, path: 'apt/dists/bookworm/InRelease', directory: false }],
    [`/bundles/${D}/python/simple/`, { kind: 'bundle', digest: D, path: 'python/simple', directory: true }],
    [`/bundles/${D}/apt/pool/main/libs/libstdc%2B%2B6_12_amd64.deb?x=1`, { kind: 'bundle', digest: D, path: 'apt/pool/main/libs/libstdc++6_12_amd64.deb', directory: false }],
    ['/releases/openstack/2026.11.0/keys/bundle.asc', { kind: 'release', name: 'openstack', version: '2026.11.0', path: 'keys/bundle.asc', directory: false }],
    ['/releases/openstack/1.0~rc1+b2/x', { kind: 'release', name: 'openstack', version: '1.0~rc1+b2', path: 'x', directory: false }],
    // bundle paths may hold spaces, # and letters of any script: each arrives percent-encoded
    [`/bundles/${D}/files/web/my%20notes%20%231.txt`, { kind: 'bundle', digest: D, path: 'files/web/my notes #1.txt', directory: false }],
    [`/bundles/${D}/files/web/caf%C3%A9%2B%E6%97%A5%E6%9C%AC.conf`, { kind: 'bundle', digest: D, path: 'files/web/café+日本.conf', directory: false }],
    ['/releases/', { kind: 'releases-index' }],
    ['/releases', { kind: 'redirect', location: '/releases/' }],
    // a bundle's or release's root, as any folder, only with its "/" (it was served as the folder, so its page's relative links broke)
    ['/releases/openstack/2026.11.0', { kind: 'redirect', location: '/releases/openstack/2026.11.0/' }],
    ['/releases/openstack/2026.11.0?x=1', { kind: 'redirect', location: '/releases/openstack/2026.11.0/' }],
    [`/bundles/${D}`, { kind: 'redirect', location: `/bundles/${D}/` }],
    ['/releases/openstack/2026.11.0/', { kind: 'release', name: 'openstack', version: '2026.11.0', path: '', directory: true }],
    [`/bundles/${D}/`, { kind: 'bundle', digest: D, path: '', directory: true }],
    ['/healthz', { kind: 'healthz' }],
    [`/blobs/sha256/${D}`, { kind: 'blob', sha256: D }],
  ])('routes %s', (target, route) => {
    expect(resolveRequestPath(target)).toEqual(route);
  });

  it.each([
    ['/a/%2e%2e/b', 400, 'dot path component'],
    ['/a/%252e%252e/b', 400, 'double percent-encoding'],
    ['/a/%c0%ae%c0%ae/b', 400, 'percent-encoding is not valid UTF-8'],
    ['/a/%zz', 400, 'malformed percent-encoding'],
    ['/a/%00', 400, 'encoded control character or backslash'],
    ['/a/%5c', 400, 'encoded control character or backslash'],
    ['/a\\b', 400, 'control character, space or backslash in path'],
    ['/a//b', 400, 'empty path component'],
    ['/a#b', 400, 'fragment in request target'],
    ['*', 400, 'request target is not an absolute path'],
    ['/' + 'a'.repeat(9000), 414, 'request target too long'],
    ['/' + 'a'.repeat(5000), 414, 'path too long'],
    ['/blobs/sha256/' + D.toUpperCase(), 404, 'not a blob address'],
    ['/releases/-x/1/a', 404, 'not a release name and version'],
    ['/bundles/xyz/a', 404, 'not a bundle digest'],
  ])('refuses %s with %i (%s)', (target, status, reason) => {
    expect(resolveRequestPath(target)).toEqual({ kind: 'refused', status, reason });
  });
});

describe('parseRange', () => {
  it.each([
    ['bytes=0-9', 100, { start: 0, end: 9 }],
    ['bytes=90-', 100, { start: 90, end: 99 }],
    ['bytes=90-1000', 100, { start: 90, end: 99 }],
    ['bytes=-10', 100, { start: 90, end: 99 }],
    ['bytes=-1000', 100, { start: 0, end: 99 }],
    ['bytes=100-', 100, 'unsatisfiable'],
    ['bytes=-0', 100, 'unsatisfiable'],
    ['bytes=0-0', 0, 'unsatisfiable'],
    ['bytes=5-1', 100, undefined],
    ['bytes=0-1,3-4', 100, undefined],
    ['items=0-1', 100, undefined],
    ['bytes=-', 100, undefined],
    [undefined, 100, undefined],
  ])('%s of %i bytes', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });
});

describe('evaluatePreconditions', () => {
  const v = { etag: '"e1"', lastModified: new Date('2026-11-25T10:00:00Z') };
  it.each([
    [{}, 'range'],
    [{ 'if-none-match': '"e1"' }, 'not-modified'],
    [{ 'if-none-match': 'W/"e1"' }, 'not-modified'],
    [{ 'if-none-match': '"e0", "e1"' }, 'not-modified'],
    [{ 'if-none-match': '*' }, 'not-modified'],
    [{ 'if-none-match': '"e2"' }, 'range'],
    [{ 'if-none-match': '"e2"', 'if-modified-since': 'Wed, 25 Nov 2026 11:00:00 GMT' }, 'range'],
    [{ 'if-modified-since': 'Wed, 25 Nov 2026 10:00:00 GMT' }, 'not-modified'],
    [{ 'if-modified-since': 'Wed, 25 Nov 2026 09:59:59 GMT' }, 'range'],
    [{ 'if-match': '"e2"' }, 'precondition-failed'],
    [{ 'if-match': 'W/"e1"' }, 'precondition-failed'],
    [{ 'if-unmodified-since': 'Wed, 25 Nov 2026 09:00:00 GMT' }, 'precondition-failed'],
    [{ 'if-range': '"e1"' }, 'range'],
    [{ 'if-range': 'W/"e1"' }, 'full'],
    [{ 'if-range': '"e2"' }, 'full'],
    [{ 'if-range': 'Wed, 25 Nov 2026 10:00:00 GMT' }, 'range'],
    [{ 'if-range': 'Wed, 25 Nov 2026 10:00:01 GMT' }, 'full'],
    // the other two HTTP-date forms (RFC 9110 §5.6.7), always GMT
    [{ 'if-modified-since': 'Wednesday, 25-Nov-26 10:00:00 GMT' }, 'not-modified'],
    [{ 'if-modified-since': 'Wed Nov 25 10:00:00 2026' }, 'not-modified'],
    [{ 'if-modified-since': 'Wed Nov 25 09:59:59 2026' }, 'range'],
    // anything else is not an HTTP-date: the condition is ignored (Date.parse guessed a date: 304 or 412 for every file)
    [{ 'if-modified-since': '3000' }, 'range'],
    [{ 'if-modified-since': '2999-01-01' }, 'range'],
    [{ 'if-modified-since': 'Wed, 31 Feb 2999 10:00:00 GMT' }, 'range'],
    [{ 'if-modified-since': 'Wed, 25 Nov 2999 10:00:00 +0100' }, 'range'],
    [{ 'if-unmodified-since': '1' }, 'range'],
    [{ 'if-range': '2026-11-25T10:00:00Z' }, 'full'],
  ])('%j → %s', (headers, expected) => {
    expect(evaluatePreconditions(headers, v)).toBe(expected);
  });
});

describe('contentTypeFor', () => {
  it.each([
    ['keys/bundle.asc', 'application/pgp-keys'],
    ['files/web/keys/other.asc', 'application/pgp-signature'],
    ['apt/dists/x/main/binary-amd64/Packages.xz', 'application/x-xz'],
    ['files/web/README', 'application/octet-stream'],
    ['files/web/.env', 'application/octet-stream'],
  ])('%s is %s', (path, type) => {
    expect(contentTypeFor(path)).toBe(type);
  });
});

describe('prefersPep691 (PEP 691 content negotiation of a Python index page)', () => {
  it.each([
    // pip 22.2 and later
    ['application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01', true],
    ['application/vnd.pypi.simple.latest+json', true],
    ['text/html, application/vnd.pypi.simple.v1+json;q=0.5', false],
    ['application/vnd.pypi.simple.v1+json;q=0', false],
    // browsers, curl, older pips
    ['*/*', false],
    ['text/html', false],
    [undefined, false],
  ])('Accept %s -> JSON %s', (accept, json) => {
    expect(prefersPep691(accept)).toBe(json);
  });
});
