import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunningNginx {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** A port the system just handed out on 127.0.0.1 (closed again, so there is a small window for a race). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * Debian's nginx as a foreground process with its own prefix (pid, logs, temp paths in a temp folder),
 * running the given server block on an unprivileged port. `workers` defaults to 1.
 */
export async function runNginx(serverBlock: string, port: number, opts: { workers?: number | 'auto' } = {}): Promise<RunningNginx> {
  const prefix = await mkdtemp(join(tmpdir(), 'ferry-nginx-'));
  await mkdir(join(prefix, 'tmp'));
  await writeFile(join(prefix, 'ferry.conf'), serverBlock);
  await writeFile(
    join(prefix, 'nginx.conf'),
    `worker_processes ${opts.workers ?? 1};
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path ${prefix}/tmp/body;
    proxy_temp_path ${prefix}/tmp/proxy;
    fastcgi_temp_path ${prefix}/tmp/fastcgi;
    uwsgi_temp_path ${prefix}/tmp/uwsgi;
    scgi_temp_path ${prefix}/tmp/scgi;
    include ${prefix}/ferry.conf;
}
`,
  );
  const child: ChildProcess = spawn('nginx', ['-p', prefix, '-e', `${prefix}/error.log`, '-c', `${prefix}/nginx.conf`, '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  // wait until it accepts connections (or died)
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1', () => (s.destroy(), r(true)));
      s.on('error', () => r(false));
    });
    if (up) break;
    if (child.exitCode !== null || i > 100) {
      const log = await readFile(join(prefix, 'error.log'), 'utf8').catch(() => '');
      child.kill('SIGKILL');
      throw new Error(`nginx did not start: ${stderr}${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    async stop() {
      if (child.exitCode === null) child.kill('SIGQUIT');
      await exited;
      await rm(prefix, { recursive: true, force: true });
    },
  };
}
