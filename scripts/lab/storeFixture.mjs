/**
 * A store written the way the importer leaves it, and a small static server for it, for the deploy
 * tests and benchmark (types in test/deploy/storeFixture.ts). Needs dist/ (npx tsc -p .).
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, normalize } from 'node:path';
import { canonicalJson } from '../../dist/util/canonicalJson.js';
/**
 * Write a release into a store the way the importer leaves it: STORE/bundles/DIGEST/ with the files
 * and a canonical manifest.json listing each with its sha256, and STORE/refs/NAME/VERSION.
 */
export function writeRelease(store, r) {
    const files = [];
    for (const [svc, def] of Object.entries(r.services)) {
        for (const [name, content] of Object.entries(def.files ?? {}))
            files.push({ path: `files/${svc}/${name}`, content: Buffer.from(content), kind: 'file', services: [svc] });
    }
    for (const e of r.extra ?? [])
        files.push({ ...e, content: Buffer.from(e.content) });
    files.sort((a, b) => (a.path < b.path ? -1 : 1));
    const manifest = {
        format: 'ferry-bundle/1',
        name: r.name,
        version: r.version,
        epoch: r.epoch ?? '2026-11-25T00:00:00.000Z',
        created_by: 'ferry test fixture',
        targets: {},
        services: Object.fromEntries(Object.entries(r.services).map(([k, s]) => [
            k,
            { version: s.version, groups: s.groups, artifacts: {}, stage: (s.stage ?? []), install: (s.install ?? []), configure: (s.configure ?? []) },
        ])),
        artifacts: r.artifacts ?? {},
        entries: files.map((f) => ({ path: f.path, size: f.content.length, sha256: createHash('sha256').update(f.content).digest('hex'), kind: f.kind, services: f.services })),
    };
    const bytes = Buffer.from(canonicalJson(manifest));
    const digest = createHash('sha256').update(bytes).digest('hex');
    const dir = join(store, 'bundles', digest);
    for (const f of files) {
        mkdirSync(dirname(join(dir, f.path)), { recursive: true });
        writeFileSync(join(dir, f.path), f.content);
    }
    writeFileSync(join(dir, 'manifest.json'), bytes);
    mkdirSync(join(store, 'refs', r.name), { recursive: true });
    writeFileSync(join(store, 'refs', r.name, r.version), digest + '\n');
    return digest;
}
/** A read-only static server for the store (what `ferry serve` does), optionally slow, for tests. */
export async function serveStore(store, opts = {}) {
    const requests = [];
    let firstPath;
    const server = createServer((req, res) => {
        const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
        requests.push(path);
        const file = normalize(join(store, path));
        const send = () => {
            let size;
            try {
                const st = statSync(file);
                if (!st.isFile() || !file.startsWith(store + '/bundles/'))
                    throw new Error('no');
                size = st.size;
            }
            catch {
                res.writeHead(404).end();
                return;
            }
            res.writeHead(200, { 'content-length': size });
            createReadStream(file).pipe(res);
        };
        // a fault test holds every path but the first one requested until it has done its harm
        firstPath ??= path;
        if (opts.holdAfterFirst && path !== firstPath)
            void opts.holdAfterFirst.then(send);
        else
            send();
    });
    const host = opts.host ?? '127.0.0.1';
    await new Promise((r) => server.listen(0, host, r));
    const port = server.address().port;
    return {
        url: `http://${host}:${port}`,
        server,
        requests,
        close: () => new Promise((r) => {
            server.closeAllConnections();
            server.close(() => r());
        }),
    };
}
