import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CurlResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** The real curl: `-i` output split into status, lower-cased headers and body . */
export async function curl(...args: string[]): Promise<CurlResponse> {
  // with -o the body goes to that file and only the headers to stdout
  const show = args.includes('-o') ? ['-D', '-'] : ['-i'];
  const { stdout } = await run('curl', ['-sS', ...show, '--max-time', '20', ...args], { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 });
  let rest = stdout;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) throw new Error(`curl printed no header block: ${rest.subarray(0, 200).toString()}`);
    const [statusLine = '', ...lines] = rest.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(statusLine.split(' ')[1]);
    rest = rest.subarray(end + 4);
    // 1xx interim answers come first
    if (status >= 100 && status < 200) continue;
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    return { status, headers, body: rest };
  }
}
