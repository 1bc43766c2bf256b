// the implementation is plain JavaScript, shared with scripts/bench/deploy.mjs
import type { Server } from 'node:http';
import type { Manifest } from '../../src/bundle/manifest.js';
import * as fixture from '../../scripts/lab/storeFixture.mjs';

export interface FixtureService {
  version: string;
  groups: string[];
  /** files/SERVICE/NAME -> content */
  files?: Record<string, string | Buffer>;
  stage?: unknown[];
  install?: unknown[];
  configure?: unknown[];
}

export interface FixtureRelease {
  name: string;
  version: string;
  services: Record<string, FixtureService>;
  /** other bundle paths -> content, with the services that use them */
  extra?: Array<{ path: string; content: string | Buffer; kind: Manifest['entries'][number]['kind']; services: string[] }>;
  artifacts?: Record<string, unknown>;
  /** orders releases of one name (rollback goes to the previous epoch) */
  epoch?: string;
}

export interface StaticServer {
  url: string;
  server: Server;
  /** requests served, by path */
  requests: string[];
  close(): Promise<void>;
}

export const writeRelease: (store: string, r: FixtureRelease) => string = fixture.writeRelease;
export const serveStore: (store: string, opts?: { host?: string; holdAfterFirst?: Promise<void> }) => Promise<StaticServer> = fixture.serveStore;
