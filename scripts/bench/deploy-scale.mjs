#!/usr/bin/env node
/**
 * Cost per host as the fleet grows: ferry deploy to 10, 50 and 200 lab hosts, first run on empty hosts and
 * re-run with everything in place, against ansible-playbook doing the same work (scripts/lab/deployWork.mjs)
 * at 50 hosts.
 *
 * Hosts: every host is a real sshd in a network namespace of its own, on one bridge of the runner
 * (scripts/lab/fleetNet.mjs); it fetches its artifacts from a static server on the runner's bridge address.
 * 200 sshd fit easily on the 2-core machine (about 1.5 MiB each when idle), so no size uses folder hosts.
 * Each sshd counts the commands it runs (a ForceCommand that adds a byte to a count file, then runs the
 * command), so commands per host are counted on the host side, for ferry and ansible alike.
 *
 * Per run: wall time, runner CPU seconds (user + sys of the tool's process tree: for ferry its ssh clients
 * and masters; ansible's ControlPersist masters detach, so their CPU is not in its figure, in its favour),
 * runner peak RSS (the largest process of the tree: ferry's node process, ansible's controller), commands
 * per host. Peer configuration: ansible-core as its users tune it for many hosts: pipelining on, ssh
 * ControlMaster/ControlPersist 60 s (its masters are stopped after each run, so each run connects anew, like
 * ferry's), gather_facts off, the same forks; both tools configure in batches of --serial (a percentage,
 * so the run time does not grow by one batch per host).
 *
 * Beside each ferry run, the floor: a bare `ssh HOST true` to every host, --forks at a time (xargs -P), the same
 * ssh_config and key exchange: one connection and one command per host, which is what a ferry re-run costs the
 * hosts; the rows "vs bare ssh" show what ferry adds to it.
 *
 * --kex ALG sets the ssh key exchange for every tool (ferry through the inventory's vars.ssh_options, ansible
 * and the floor through `ssh -o KexAlgorithms=ALG`); without it each uses OpenSSH's default, which on OpenSSH
 * 9.x is the post-quantum sntrup761x25519-sha512 (about 0.1 s of client CPU per connection on this machine,
 * against about 0.04 s for curve25519-sha256). Rows measured with --kex say so; the default is what counts.
 *
 * Goals (issue 15): commands per host constant with the host count; runner memory ≤ 1 MiB per host above
 * its base (the growth of peak RSS from the smallest size to the largest, per added host); a re-run of 200
 * hosts ≤ 15 s on 2 cores. Ratios against ansible at the sizes it runs: ≤ 0.5 first run, ≤ 0.1 re-run.
 *
 * Usage: node scripts/bench/deploy-scale.mjs [--sizes 10,50,200] [--peer-sizes 50] [--serial 10%] [--forks 20] [--kex ALG]
 *   (FERRY_BENCH_RUNS runs per size, at least 3; ferry and ansible interleaved at the peer sizes)
 * Needs root, dist/ (npx tsc -p .), openssh-server, ansible-core, GNU time. Writes bench-results/deploy-scale.json.
 * All three sizes take longer than `npm run bench`'s 15 minutes per script, so `npm run bench` runs it only when
 *   named: `FERRY_BENCH_SCRIPT_TIMEOUT=5400 npm run bench -- deploy-scale`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createFleetNet, MAX_FLEET_HOSTS } from '../lab/fleetNet.mjs';
import { prepareDeployWork } from '../lab/deployWork.mjs';
import { startSshLab } from '../lab/sshLab.mjs';
import { serveStore } from '../lab/storeFixture.mjs';
import { ferryBin, interleave, median, printTable, row, RUNS, runMeasured, writeResults } from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    sizes: { type: 'string', default: process.env.FERRY_BENCH_SIZES ?? '10,50,200' },
    'peer-sizes': { type: 'string', default: process.env.FERRY_BENCH_PEER_SIZES ?? '50' },
    serial: { type: 'string', default: '10%' },
    forks: { type: 'string', default: '20' },
    kex: { type: 'string', default: '' },
  },
});
const list = (s) => s.split(',').filter(Boolean).map(Number);
const sizes = list(opt.sizes).sort((a, b) => a - b);
const peerSizes = new Set(list(opt['peer-sizes']));
const sshOptions = opt.kex ? { KexAlgorithms: opt.kex } : undefined;
/** rows measured with a key exchange other than OpenSSH's default say so */
const kexNote = opt.kex ? ` [ssh KexAlgorithms=${opt.kex}, not the default]` : '';
const LIMIT_MS = Number(process.env.FERRY_BENCH_TIMEOUT_MS ?? 15 * 60_000);
if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > MAX_FLEET_HOSTS)) throw new Error(`--sizes ${opt.sizes}: give host counts like 10,50,200 (at most ${MAX_FLEET_HOSTS}, the ports of one bridge)`);

