#!/usr/bin/env node
/**
 * ferry deploy vs ansible-playbook on the same hosts and the same work (scripts/lab/deployWork.mjs).
 * 20 sshd processes on 127.0.0.1 (override with FERRY_BENCH_HOSTS); each host fetches three 256 KiB
 * artifacts and two small files from a static server with sha256 checks, runs an install command with a
 * guard, then in batches of one host (serial 1): a template, a file, a service restart when they changed.
 * First run on empty hosts, then a re-run where everything is already in place.
 * Peer configuration: ansible-core with pipelining, ssh ControlMaster/ControlPersist 60 s (its masters are
 * stopped after each run, so each run connects anew, like ferry's), gather_facts off, forks 20 for both.
 * Each tool runs as a new process per run; FERRY_BENCH_RUNS (at least 3) first run + re-run pairs,
 * interleaved with the peer; medians and the spread of the per-run ratios (lib.mjs).
 * The fleet sizes (10 to 200 hosts, in network namespaces) are in deploy-scale.mjs.
 * Needs dist/ (npx tsc -p .), openssh-server, ansible-core, GNU time. Writes bench-results/deploy.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareDeployWork } from '../lab/deployWork.mjs';
import { startSshLab } from '../lab/sshLab.mjs';
import { serveStore } from '../lab/storeFixture.mjs';
import { ferryBin, interleave, printTable, row, RUNS, runMeasured, writeResults } from './lib.mjs';

const N = Number(process.env.FERRY_BENCH_HOSTS ?? 20);
const LIMIT_MS = Number(process.env.FERRY_BENCH_TIMEOUT_MS ?? 15 * 60_000);

const dir = mkdtempSync(join(tmpdir(), 'ferry-bench-deploy-'));
const names = Array.from({ length: N }, (_, i) => `h${String(i + 1).padStart(2, '0')}`);
const lab = await startSshLab(dir, names);
const store = join(dir, 'store');
const server = await serveStore(store);
let samples;
try {
  const work = prepareDeployWork({ dir, store, server: server.url, hosts: lab.hosts, sshConfig: lab.sshConfig, forks: 20, serial: '1', ferryBin });
  const once = async (tool, what) => {
    const p = work[tool];
    const r = await runMeasured(p.cmd, p.args, { env: p.env, timeoutMs: LIMIT_MS });
    if (tool === 'ansible') work.stopAnsibleMasters();
    if (r.code !== 0) throw new Error(`${tool} ${what} failed (exit ${r.code}):\n${r.out.slice(-3000)}`);
    return r.wall;
  };
  const pair = (tool) => async () => {
    work.reset(tool);
    return { first: await once(tool, 'first run'), rerun: await once(tool, 're-run') };
  };
  samples = await interleave(RUNS, pair('ferry'), pair('ansible'));
} finally {
  await lab.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}

const pick = (k) => [samples.ferry.map((s) => s[k]), samples.peer.map((s) => s[k])];
const rows = [
  row(`first run, ${N} hosts`, ...pick('first'), 'ansible-playbook', 's', '<= 0.5'),
  row(`re-run, ${N} hosts, everything in place`, ...pick('rerun'), 'ansible-playbook', 's', '<= 0.1'),
];
printTable(rows);
writeResults('deploy', rows);
