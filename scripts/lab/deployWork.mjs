/**
 * The deploy benchmarks' work, the same for ferry and for ansible-playbook (scripts/bench/deploy.mjs and
 * deploy-scale.mjs): one service with three 256 KiB artifacts and two small files fetched by each host
 * from a static server with sha256 checks, an install command with a guard, then in batches (--serial /
 * `serial:`) a template, a file, and a service started or restarted when they changed (a stand-in
 * systemctl in the host's folder). Each tool works in its own folder of each host (HOST_ROOT/ferry,
 * HOST_ROOT/ansible), so their runs never see each other's results. Needs dist/ (npx tsc -p .).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeRelease } from './storeFixture.mjs';

const TEMPLATE = 'listen {{ port }}\nname {{ inventory_hostname }}\nversion {{ ferry_version }}\n';
const ARTIFACTS = ['a.bin', 'app.conf.j2', 'b.bin', 'c.bin', 'static.txt'].map((f) => `files/web/${f}`);

/**
 * @param {{ dir: string, store: string, server: string, hosts: Array<{ name: string, address: string, port: number, root: string }>,
 *   sshConfig: string, forks: number, serial: string, ferryBin: string, sshOptions?: Record<string, string> }} o
 *   server: the URL hosts fetch from; serial: a count or a percentage, for both tools; sshOptions: `ssh -o` options
 *   for both (ferry's inventory vars.ssh_options, ansible's ssh arguments)
 * @returns {{ ferry: { cmd: string, args: string[] }, ansible: { cmd: string, args: string[], env: Record<string, string> },
 *   reset(tool: 'ferry' | 'ansible'): void, stopAnsibleMasters(): void }}
 */
