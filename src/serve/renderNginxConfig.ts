import { isIP } from 'node:net';
import { UsageError } from '../errors.js';
import { RELEASES_INDEX_FILE } from '../store/syncReleaseLinks.js';
import { VERSION } from '../version.js';
import { CONTENT_TYPES_BY_EXTENSION, DEFAULT_CONTENT_TYPE, PGP_KEYS, TEXT_FILE_NAMES } from './contentTypeFor.js';
import type { ListenAddress } from './parseListenAddress.js';

export interface NginxConfigOptions {
  /** the store's absolute path */
  store: string;
  listen: ListenAddress[];
  /** certificate and key files: listen with TLS */
  tls?: { certFile: string; keyFile: string };
}

const IMMUTABLE = '"public, max-age=31536000, immutable"';
const NAME = '[A-Za-z0-9][A-Za-z0-9._+~-]*';

/**
 * An nginx `server { }` block (for the `http { }` context) that serves the store with the same URL
 * space as `ferry serve`. nginx serves plain files only, so:
 * - /releases/NAME/VERSION/ follows STORE/releases/NAME/VERSION, a symlink to ../../bundles/DIGEST
 *   kept in step with STORE/refs by syncReleaseLinks (ferry serve --sync-links);
 * - /releases/ is the file STORE/releases.json that the same sync writes;
 * - /mirrors/NAME[@VERSION]/ follows STORE/mirrors/NAME[@VERSION] (syncMirrorLinks, ferry mirror switch);
 * - no other symlink is followed (`disable_symlinks`), so a link planted in the store cannot lead out of it;
 * - content types come from the same table as ferry's; ETags are nginx's own (mtime and size), not the sha256.
 */
