import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { Agent, get } from 'node:http';
import { makeStore, type StoredBundle, type TestStore } from './makeStore.js';
import { spawnServe, type ServeProcess } from './spawnServe.js';
import { ferry } from '../helpers/cli.js';
import { startServer } from './startServer.js';

/** GET on a given agent; resolves with the status, the body and the client's local port (the connection used). */
function fetchOn(agent: Agent, url: string): Promise<{ status: number; body: string; localPort: number }> {
  return new Promise((resolve, reject) => {
    get(url, { agent }, (res) => {
      // read now: once the response ends, the socket goes back to the agent
      const localPort = res.socket.localPort!;
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, localPort }));
      res.on('error', reject);
    })
      // a hang detector, not a timing: an answer that never comes fails the test instead of stalling it
      .setTimeout(60_000, function (this: { destroy(e: Error): void }) {
        this.destroy(new Error(`no answer from ${url}`));
      })
      .on('error', reject);
  });
}

/** The inode of the server's end of each loopback connection to `serverPort`, by the client's port (/proc/net/tcp). */
async function serverSideInodes(serverPort: number): Promise<Map<number, string>> {
  const hexPort = (p: number) => p.toString(16).toUpperCase().padStart(4, '0');
  const found = new Map<number, string>();
  for (const line of (await readFile('/proc/net/tcp', 'utf8')).split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 10) continue;
    const [local, remote, inode] = [cols[1]!, cols[2]!, cols[9]!];
    if (local.endsWith(`:${hexPort(serverPort)}`)) found.set(parseInt(remote.split(':')[1]!, 16), inode);
  }
  return found;
}

/** The socket inodes a process holds open. */
async function socketInodes(pid: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m) inodes.add(m[1]!);
  }
  return inodes;
}

describe('ferry serve --workers: every core serves', () => {
  let t: TestStore;
  let bundle: StoredBundle;
  let serve: ServeProcess;

  beforeAll(async () => {
    t = await makeStore();
    bundle = await t.addBundle('multi', '1', { 'apt/dists/x/Release': 'Suite: x\n', 'python/simple/index.html': '<html></html>\n' });
    serve = await spawnServe(['--store', t.store, '--listen', '127.0.0.1:0', '--workers', '2', '--json']);
  });
  afterAll(async () => {
    serve.child.kill('SIGTERM');
    await serve.exited;
    await t.cleanup();
  });

  it('runs two worker processes, which take connections in turn, and logs one whole line per request from both', async () => {
    const workers = await serve.workerPids();
    expect(workers).toHaveLength(2);
    const port = Number(new URL(serve.url).port);
    // six connections, each kept open by its own agent, each with two requests on it
    const agents = Array.from({ length: 6 }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
    const release = bundle.files.get('apt/dists/x/Release')!;
    const ports = new Set<number>();
    for (const agent of agents) {
      for (let i = 0; i < 2; i++) {
        const r = await fetchOn(agent, `${serve.url}/releases/multi/1/apt/dists/x/Release`);
        expect(r).toMatchObject({ status: 200, body: release.content.toString() });
        ports.add(r.localPort);
      }
    }
    expect(ports.size).toBe(6);
    const inodes = await serverSideInodes(port);
    const owned = await Promise.all(workers.map(socketInodes));
    const owners = [...ports].map((p) => workers.filter((_, i) => owned[i]!.has(inodes.get(p) ?? '-')));
    // each connection belongs to exactly one worker, and both workers have some
    expect(owners.every((o) => o.length === 1)).toBe(true);
    expect(new Set(owners.map((o) => o[0])).size).toBe(2);
    for (const a of agents) a.destroy();

    // the primary writes the lines: all 12, each a whole JSON object
    const lines = () => serve.stdout().trim().split('\n').filter(Boolean);
    while (lines().length < 12) await new Promise((r) => setTimeout(r, 20));
    const log = lines().map((l) => JSON.parse(l) as { status: number; target: string; bundle: string });
    expect(log).toHaveLength(12);
    expect(log.every((l) => l.status === 200 && l.target === '/releases/multi/1/apt/dists/x/Release' && l.bundle === bundle.digest)).toBe(true);
  });

  it('replaces a worker that dies, and serves on with both', async () => {
    const [victim, survivor] = await serve.workerPids();
    process.kill(victim!, 'SIGKILL');
    // the primary notices and starts another (what the dead worker was answering is cut, as with any process)
    let now: number[] = [];
    while (now.length < 2 || now.includes(victim!)) {
      await new Promise((r) => setTimeout(r, 50));
      now = await serve.workerPids();
    }
    expect(now).toContain(survivor);
    expect(serve.stderr()).toMatch(new RegExp(`worker ${victim} ended \\(SIGKILL\\); starting another`));
    // fresh connections are answered, once the new worker is ready by both
    const agent = new Agent({ keepAlive: false });
    for (let i = 0; i < 6; i++) {
      const r = await fetchOn(agent, `${serve.url}/bundles/${bundle.digest}/python/simple/`);
      expect(r).toMatchObject({ status: 200, body: '<html></html>\n' });
    }
    agent.destroy();
  });
});

describe('ferry serve --workers: errors', () => {
  let t: TestStore;
  beforeAll(async () => {
    t = await makeStore();
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it('an address in use ends it with exit 64 and the error once', async () => {
    const server = await startServer(t.store);
    try {
      const r = await ferry(['serve', '--store', t.store, '--listen', server.url.replace('http://', ''), '--workers', '3']);
      expect(r.code).toBe(64);
      expect(r.stderr.match(/cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/g)).toHaveLength(1);
    } finally {
      await server.close(1000);
    }
  });

  it('a --tls-cert that cannot be read ends it with exit 64 and the error once (the worker stayed alive, and ferry serve with it)', async () => {
    const missing = `${t.store}-no-such-cert.pem`;
    const r = await ferry(['serve', '--store', t.store, '--listen', '127.0.0.1:0', '--workers', '2', '--tls-cert', missing, '--tls-key', missing]);
    expect(r.code).toBe(64);
    expect(r.stderr.trim().split('\n')).toEqual([`ferry: --tls-cert ${missing}: ENOENT: no such file or directory, open '${missing}'`]);
  });

  it('refuses --workers 0 (exit 64)', async () => {
    const r = await ferry(['serve', '--store', t.store, '--workers', '0']);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('--workers 0: expected a whole number, at least 1');
  });
});
