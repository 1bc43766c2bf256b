import { describe, expect, it } from 'vitest';
import { consoleLogger } from '../../src/ui/log.js';

function terminal() {
  const chunks: string[] = [];
  return { chunks, s: { isTTY: true, write: (c: string) => chunks.push(c) } as unknown as NodeJS.WriteStream };
}

describe('progress on a terminal', () => {
  it('redraws the line once per percent, not once per chunk a download reports, and clears it at the end', () => {
    const t = terminal();
    const log = consoleLogger({ stream: t.s });
    const total = 1 << 30;
    // a GiB in 64 KiB chunks, as a download reports it
    for (let done = 64 << 10; done <= total; done += 64 << 10) log.progress('images', done, total, 'bytes');
    const lines = t.chunks.filter((c) => c.includes('images:'));
    expect(lines).toHaveLength(101);
    expect(lines.at(-1)).toContain('(100%)');
    expect(t.chunks.at(-1)).toBe('\r\x1b[K');
  });
});
