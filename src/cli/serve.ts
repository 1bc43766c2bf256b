import { refuseUnwritable } from '../util/refuseUnwritable.js';
import type { Command } from 'commander';
import cluster from 'node:cluster';
import { readFile, realpath } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { parseListenAddress, type ListenAddress } from '../serve/parseListenAddress.js';
import { collect, defaultStoreDir, loggerFrom } from './options.js';
import { numberOption } from './numberOption.js';

interface ServeFlags {
  store: string;
  listen?: string[];
  tlsCert?: string;
  tlsKey?: string;
  json?: boolean;
  accessLog: boolean;
  shutdownTimeout: number;
  cache: number;
  workers: number;
  maxConnections: number;
  nginxConfig?: boolean;
  syncLinks?: boolean;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('Serve the store read-only over HTTP(S): /bundles/DIGEST/..., /releases/NAME/VERSION/..., /releases/, /mirrors/NAME[@VERSION]/..., /healthz')
    .option('--store <dir>', 'store folder written by ferry import (FERRY_STORE)', defaultStoreDir())
    .option('--listen <address:port>', 'address to listen on, repeatable: 127.0.0.1:8080, [::]:8080, :8080 for every interface (default 127.0.0.1:8080)', collect)
    .option('--tls-cert <file>', 'PEM certificate (chain) to serve HTTPS')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--json', 'access log and messages as JSON lines')
    .option('--no-access-log', 'do not write the access log')
    .option('--cache <MiB>', 'memory for small files (up to 64 KiB each, checked against their sha256 once), 0 for none', numberOption('--cache', { min: 0, unit: 'MiB' }), 64)
    .option('--workers <n>', 'processes serving requests, sharing the listening sockets (default: one per core)', numberOption('--workers', { whole: true, min: 1 }), availableParallelism())
    .option('--max-connections <n>', 'connections each worker holds open at once, on all --listen addresses together (as nginx\'s worker_connections); more are closed as they arrive', numberOption('--max-connections', { whole: true, min: 1 }), 1024)
    .option('--shutdown-timeout <seconds>', 'on SIGTERM/SIGINT, how long requests in flight may take to finish', numberOption('--shutdown-timeout', { min: 0, unit: 'seconds' }), 30)
    .option('--nginx-config', 'print an nginx server block serving the same store and URLs (also runs --sync-links), then exit')
    .option('--sync-links', 'update STORE/releases/NAME/VERSION and STORE/mirrors symlinks and STORE/releases.json from STORE/refs (for nginx), then exit')
    .addHelpText(
      'after',
      `
The access log (stdout) has one line per request, from every worker; messages go to stderr.
Examples:
  ferry serve --store /srv/ferry --listen 0.0.0.0:8080 --listen [::]:8080
  ferry serve --store /srv/ferry --listen :8443 --tls-cert site.crt --tls-key site.key --json
  ferry serve --store /srv/ferry --listen :80 --nginx-config > /etc/nginx/conf.d/ferry.conf`,
    )
    .action(async (flags: ServeFlags) => {
      const { ACCESS_LOG_PENDING_MAX, boundedOutput, createAccessLog } = await import('../serve/accessLog.js');
      const droppedWarning = (lines: number) => log.warn(`${lines} access log line(s) dropped: standard output was not being read (more than ${ACCESS_LOG_PENDING_MAX / 1024 / 1024} MiB of the log waited)`);
      const { createServer } = await import('../serve/createServer.js');
      const { renderNginxConfig } = await import('../serve/renderNginxConfig.js');
      const { refreshReleaseLinks } = await import('../serve/refreshReleaseLinks.js');
      const log = loggerFrom(flags);
      const storeArg = flags.store;
      const listen: ListenAddress[] = (flags.listen ?? ['127.0.0.1:8080']).map(parseListenAddress);
      if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) throw new UsageError('--tls-cert and --tls-key go together: give both or neither');
      const grace = flags.shutdownTimeout;
      const cacheMiB = flags.cache;

      if (flags.nginxConfig || flags.syncLinks) {
        // a --store where nothing is (a typo) is one line, 71, as list, gc and serving say it
        await (await import('../store/checkStorePath.js')).requireStoreFolder(storeArg);
        const store = await realpath(resolve(storeArg)).catch((err: Error) => {
          throw new UsageError(`--store ${storeArg}: ${err.message}`);
        });
        await refuseUnwritable([{ option: '--store', path: store, folder: true, store: true }], () => refreshReleaseLinks(store, log, { warnOnly: flags.nginxConfig }));
        if (flags.nginxConfig) {
          const tls = flags.tlsCert && flags.tlsKey ? { certFile: resolve(flags.tlsCert), keyFile: resolve(flags.tlsKey) } : undefined;
          process.stdout.write(renderNginxConfig({ store, listen, tls }));
        }
        return;
      }

      if (flags.workers > 1 && cluster.isPrimary) {
        // this process only supervises: the workers run this same command line and serve
        const { superviseWorkers } = await import('../serve/superviseWorkers.js');
        process.exitCode = await superviseWorkers({ workers: flags.workers, store: storeArg, log, graceMs: grace * 1000, accessLog: boundedOutput(process.stdout, droppedWarning) });
        if (process.exitCode === 0) log.info('stopped');
        return;
      }
      const { primaryAccessLog, tellPrimary } = await import('../serve/workerMessages.js');
      const worker = cluster.isWorker;
      // once its sockets are closed (or could not be opened), the channel to the primary must not keep a
      // worker alive: it ends like `ferry serve` does, after its last access log lines are written
      const letGo = () => worker && process.channel?.unref();
      // a certificate that cannot be read fails the worker as a store or an address does: it lets go too (a
      // worker that kept its channel stayed alive after its error, and its primary waited for it for ever)
      const server = await (async () => {
        const tls = flags.tlsCert && flags.tlsKey ? { cert: await readPem(flags.tlsCert, '--tls-cert'), key: await readPem(flags.tlsKey, '--tls-key') } : undefined;
        return createServer({
          store: storeArg,
          listen,
          tls,
          log,
          cacheBytes: Math.floor(cacheMiB * 1024 * 1024),
          maxConnections: flags.maxConnections,
          accessLog: flags.accessLog ? createAccessLog(worker ? primaryAccessLog : boundedOutput(process.stdout, droppedWarning), { json: flags.json }) : undefined,
        });
      })().catch((err: unknown) => {
        letGo();
        throw err;
      });
      if (worker) tellPrimary({ ferry: 'ready', urls: server.urls });
      else for (const url of server.urls) log.info(`serving ${storeArg} on ${url}/`);
      await new Promise<void>((done) => {
        const stop = (signal: string) => {
          process.off('SIGTERM', onTerm);
          process.off('SIGINT', onInt);
          // a worker's primary says this once for all of them
          if (!worker) log.info(`${signal}: finishing requests in flight (at most ${grace} s)`);
          void server.close(grace * 1000).then(done);
        };
        const onTerm = () => stop('SIGTERM');
        const onInt = () => stop('SIGINT');
        process.on('SIGTERM', onTerm);
        process.on('SIGINT', onInt);
      });
      letGo();
      if (!worker) log.info('stopped');
    });
}

async function readPem(file: string, option: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new UsageError(`${option} ${file}: ${(err as Error).message}`);
  }
}
