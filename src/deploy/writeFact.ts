import { DeployError } from '../errors.js';
import { shellQuote as q } from './shellQuote.js';
import { type Fact, factFile } from './fact.js';
import type { Transport } from './transport/types.js';

/** Write FACTS_DIR/SERVICE.json atomically (temporary file in the same folder, then rename). */
export async function writeFact(transport: Transport, factsDir: string, fact: Fact, timeoutMs?: number): Promise<void> {
  const file = factFile(factsDir, fact.service);
  const d = q(factsDir);
  const script = [
    'set -e',
    `mkdir -p ${d}`,
    `t=$(mktemp ${q(`${factsDir}/.${fact.service}.json.XXXXXX`)})`,
    `trap 'rm -f "$t"' EXIT`,
    'cat > "$t"',
    'chmod 644 "$t"',
    `mv -f "$t" ${q(file)}`,
    'trap - EXIT',
  ].join('\n');
  const r = await transport.run(script, { stdin: JSON.stringify(fact, null, 2) + '\n', timeoutMs });
  if (r.code !== 0) throw new DeployError(`host ${fact.host}: cannot write the fact ${file}: ${r.stderr.trim()}; check that the folder is writable (--facts-dir or vars.ferry_facts_dir)`);
}
