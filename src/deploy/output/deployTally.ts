import type { RunStartData, StageEventData } from '../deployEvents.js';
import { STAGES, type StageName } from '../../stages.js';

export interface StageTally {
  /** hosts with at least one service */
  total: number;
  done: number;
  running: number;
  failed: number;
  /** hosts this stage was not run on (the host failed earlier, the rollout stopped) */
  notRun: number;
}

interface HostState {
  services: number;
  /** per stage: services finished, whether one failed or was not run, whether one started */
  stages: Record<StageName, { finished: number; failed: boolean; notRun: boolean; started: boolean }>;
  /** what the host does now, for a live view */
  now?: string;
  failure?: string;
}

/**
 * Counts from the deploy's events, for progress output at any number of hosts: per stage, how many hosts
 * are done, running, failed; which hosts are running now and which failed; and an estimate of the time left.
 */
export class DeployTally {
  private hosts = new Map<string, HostState>();
  private stages: StageName[] = [...STAGES];
  private units = 0;
  private finished = 0;

  start(plan: RunStartData): void {
    this.stages = plan.stages;
    for (const h of plan.hosts) {
      if (!h.services.length) continue;
      const stages = Object.fromEntries(STAGES.map((s) => [s, { finished: 0, failed: false, notRun: false, started: false }])) as HostState['stages'];
      this.hosts.set(h.host, { services: h.services.length, stages });
      this.units += h.services.length * plan.stages.length;
    }
  }

  get hostCount(): number {
    return this.hosts.size;
  }

  stage(e: Pick<StageEventData, 'host' | 'service' | 'stage' | 'status' | 'reason'>): void {
    const h = this.hosts.get(e.host);
    if (!h) return;
    const s = h.stages[e.stage];
    if (e.status === 'start') {
      s.started = true;
      h.now = `${e.service} ${e.stage}`;
      return;
    }
    s.finished++;
    this.finished++;
    if (e.status === 'failed') s.failed = true;
    if (e.status === 'not run') s.notRun = true;
    h.now = s.finished < h.services ? h.now : undefined;
  }

  hostFailed(host: string, error: string): void {
    const h = this.hosts.get(host);
    if (h) {
      h.failure = error;
      h.now = undefined;
    }
  }

  perStage(): Array<[StageName, StageTally]> {
    return this.stages.map((name) => {
      const t: StageTally = { total: this.hosts.size, done: 0, running: 0, failed: 0, notRun: 0 };
      for (const h of this.hosts.values()) {
        const s = h.stages[name];
        if (s.failed) t.failed++;
        else if (s.notRun && s.finished === h.services) t.notRun++;
        else if (s.finished === h.services) t.done++;
        else if (s.started || s.finished > 0) t.running++;
      }
      return [name, t];
    });
  }

  /** hosts working on a stage now, with what they do */
  running(): Array<[string, string]> {
    return [...this.hosts].filter(([, h]) => h.now && !h.failure).map(([name, h]) => [name, h.now!]);
  }

  failed(): Array<[string, string]> {
    return [...this.hosts].filter(([, h]) => h.failure).map(([name, h]) => [name, h.failure!]);
  }

  /** milliseconds left at the pace so far, once something finished; undefined before */
  remainingMs(elapsedMs: number): number | undefined {
    if (this.finished === 0 || this.finished >= this.units) return undefined;
    return (elapsedMs * (this.units - this.finished)) / this.finished;
  }

  /** "stage 48/50 done, 1 running, 1 failed; install 40/50 done, 9 running; …; 1:02 elapsed, about 0:40 left" */
  line(elapsedMs: number): string {
    const parts = this.perStage().map(([name, t]) => {
      const extra = [t.running && `${t.running} running`, t.failed && `${t.failed} failed`, t.notRun && `${t.notRun} not run`].filter(Boolean);
      return `${name} ${t.done}/${t.total} done${extra.length ? `, ${extra.join(', ')}` : ''}`;
    });
    const left = this.remainingMs(elapsedMs);
    return `${parts.join('; ')}; ${clock(elapsedMs)} elapsed${left === undefined ? '' : `, about ${clock(left)} left`}`;
  }
}

/** 75000 -> "1:15", 3723000 -> "1:02:03" */
export function clock(ms: number): string {
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}
