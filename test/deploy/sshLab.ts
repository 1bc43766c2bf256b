// the implementation is plain JavaScript, shared with scripts/bench/deploy.mjs
import type { ChildProcess } from 'node:child_process';
import * as lab from '../../scripts/lab/sshLab.mjs';

/** One test "host": its own sshd on 127.0.0.1, its own folder standing in for its file system. */
export interface LabHost {
  name: string;
  port: number;
  address: string;
  /** the host's folder: facts, staged bundles and configured files live below it */
  root: string;
  config: string;
  log: string;
  proc?: ChildProcess;
  /** run sshd inside this network namespace */
  netns?: string;
}

export interface SshLab {
  dir: string;
  hosts: LabHost[];
  /** ssh_config for `ferry -F` / ssh settings: the lab's user key and known_hosts */
  sshConfig: string;
  stop(host: LabHost): Promise<void>;
  start(host: LabHost): Promise<void>;
  /** connections the host's sshd authenticated (ssh handshakes, not commands), from its log */
  logins(host: LabHost): number;
  /** commands (sessions) the host's sshd ran, counted on the host; 0 unless started with countCommands */
  commands(host: LabHost): number;
  close(): Promise<void>;
}

export const startSshLab: (dir: string, names: string[], opts?: { netns?: Record<string, { address: string; netns: string }>; countCommands?: boolean }) => Promise<SshLab> = lab.startSshLab;
export const freePort: () => Promise<number> = lab.freePort;
