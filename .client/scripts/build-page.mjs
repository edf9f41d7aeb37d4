// Bundles the visitor page (page/page.js, which imports 'livechat-upload-client' by name, as a
// widget does) into page/page.bundle.js with esbuild, taking the library from this folder's build
// (dist/, `npm run build:client` runs both). The browser test bundles the same page from the
// packed tarball installed in a temporary project instead.
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const client = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

await build({
    entryPoints: [path.join(client, 'page', 'page.js')],
    outfile: path.join(client, 'page', 'page.bundle.js'),
    alias: { 'livechat-upload-client': path.join(client, 'dist', 'index.js') },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    legalComments: 'none',
    logLevel: 'warning',
});
