// The library's size in a browser bundle: everything it exports, bundled for browsers by esbuild
// (its own package.json `imports` leave the Node-only code out), minified, then gzipped (level 9).
// Usage: node .client/scripts/size.mjs [package folder]   (default: this folder, after `npm run build:client`)
// Prints one JSON line: {"minifiedBytes":…, "gzippedBytes":…, "inputs":{file: bytes in the output}}.
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const packageDir = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
const { name } = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
const entry = path.join(packageDir, 'dist', 'index.js');

const result = await build({
    stdin: { contents: `export * from ${JSON.stringify(entry)};`, resolveDir: packageDir, sourcefile: `${name}-size-entry.js` },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    write: false,
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
});
const bytes = result.outputFiles[0].contents;
const output = Object.values(result.metafile.outputs)[0];
const inputs = Object.fromEntries(
    Object.entries(output.inputs)
        .map(([file, { bytesInOutput }]) => [path.relative(packageDir, file), bytesInOutput])
        .sort((a, b) => b[1] - a[1]),
);
process.stdout.write(
    `${JSON.stringify({ package: name, minifiedBytes: bytes.length, gzippedBytes: gzipSync(bytes, { level: 9 }).length, inputs })}\n`,
);
