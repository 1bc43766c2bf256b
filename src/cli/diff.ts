import type { Command } from 'commander';
import { formatBytes } from '../ui/log.js';
import { printJson } from './options.js';
import { escapeText } from '../util/escapeText.js';

export function register(program: Command): void {
  program
    .command('diff')
    .description('what changed between two releases: packages, wheels, rootfs, git and files added, removed and changed, and the size of a differential bundle')
    .argument('<a>', 'the older release: NAME-VERSION.ferry, a split index, a manifest.json, or with --store DIGEST or NAME/VERSION')
    .argument('<b>', 'the newer release, named the same ways')
    .option('--store <dir>', 'store in which A and B name releases')
    .option('--json', 'JSON output')
    .addHelpText('after', '\nExamples:\n  ferry diff app-1.0.0.ferry app-2.0.0.ferry\n  ferry diff --store /srv/ferry app/1.0.0 app/2.0.0 --json\n\nSignatures are not checked: diff reads what the manifests say (ferry verify checks them).\n')
    .action(async (a: string, b: string, opts: { store?: string; json?: boolean }) => {
      const { DIFF_SECTIONS, diffReleases } = await import('../bundle/diffReleases.js');
      const { loadManifest } = await import('../store/loadManifest.js');
      const [ma, mb] = [await loadManifest(a, opts.store), await loadManifest(b, opts.store)];
      const d = diffReleases(ma, mb);
      if (opts.json) return printJson(d);
      // names and versions come from the manifests (fields of artifacts that no schema checks, a newline in them
      // too): each line is escaped on its own, so none can hold or forge another
      const out = { line: (s: string) => process.stdout.write(escapeText(s) + '\n') };
      out.line(`${d.a.name} ${d.a.version} (${d.a.digest.slice(0, 16)}) -> ${d.b.name} ${d.b.version} (${d.b.digest.slice(0, 16)})`);
      for (const name of DIFF_SECTIONS) {
        const s = d.sections[name];
        if (s.added.length + s.removed.length + s.changed.length === 0) continue;
        out.line('');
        out.line(`${name}: ${s.added.length} added, ${s.removed.length} removed, ${s.changed.length} changed`);
        for (const i of s.added) out.line(`  + ${i.name} ${i.version}`);
        for (const i of s.removed) out.line(`  - ${i.name} ${i.version}`);
        for (const c of s.changed) out.line(`  ~ ${c.name} ${c.from} -> ${c.to}`);
      }
      if (DIFF_SECTIONS.every((n) => d.sections[n].added.length + d.sections[n].removed.length + d.sections[n].changed.length === 0)) out.line('no artifacts added, removed or changed');
      const x = d.differential;
      out.line('');
      out.line(`differential bundle (ferry build --since): ${x.entries} of ${x.entries + x.omitted} artifacts, ${formatBytes(x.bytes)} of ${formatBytes(x.fullBytes)}; about ${formatBytes(x.bundleBytes)} on disk`);
    });
}