export function renderNginxConfig(opts: NginxConfigOptions): string {
  /** a path quoted for nginx, followed by `variables` (nginx expands $names inside double quotes) */
  const q = (path: string, variables = '') => {
    if (/["\\\n\r$;{}]/.test(path)) throw new UsageError(`${JSON.stringify(path)} cannot be written into an nginx configuration; use a path without quotes, backslashes, $, ; or braces`);
    return `"${path}${variables}"`;
  };
  const ssl = opts.tls ? ' ssl' : '';
  const listens = opts.listen.flatMap(({ host, port }) => {
    if (host === undefined) return [`listen ${port}${ssl};`, `listen [::]:${port}${ssl} ipv6only=on;`];
    if (isIP(host) === 6) return [`listen [${host}]:${port}${ssl}${host === '::' ? ' ipv6only=on' : ''};`];
    return [`listen ${host}:${port}${ssl};`];
  });
  const byType = new Map<string, string[]>();
  for (const [ext, type] of Object.entries(CONTENT_TYPES_BY_EXTENSION)) {
    // nginx adds "; charset=utf-8" itself through `charset` for text types
    const bare = type.replace(/; charset=utf-8$/, '');
    byType.set(bare, [...(byType.get(bare) ?? []), ext]);
  }
  const types = [...byType].map(([type, exts]) => `        ${type} ${exts.join(' ')};`).join('\n');
  const security = 'add_header X-Content-Type-Options nosniff always;';
  // nginx picks one regex location per level, so the per-file types are nested in each tree; nested
  // regexes capture nothing, so the named captures of the release route stay intact
  // `guard`: lines every location of the tree starts with (a nested location does not run its parent's `if`)
  const perFile = (prefix: string, cache: string, guard = '') => `${guard}
        add_header Cache-Control ${cache} always;
        ${security}
        location ~ "/(?:${TEXT_FILE_NAMES.join('|')})$" {${guard.replaceAll('\n', '\n    ')}
            default_type text/plain;
            add_header Cache-Control ${cache} always;
            ${security}
        }
        location ~ "^${prefix}/keys/[^/]+\\.asc$" {${guard.replaceAll('\n', '\n    ')}
            types { }
            default_type ${PGP_KEYS};
            add_header Cache-Control ${cache} always;
            ${security}
        }`;
  // The link STORE/releases/NAME/VERSION (or STORE/mirrors/NAME) is followed, wherever it leads: one planted
  // there (`-> /`) would open the whole file system, where ferry serve, which never reads these links, answers
  // 404. So what is served must resolve into a bundle (`under`: what follows the bundle's folder). A path that does
  // not exist answers 404 before its real path is asked for (nginx logs a failed realpath() as critical).
  const storeRe = q(opts.store).slice(1, -1).replace(/[.*+?^()|[\]]/g, '\\$&');
  const intoBundle = (under: string) => `
        if (!-e $request_filename) { return 404; }
        if ($realpath_root !~ "^${storeRe}/bundles/[0-9a-f]{64}${under}") { return 404; }`;
  return `# ferry ${VERSION}: nginx server block for the store ${opts.store}
# Put it inside the http { } block (e.g. /etc/nginx/conf.d/ferry.conf) and reload nginx.
# /releases/NAME/VERSION/ follows the symlinks STORE/releases/NAME/VERSION -> ../../bundles/DIGEST;
# keep them in step with STORE/refs by running "ferry serve --sync-links --store ${opts.store}" after each
# import (ferry import does it itself when it can write the store).
server {
    ${listens.join('\n    ')}
    server_name _;
    root ${q(opts.store)};
${opts.tls ? `    ssl_certificate ${q(opts.tls.certFile)};\n    ssl_certificate_key ${q(opts.tls.keyFile)};\n    ssl_protocols TLSv1.2 TLSv1.3;\n` : ''}
    server_tokens off;
    autoindex off;
    index index.html;
    absolute_redirect off;
    sendfile on;
    tcp_nopush on;
    # no symlink is followed inside the store (bundles are plain files and hard links)
    disable_symlinks on from=$document_root;
    charset utf-8;
    default_type ${DEFAULT_CONTENT_TYPE};
    types {
${types}
    }
    ${security}
    # a folder without index.html, or anything outside the routes below, is simply not there
    error_page 403 404 = @missing;
    location @missing {
        default_type text/plain;
        ${security}
        return 404 "not found\\n";
    }

    location = /healthz {
        default_type application/json;
        add_header Cache-Control no-store always;
        ${security}
        # as ferry serve: only GET and HEAD (return answers any method otherwise)
        if ($request_method !~ ^(GET|HEAD)$) {
            return 405;
        }
        return 200 '{"status":"ok"}\\n';
    }
    location = /releases {
        return 301 /releases/;
    }
    location = /releases/ {
        add_header Cache-Control no-cache always;
        ${security}
        try_files /${RELEASES_INDEX_FILE} =404;
    }
    location ~ "^/bundles/[0-9a-f]{64}/" {${perFile('/bundles/[0-9a-f]{64}', IMMUTABLE)}
        # the one file of a bundle an import replaces (a damaged signature): revalidated (nginx's ETag, mtime and size, changes)
        location ~ "^/bundles/[0-9a-f]{64}/manifest\\.json\\.asc$" {
            add_header Cache-Control no-cache always;
            ${security}
        }
    }
    # by name: the one symlink followed is STORE/releases/NAME/VERSION itself; none inside the bundle
    location ~ "^/releases/(?<ferry_name>${NAME})/(?<ferry_version>${NAME})/(?<ferry_path>.*)$" {
        alias ${q(`${opts.store}/releases/`, '$ferry_name/$ferry_version/$ferry_path')};
        disable_symlinks on ${q(`from=${opts.store}/releases/`, '$ferry_name/$ferry_version')};${perFile('/releases/[^/]+/[^/]+', 'no-cache', intoBundle('(/|$)'))}
    }
    # mirrors: STORE/mirrors/NAME -> NAME@VERSION -> ../bundles/DIGEST/mirrors/NAME (ferry mirror switch
    # replaces the first link atomically); no link inside the bundle is followed
    location ~ "^/mirrors/(?<ferry_mirror>${NAME}(?:@${NAME})?)$" {
        return 301 /mirrors/$ferry_mirror/;
    }
    location ~ "^/mirrors/(?<ferry_mirror>${NAME}(?:@${NAME})?)/(?<ferry_mpath>.*)$" {
        alias ${q(`${opts.store}/mirrors/`, '$ferry_mirror/$ferry_mpath')};
        disable_symlinks on ${q(`from=${opts.store}/mirrors/`, '$ferry_mirror')};${perFile('/mirrors/[^/]+', 'no-cache', intoBundle('/mirrors/'))}
    }
    location ~ "^/blobs/sha256/[0-9a-f]{64}$" {
        types { }
        default_type ${DEFAULT_CONTENT_TYPE};
        add_header Cache-Control ${IMMUTABLE} always;
        ${security}
    }
    location / {
        return 404;
    }
}
`;
}
