import type { FixtureDeb } from './fixtureUpstream.js';

/**
 * A small archive that exercises every kind of relation the resolver follows:
 * versioned Depends (libfoo >= 1.2 while 1.1 and 1.3 exist), an alternative whose first choice is
 * virtual (httpd | tinyhttpd), a virtual package with two providers, versioned Provides
 * (mail-api = 1 / = 2), a Pre-Depends, `:any` on a Multi-Arch: allowed package, Architecture: all,
 * Recommends, an Essential/required base package, and a dependency nothing satisfies.
 */
export const FIXTURE: FixtureDeb[] = [
  { name: 'app', version: '1.0-1', preDepends: 'prelib', depends: 'libfoo (>= 1.2), httpd | tinyhttpd, mail-api (>= 2), pyish:any, basefiles', recommends: 'app-docs' },
  { name: 'prelib', version: '0.9', arch: 'all' },
  { name: 'libfoo', version: '1.1-1', source: 'foo' },
  { name: 'libfoo', version: '1.3-1', source: 'foo', depends: 'libbar | libbaz' },
  { name: 'libbar', version: '2:0.5', depends: 'basefiles' },
  { name: 'libbaz', version: '1.0' },
  { name: 'bighttpd', version: '3.0', provides: 'httpd', priority: 'optional' },
  { name: 'tinyhttpd', version: '1.0', provides: 'httpd', priority: 'optional' },
  { name: 'oldmail', version: '1.0', provides: 'mail-api (= 1)' },
  { name: 'newmail', version: '1.0', provides: 'mail-api (= 2.1)' },
  { name: 'pyish', version: '3.11.2-1', multiArch: 'allowed' },
  { name: 'app-docs', version: '1.0-1', arch: 'all' },
  { name: 'basefiles', version: '12.4', essential: true, priority: 'required' },
  { name: 'tool', version: '0.1', depends: 'helper (>= 1.0)' },
  { name: 'helper', version: '1.0~rc1' },
  { name: 'cli', version: '2.0', depends: 'middle' },
  { name: 'middle', version: '2.0', depends: 'leaf' },
  { name: 'leaf', version: '2.0', depends: 'ghost (>= 3)' },
];