export function prepareDeployWork(o) {
  const big = (c) => Buffer.alloc(256 * 1024, c);
  const digest = writeRelease(o.store, {
    name: 'bench',
    version: '1',
    services: {
      web: {
        version: '1.0.0',
        groups: ['web'],
        files: { 'app.conf.j2': TEMPLATE, 'static.txt': 'static\n', 'a.bin': big('a'), 'b.bin': big('b'), 'c.bin': big('c') },
        install: [{ command: { run: 'mkdir -p {{ root }}/opt && echo installed > {{ root }}/opt/installed', creates: '{{ root }}/opt/installed' } }],
        configure: [
          { template: { src: 'app.conf.j2', dest: '{{ root }}/etc/web/app.conf', mode: '0640' } },
          { file: { src: 'static.txt', dest: '{{ root }}/srv/static.txt' } },
          { service: { name: 'web', systemctl: '{{ root }}/bin/systemctl' } },
        ],
      },
    },
  });
  const rootOf = (h, tool) => join(h.root, tool);
  const names = o.hosts.map((h) => h.name);

  // ferry
  const inv = join(o.dir, 'inventory.yaml');
  writeFileSync(
    inv,
    JSON.stringify({
      vars: { ferry_server: o.server, ...(o.sshOptions ? { ssh_options: o.sshOptions } : {}) },
      groups: { web: { hosts: names, vars: { port: 8080 } } },
      hosts: Object.fromEntries(o.hosts.map((h) => [h.name, { address: h.address, port: h.port, vars: { root: rootOf(h, 'ferry'), ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '{{ root }}/etc/ansible/facts.d' } }])),
    }),
  );
  const ferry = { cmd: process.execPath, args: [o.ferryBin, 'deploy', 'bench@1', '--store', o.store, '-i', inv, '-F', o.sshConfig, '--forks', String(o.forks), '--serial', o.serial] };

  // ansible: the same work as a playbook
  const adir = join(o.dir, 'ansible');
  mkdirSync(adir, { recursive: true });
  writeFileSync(join(adir, 'app.conf.j2'), TEMPLATE);
  const ainv = {
    all: {
      vars: { ansible_user: 'root', ansible_python_interpreter: '/usr/bin/python3', server: o.server, digest, ferry_version: '1.0.0', port: 8080 },
      children: { web: { hosts: Object.fromEntries(o.hosts.map((h) => [h.name, { ansible_host: h.address, ansible_port: h.port, root: rootOf(h, 'ansible') }])) } },
    },
  };
  writeFileSync(join(adir, 'inventory.json'), JSON.stringify(ainv));
  const bundle = '{{ root }}/var/lib/ferry/bundles/{{ digest }}';
  const sha256 = (p) => createHash('sha256').update(readFileSync(join(o.store, 'bundles', digest, p))).digest('hex');
  const playbook = [
    {
      hosts: 'web',
      gather_facts: false,
      tasks: [
        { name: 'artifact folders', file: { path: `${bundle}/files/web`, state: 'directory' } },
        { name: 'stage artifacts', get_url: { url: '{{ server }}/bundles/{{ digest }}/{{ item.path }}', dest: `${bundle}/{{ item.path }}`, checksum: 'sha256:{{ item.sha256 }}' }, loop: '{{ artifacts }}' },
        { name: 'install', shell: 'mkdir -p {{ root }}/opt && echo installed > {{ root }}/opt/installed', args: { creates: '{{ root }}/opt/installed' } },
      ],
      vars: { artifacts: ARTIFACTS.map((p) => ({ path: p, sha256: sha256(p) })) },
    },
    {
      hosts: 'web',
      gather_facts: false,
      serial: /^\d+$/.test(o.serial) ? Number(o.serial) : o.serial,
      tasks: [
        { name: 'config folder', file: { path: '{{ root }}/etc/web', state: 'directory' } },
        { name: 'template', template: { src: join(adir, 'app.conf.j2'), dest: '{{ root }}/etc/web/app.conf', mode: '0640' }, notify: 'restart web' },
        { name: 'srv folder', file: { path: '{{ root }}/srv', state: 'directory' } },
        { name: 'file', copy: { src: `${bundle}/files/web/static.txt`, dest: '{{ root }}/srv/static.txt', remote_src: true }, notify: 'restart web' },
        { name: 'service started', shell: '{{ root }}/bin/systemctl is-active --quiet web || {{ root }}/bin/systemctl start web', changed_when: false },
      ],
      handlers: [{ name: 'restart web', command: '{{ root }}/bin/systemctl restart web' }],
    },
  ];
  writeFileSync(join(adir, 'site.yml'), JSON.stringify(playbook));
  writeFileSync(join(adir, 'ansible.cfg'), '[defaults]\n');
  const controlDir = join(adir, 'cp');
  const ansible = {
    cmd: 'ansible-playbook',
    args: ['-i', join(adir, 'inventory.json'), join(adir, 'site.yml')],
    env: {
      ANSIBLE_CONFIG: join(adir, 'ansible.cfg'),
      ANSIBLE_FORKS: String(o.forks),
      ANSIBLE_PIPELINING: 'True',
      ANSIBLE_HOST_KEY_CHECKING: 'True',
      ANSIBLE_SSH_ARGS: [`-F ${o.sshConfig} -o ControlMaster=auto -o ControlPersist=60s`, ...Object.entries(o.sshOptions ?? {}).map(([k, v]) => `-o ${k}=${v}`)].join(' '),
      ANSIBLE_CONTROL_PATH_DIR: controlDir,
      ANSIBLE_LOCAL_TEMP: join(adir, 'tmp'),
      ANSIBLE_RETRY_FILES_ENABLED: 'False',
      ANSIBLE_NOCOLOR: '1',
    },
  };

  return {
    ferry,
    ansible,
    /** empty hosts for `tool`'s next first run */
    reset(tool) {
      for (const h of o.hosts) {
        const r = rootOf(h, tool);
        rmSync(r, { recursive: true, force: true });
        installFakeSystemctl(r);
      }
    },
    /**
     * ansible-playbook leaves its ssh masters running (ControlPersist) after it exits: stop them, so that its
     * next run connects anew, as ferry's does.
     */
    stopAnsibleMasters() {
      let sockets = [];
      try {
        sockets = readdirSync(controlDir);
      } catch {
        return;
      }
      for (const s of sockets) spawnSync('ssh', ['-o', `ControlPath=${join(controlDir, s)}`, '-O', 'exit', 'ferry-bench-master'], { stdio: 'ignore', timeout: 10_000 });
    },
  };
}

function installFakeSystemctl(root) {
  mkdirSync(join(root, 'bin'), { recursive: true });
  writeFileSync(
    join(root, 'bin/systemctl'),
    '#!/bin/sh\nd=$(dirname "$0")/..\necho "$*" >> "$d/systemctl.log"\ncase "$1" in is-active) shift; [ "$1" = --quiet ] && shift; test -e "$d/active-$1";; start|restart) touch "$d/active-$2";; esac\n',
    { mode: 0o755 },
  );
}