/** One size: its own lab, then RUNS first runs + re-runs of each tool at that size. */
async function measureSize(n) {
  const dir = mkdtempSync(join(tmpdir(), `ferry-bench-fleet-${n}-`));
  const net = await createFleetNet(n);
  let lab;
  let server;
  try {
    const names = Array.from({ length: n }, (_, i) => `h${String(i + 1).padStart(3, '0')}`);
    lab = await startSshLab(dir, names, { netns: Object.fromEntries(names.map((name, i) => [name, net.hosts[i]])), countCommands: true });
    server = await serveStore(join(dir, 'store'), { host: net.runner });
    const work = prepareDeployWork({ dir, store: join(dir, 'store'), server: server.url, hosts: lab.hosts, sshConfig: lab.sshConfig, forks: Number(opt.forks), serial: opt.serial, ferryBin, sshOptions });
    const hostList = join(dir, 'hosts.txt');
    writeFileSync(hostList, lab.hosts.map((h) => h.address).join('\n') + '\n');
    /** the floor: one connection and one command per host, --forks at a time */
    const bareSsh = async () => {
      const kex = opt.kex ? ['-o', `KexAlgorithms=${opt.kex}`] : [];
      const r = await runMeasured('xargs', ['-P', opt.forks, '-a', hostList, '-I', '{}', 'ssh', '-F', lab.sshConfig, '-o', 'BatchMode=yes', ...kex, '{}', 'true'], { timeoutMs: LIMIT_MS });
      if (r.code !== 0) throw new Error(`bare ssh to ${n} hosts failed (exit ${r.code}):\n${r.out.slice(-3000)}`);
      process.stderr.write(`  bare ssh, ${n} hosts: ${r.wall.toFixed(1)} s wall, ${r.cpu.toFixed(1)} s CPU (load ${loadavg()[0].toFixed(1)})\n`);
      return r;
    };
    const once = async (tool, what) => {
      const before = lab.hosts.map((h) => lab.commands(h));
      const p = work[tool];
      const r = await runMeasured(p.cmd, p.args, { env: p.env, timeoutMs: LIMIT_MS });
      if (tool === 'ansible') work.stopAnsibleMasters();
      if (r.code !== 0) throw new Error(`${tool} ${what} at ${n} hosts failed (exit ${r.code}):\n${r.out.slice(-3000)}`);
      const perHost = lab.hosts.map((h, i) => lab.commands(h) - before[i]);
      process.stderr.write(`  ${tool} ${what}, ${n} hosts: ${r.wall.toFixed(1)} s wall, ${r.cpu.toFixed(1)} s CPU, ${r.rssMiB.toFixed(0)} MiB, ${median(perHost)} commands per host (load ${loadavg()[0].toFixed(1)})\n`);
      return { ...r, commands: median(perHost) };
    };
    const pair = (tool) => async () => {
      work.reset(tool);
      return { first: await once(tool, 'first run'), rerun: await once(tool, 're-run'), ...(tool === 'ferry' ? { floor: await bareSsh() } : {}) };
    };
    process.stderr.write(`deploy-scale: ${n} hosts ready; ${RUNS} runs${peerSizes.has(n) ? ', interleaved with ansible-playbook' : ''}\n`);
    if (peerSizes.has(n)) return await interleave(RUNS, pair('ferry'), pair('ansible'));
    const ferry = [];
    for (let i = 0; i < RUNS; i++) ferry.push(await pair('ferry')());
    return { ferry, peer: undefined };
  } finally {
    await lab?.close();
    await server?.close();
    await net.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows = [];
const bySize = new Map();
for (const n of sizes) {
  const s = await measureSize(n);
  bySize.set(n, s);
  for (const kind of ['first', 'rerun']) {
    const label = `${kind === 'first' ? 'first run' : 're-run'}, ${n} hosts${kexNote}`;
    const f = (k) => s.ferry.map((x) => x[kind][k]);
    const p = (k) => s.peer?.map((x) => x[kind][k]);
    const peerName = s.peer ? 'ansible-playbook' : '-';
    const goal = s.peer ? (kind === 'first' ? '<= 0.5' : '<= 0.1') : undefined;
    rows.push(row(`${label}: wall`, f('wall'), p('wall'), peerName, 's', goal));
    rows.push(row(`${label}: runner CPU`, f('cpu'), p('cpu'), peerName, 's'));
    rows.push(row(`${label}: runner peak RSS`, f('rssMiB'), p('rssMiB'), peerName, 'MiB'));
    rows.push(row(`${label}: commands per host`, f('commands'), p('commands'), peerName, 'cmds'));
  }
  const floor = (k) => s.ferry.map((x) => x.floor[k]);
  const rerun = (k) => s.ferry.map((x) => x.rerun[k]);
  rows.push(row(`re-run, ${n} hosts${kexNote}, vs bare ssh: wall`, rerun('wall'), floor('wall'), 'ssh HOST true', 's'));
  rows.push(row(`re-run, ${n} hosts${kexNote}, vs bare ssh: runner CPU`, rerun('cpu'), floor('cpu'), 'ssh HOST true', 's'));
}

// the fleet goals, across sizes
const load = loadavg()[0];
const goalRow = (name, value, unit, goal, met) => ({ name, ferry: value, peerName: '-', unit, goal, met, load });
for (const kind of ['first', 'rerun']) {
  const counts = sizes.map((n) => median(bySize.get(n).ferry.map((x) => x[kind].commands)));
  rows.push(goalRow(`${kind === 'first' ? 'first run' : 're-run'}: commands per host at ${sizes.join(', ')} hosts: ${counts.join(', ')}`, Math.max(...counts), 'cmds', 'constant', new Set(counts).size === 1));
}
if (sizes.length > 1) {
  const [a, b] = [sizes[0], sizes.at(-1)];
  const rss = (n) => median(bySize.get(n).ferry.flatMap((x) => [x.first.rssMiB, x.rerun.rssMiB]));
  const perHost = (rss(b) - rss(a)) / (b - a);
  rows.push(goalRow(`runner peak RSS per host above base (${a} → ${b} hosts)`, perHost, 'MiB', '<= 1 MiB', perHost <= 1));
}
if (bySize.has(200)) {
  const wall = median(bySize.get(200).ferry.map((x) => x.rerun.wall));
  rows.push(goalRow(`re-run of 200 hosts on this machine${kexNote}`, wall, 's', '<= 15 s', wall <= 15));
}
printTable(rows);
writeResults(opt.kex ? `deploy-scale-${opt.kex}` : 'deploy-scale', rows);
