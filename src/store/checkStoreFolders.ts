import { dirname } from 'node:path';
import { checkStorePath } from './checkStorePath.js';
import type { StoreLayout } from './storeLayout.js';

/**
 * The store's own folders (.tmp, refs, bundles, blobs, blobs/sha256, releases) must be real folders when
 * they exist: every command that writes or removes checks them before it creates anything (mkdir
 * -p would follow a link). The store folder itself may be a link (/srv/ferry -> /data/ferry).
 */
export async function checkStoreFolders(layout: StoreLayout): Promise<void> {
  for (const dir of [layout.tmp, layout.refs, layout.bundles, dirname(layout.blobs), layout.blobs, layout.releases]) {
    await checkStorePath(dir, 'folder');
  }
}
