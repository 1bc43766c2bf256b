import type { Logger } from '../ui/log.js';
import { syncReleaseLinks } from '../store/syncReleaseLinks.js';
import { syncMirrorLinks } from '../store/syncMirrorLinks.js';

/**
 * Bring STORE/releases and STORE/mirrors (the links and releases.json a static web server like nginx serves) in step
 * with STORE/refs, and say what changed. With `warnOnly` (printing nginx's configuration, which needs
 * no write access), a store ferry may not write is a warning naming who can refresh the links.
 */
export async function refreshReleaseLinks(store: string, log: Logger, opts: { warnOnly?: boolean } = {}): Promise<void> {
  try {
    const changes = await syncReleaseLinks(store, (file, why) => log.warn(`ignoring ${file}: ${why}`));
    // and STORE/mirrors (docs/mirrors.md)
    await syncMirrorLinks(store, { onInvalid: (file, why) => log.warn(`ignoring ${file}: ${why}`) });
    log.info(`release links in ${store}/releases: ${changes.created.length} created, ${changes.updated.length} updated, ${changes.removed.length} removed`);
  } catch (err) {
    if (!opts.warnOnly) throw err;
    log.warn(`cannot refresh ${store}/releases (${(err as Error).message}); run ferry serve --sync-links as the store's owner`);
  }
}
