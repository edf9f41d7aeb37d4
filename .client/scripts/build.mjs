// Builds the package into dist/: ESM bundles made by esbuild (the app's lib/metadata.ts is bundled
// in, so the package needs nothing from this repository) and .d.ts files from tsc.
// Run by `npm run build:client` at the root and by `npm pack` here (prepack).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const client = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(client, 'dist');
const types = path.join(dist, '.types');

fs.rmSync(dist, { recursive: true, force: true });

// Declarations: tsc emits them under dist/.types mirroring the repository (.client/src, lib); the
// package keeps .client/src's at dist/ and the app files they import at dist/lib/.
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', client], { stdio: 'inherit' });
const moveDeclarations = (from, to, rewrite) => {
    fs.mkdirSync(to, { recursive: true });
    for (const file of fs.readdirSync(from).filter((f) => f.endsWith('.d.ts'))) {
        fs.writeFileSync(path.join(to, file), rewrite(fs.readFileSync(path.join(from, file), 'utf8')));
    }
};
moveDeclarations(path.join(types, '.client', 'src'), dist, (text) => text.replaceAll('"../../lib/', '"./lib/').replaceAll("'../../lib/", "'./lib/"));
moveDeclarations(path.join(types, 'lib'), path.join(dist, 'lib'), (text) => text);
fs.rmSync(types, { recursive: true, force: true });

// JavaScript: one module per entry, shared code in chunks/. `#node` stays an import for the
// consumer's resolver (package.json `imports`: node.js in Node, no-node.js in browsers).
await build({
    absWorkingDir: client,
    entryPoints: { index: 'src/index.ts', cli: 'src/cli.ts', node: 'src/node.ts', 'no-node': 'src/no-node.ts' },
    outdir: dist,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2020',
    external: ['#node', 'node:*'],
    chunkNames: 'chunks/[name]-[hash]',
    legalComments: 'none',
    logLevel: 'warning',
});
fs.chmodSync(path.join(dist, 'cli.js'), 0o755);
