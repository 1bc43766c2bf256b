/**
 * What a `ferry serve` worker process tells its primary (see superviseWorkers), over node:cluster's
 * channel: that it serves (and on which addresses), and its access log lines, whole lines only.
 */
export type WorkerMessage = { ferry: 'ready'; urls: string[] } | { ferry: 'access'; text: string };

export function isWorkerMessage(m: unknown): m is WorkerMessage {
  if (typeof m !== 'object' || m === null) return false;
  const { ferry } = m as { ferry?: unknown };
  return (ferry === 'ready' && Array.isArray((m as { urls?: unknown }).urls)) || (ferry === 'access' && typeof (m as { text?: unknown }).text === 'string');
}

/** In a worker: send one message to the primary. */
export function tellPrimary(m: WorkerMessage): void {
  process.send?.(m);
}

/** In a worker: the access log's output, carried to the primary, which alone writes standard output. */
export const primaryAccessLog = { write: (text: string) => tellPrimary({ ferry: 'access', text }) };
