import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

/** One file the dashboard serves from its own package: nothing is fetched from another host. */
export interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly gzip: Buffer;
}

const FILES: Record<string, string> = {
  'dashboard.css': 'text/css; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'icon.svg': 'image/svg+xml',
};

/** The assets, read and compressed once (the package's `assets/` folder, beside `dist/` and `src/`). */
export function loadAssets(): { readonly files: ReadonlyMap<string, Asset>; readonly version: string } {
  const files = new Map<string, Asset>();
  const hash = createHash('sha256');
  for (const [name, type] of Object.entries(FILES)) {
    const body = readFileSync(new URL(`../../assets/${name}`, import.meta.url));
    hash.update(body);
    files.set(name, { type, body, gzip: gzipSync(body, { level: 9 }) });
  }
  return { files, version: hash.digest('base64url').slice(0, 12) };
}
