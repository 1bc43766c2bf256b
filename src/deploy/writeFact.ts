import { DeployError } from '../errors.js';
import { shellQuote as q } from '../util/shellQuote.js';
import { type Fact, factFile } from './fact.js';
import type { Transport } from './transport/types.js';

export interface WriteFactOptions {
  timeoutMs?: number;
  /** also write the fact as ANSIBLE_DIR/ferry_SERVICE.fact, where `ansible -m setup` shows it under ansible_local */
  ansibleDir?: string;
  /** whether failing to write the Ansible copy is an error (asked for) or ignored (the default place, maybe not writable) */
  ansibleRequired?: boolean;
}

/** Write FACTS_DIR/SERVICE.json atomically (temporary file in the same folder, then rename), and its Ansible copy. */
export async function writeFact(transport: Transport, factsDir: string, fact: Fact, opts: WriteFactOptions = {}): Promise<void> {
  const file = factFile(factsDir, fact.service);
  const d = q(factsDir);
  const lines = [
    'set -e',
    `mkdir -p ${d}`,
    `t=$(mktemp ${q(`${factsDir}/.${fact.service}.json.XXXXXX`)})`,
    `trap 'rm -f "$t" "\${a:-}"' EXIT`,
    'cat > "$t"',
    'chmod 644 "$t"',
  ];
  if (opts.ansibleDir) {
    const a = opts.ansibleDir;
    const copy = [`mkdir -p ${q(a)}`, `a=$(mktemp ${q(`${a}/.ferry_${fact.service}.fact.XXXXXX`)})`, 'cat "$t" > "$a"', 'chmod 644 "$a"', `mv -f "$a" ${q(`${a}/ferry_${fact.service}.fact`)}`, 'a='];
    lines.push(opts.ansibleRequired ? copy.join('\n') : `{ ${copy.join(' && ')}; } 2>/dev/null || true`);
  }
  lines.push(`mv -f "$t" ${q(file)}`, 'trap - EXIT');
  const r = await transport.run(lines.join('\n'), { stdin: JSON.stringify(fact, null, 2) + '\n', timeoutMs: opts.timeoutMs });
  if (r.code !== 0) {
    throw new DeployError(`host ${fact.host}: cannot write the fact ${file}${opts.ansibleRequired ? ` or its copy in ${opts.ansibleDir}` : ''}: ${r.stderr.trim()}; check that the folder is writable (--facts-dir, vars.ferry_facts_dir, vars.ferry_ansible_facts_dir)`);
  }
}
