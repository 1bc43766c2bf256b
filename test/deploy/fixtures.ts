import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { parseInventory } from '../../src/deploy/loadInventory.js';
import type { Logger } from '../../src/ui/log.js';
import { afterAll, beforeAll } from 'vitest';
import { startSshLab, type LabHost, type SshLab } from './sshLab.js';
import { serveStore, type StaticServer } from './storeFixture.js';
import type { FixtureService } from './storeFixture.js';

export const repo = resolve(import.meta.dirname, '../..');

/** Run bin/ferry.js (needs dist/) asynchronously: a test's own servers must keep answering while ferry runs. */
export function runFerry(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn('node', [join(repo, 'bin/ferry.js'), ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/**
 * The demo service every deploy test ships: a template, a file, install and configure commands, a service.
 * Its configure command logs its start and end; the host variable configure_wait replaces the pause
 * between them (see meetInConfigure).
 */
export function webService(version: string, extra: Partial<FixtureService> = {}): FixtureService {
  return {
    version,
    groups: ['web'],
    files: { 'app.conf.j2': 'listen {{ port }}\nname {{ inventory_hostname }}\nversion {{ ferry_version }}\n', 'static.txt': `static ${version}\n` },
    install: [{ command: { run: 'mkdir -p {{ root }}/opt && echo "{{ ferry_version }}" >> {{ root }}/install.log' } }],
    configure: [
      { template: { src: 'app.conf.j2', dest: '{{ root }}/etc/web/app.conf', mode: '0640' } },
      { file: { src: 'static.txt', dest: '{{ root }}/srv/static.txt' } },
      { command: { run: 'echo "$(date +%s.%N) start" >> {{ root }}/configure.log; {{ configure_wait | default(\'sleep 0.3\') }}; echo "$(date +%s.%N) end" >> {{ root }}/configure.log; test "{{ fail | default(\'no\') }}" != yes' } },
      { service: { name: 'web', systemctl: '{{ root }}/bin/systemctl' } },
    ],
    ...extra,
  };
}

/** A stand-in systemctl on the "host": logs its calls; a unit is active once started. */
export function installFakeSystemctl(root: string): void {
  mkdirSync(join(root, 'bin'), { recursive: true });
  const f = join(root, 'bin', 'systemctl');
  writeFileSync(
    f,
    `#!/bin/sh
d=$(dirname "$0")/..
echo "$*" >> "$d/systemctl.log"
case "$1" in
  is-active) shift; [ "$1" = --quiet ] && shift; test -e "$d/active-$1";;
  is-enabled) exit 1;;
  start|restart|reload) touch "$d/active-$2";;
  stop) rm -f "$d/active-$2";;
esac
`,
  );
  chmodSync(f, 0o755);
}

export function resetHost(h: LabHost): void {
  rmSync(h.root, { recursive: true, force: true });
  mkdirSync(h.root, { recursive: true });
  installFakeSystemctl(h.root);
}

export function labInventory(hosts: LabHost[], vars: Record<string, unknown>, hostVars: Record<string, Record<string, unknown>> = {}) {
  const doc = {
    vars,
    groups: { web: { hosts: hosts.map((h) => h.name), vars: { port: 8080 } } },
    hosts: Object.fromEntries(
      hosts.map((h) => [h.name, { address: h.address, port: h.port, vars: { root: h.root, ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '{{ root }}/etc/ansible/facts.d', ...(hostVars[h.name] ?? {}) } }]),
    ),
  };
  return { text: stringify(doc), inventory: parseInventory(stringify(doc), 'inventory.yaml') };
}

export interface Recorded {
  type: string;
  [k: string]: unknown;
}

/** A logger that keeps every event, for assertions (and hooks that act on one, like killing a host). */
export function recordingLogger(onEvent?: (e: Recorded) => void): Logger & { events: Recorded[]; warnings: string[] } {
  const events: Recorded[] = [];
  const warnings: string[] = [];
  return {
    events,
    warnings,
    info() {},
    warn: (m) => warnings.push(m),
    progress() {},
    event(type, data) {
      const e = { type, ...data };
      events.push(e);
      onEvent?.(e);
    },
  };
}

export interface LabContext {
  dir: string;
  lab: SshLab;
  store: string;
  server: StaticServer;
}

/** sshd hosts, a store and a static server for one describe block, set up before and removed after it. */
export function useLab(prefix: string, names: string[], opts: { holdAfterFirst?: Promise<void> } = {}): LabContext {
  const ctx = {} as LabContext;
  beforeAll(async () => {
    ctx.dir = mkdtempSync(join(tmpdir(), `ferry-${prefix}-`));
    ctx.store = join(ctx.dir, 'store');
    ctx.lab = await startSshLab(ctx.dir, names);
    ctx.server = await serveStore(ctx.store, { holdAfterFirst: opts.holdAfterFirst });
  });
  afterAll(async () => {
    await ctx.lab?.close();
    await ctx.server?.close();
    rmSync(ctx.dir, { recursive: true, force: true });
  });
  return ctx;
}

/**
 * Host variables that make each host's configure command wait until every host has started its own: a
 * barrier in a shared folder, so that "they overlap" is a fact, not a bet on timing. A host gives up
 * after 10 minutes (a hang detector), which fails the overlap check.
 */
export function meetInConfigure(hosts: LabHost[], barrier: string): Record<string, Record<string, unknown>> {
  mkdirSync(barrier, { recursive: true });
  const wait = (name: string) => `touch ${barrier}/${name}; n=0; until [ $(ls ${barrier} | wc -l) -ge ${hosts.length} ] || [ $n -ge 12000 ]; do n=$((n + 1)); sleep 0.05; done`;
  return Object.fromEntries(hosts.map((h) => [h.name, { configure_wait: wait(h.name) }]));
}
