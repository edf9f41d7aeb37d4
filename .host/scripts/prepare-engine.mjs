#!/usr/bin/env node
// Makes @rocket.chat/apps-engine 1.62.0 runnable outside Rocket.Chat.
// Why each step: docs/ROCKETCHAT.md, "Running the engine outside Rocket.Chat".
// Idempotent: run by `npm install` (postinstall) and safe to run again by hand.
//  1. `mem` (required by server/ProxiedApp.js, undeclared by the engine) must resolve from the engine.
//  2. The Deno runtime runs with `--cached-only`: cache its npm: dependencies in <engine>/.deno-cache.
//     The jsr:@std/* imports cannot be fetched (only the npm registry is reachable), so deno.jsonc maps
//     them to small local stand-ins (only parseArgs, writeAll and toArrayBuffer are used).
//  3. handleUploadEvents.ts imports definition/exceptions/AppsEngineException.ts through the import map
//     "@rocket.chat/apps-engine/" -> "./../src/", a folder the npm tarball lacks: add a one-line re-export.
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(root, 'package.json'));
const log = (msg) => console.log(`[prepare-engine] ${msg}`);

let engineDir;
try {
    engineDir = path.dirname(require.resolve('@rocket.chat/apps-engine/package.json'));
} catch {
    log('@rocket.chat/apps-engine is not installed; nothing to do');
    process.exit(0);
}
const engineVersion = JSON.parse(fs.readFileSync(path.join(engineDir, 'package.json'), 'utf8')).version;
if (!fs.existsSync(path.join(engineDir, 'server', 'AppManager.js'))) {
    console.error(`[prepare-engine] apps-engine ${engineVersion} ships no server/ (definitions only); the local host needs 1.62.0`);
    process.exit(1);
}
const runtimeDir = path.join(engineDir, 'deno-runtime');

// 1. mem
try {
    const memPath = createRequire(path.join(engineDir, 'server', 'ProxiedApp.js')).resolve('mem');
    log(`mem resolves from the engine: ${path.relative(root, memPath)}`);
} catch {
    console.error('[prepare-engine] `mem` does not resolve from the engine folder: npm install -D mem@8');
    process.exit(1);
}

// 3. src/ re-export for AppsEngineException (before the cache step: deno install walks this import)
const srcException = path.join(engineDir, 'src', 'definition', 'exceptions', 'AppsEngineException.ts');
const reExport = "export * from '../../../definition/exceptions/AppsEngineException.js';\n";
if (fs.existsSync(srcException) && fs.readFileSync(srcException, 'utf8') === reExport) {
    log('src/ re-export of AppsEngineException: already there');
} else {
    fs.mkdirSync(path.dirname(srcException), { recursive: true });
    fs.writeFileSync(srcException, reExport);
    log('src/ re-export of AppsEngineException: written');
}

// 2a. local stand-ins for jsr:@std/*
const shimDir = path.join(runtimeDir, '.std-local');
const shims = {
    'parse-args.ts': `// Stand-in for jsr:@std/cli parseArgs: the runtime only parses "--key value", "--key=value" and "--flag".
export function parseArgs(args: string[]): Record<string, unknown> {
\tconst out: Record<string, unknown> = { _: [] };
\tconst toValue = (v: string): unknown => (/^-?\\d+(\\.\\d+)?$/.test(v) ? Number(v) : v);
\tfor (let i = 0; i < args.length; i++) {
\t\tconst arg = args[i];
\t\tif (!arg.startsWith('--')) {
\t\t\t(out._ as unknown[]).push(toValue(arg));
\t\t\tcontinue;
\t\t}
\t\tconst eq = arg.indexOf('=');
\t\tif (eq !== -1) {
\t\t\tout[arg.slice(2, eq)] = toValue(arg.slice(eq + 1));
\t\t} else if (i + 1 < args.length && !args[i + 1].startsWith('--')) {
\t\t\tout[arg.slice(2)] = toValue(args[++i]);
\t\t} else {
\t\t\tout[arg.slice(2)] = true;
\t\t}
\t}
\treturn out;
}
`,
    'io.ts': `// Stand-in for jsr:@std/io writeAll.
export async function writeAll(writer: { write(p: Uint8Array): Promise<number> }, data: Uint8Array): Promise<void> {
\tlet written = 0;
\twhile (written < data.length) {
\t\twritten += await writer.write(data.subarray(written));
\t}
}
`,
    'streams.ts': `// Stand-in for jsr:@std/streams toArrayBuffer.
export async function toArrayBuffer(readable: ReadableStream<Uint8Array>): Promise<ArrayBuffer> {
\tconst chunks: Uint8Array[] = [];
\tlet size = 0;
\tfor await (const chunk of readable) {
\t\tchunks.push(chunk);
\t\tsize += chunk.length;
\t}
\tconst out = new Uint8Array(size);
\tlet at = 0;
\tfor (const chunk of chunks) {
\t\tout.set(chunk, at);
\t\tat += chunk.length;
\t}
\treturn out.buffer;
}
`,
};
fs.mkdirSync(shimDir, { recursive: true });
for (const [name, text] of Object.entries(shims)) {
    const file = path.join(shimDir, name);
    if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) fs.writeFileSync(file, text);
}
const configPath = path.join(runtimeDir, 'deno.jsonc');
const configText = fs.readFileSync(configPath, 'utf8');
const wanted = {
    '"@std/cli": "jsr:@std/cli@^1.0.9"': '"@std/cli/parse-args": "./.std-local/parse-args.ts"',
    '"@std/io": "jsr:@std/io@^0.225.3"': '"@std/io": "./.std-local/io.ts"',
    '"@std/streams": "jsr:@std/streams@^1.0.16"': '"@std/streams": "./.std-local/streams.ts"',
};
let newConfig = configText;
for (const [from, to] of Object.entries(wanted)) newConfig = newConfig.replace(from, to);
if (newConfig !== configText) {
    fs.writeFileSync(configPath, newConfig);
    log('deno.jsonc: jsr:@std/* mapped to local stand-ins');
} else if (Object.values(wanted).every((to) => configText.includes(to))) {
    log('deno.jsonc: jsr:@std/* already mapped to local stand-ins');
} else {
    console.error('[prepare-engine] deno.jsonc has an unexpected shape; not patched');
    process.exit(1);
}

// 2b. the Deno binary itself (node_modules/.bin/deno is a Node wrapper; use the real executable)
const denoBin = path.join(path.dirname(require.resolve('deno/package.json')), process.platform === 'win32' ? 'deno.exe' : 'deno');
if (!fs.existsSync(denoBin)) {
    console.error(`[prepare-engine] the Deno binary is missing at ${denoBin} (was the deno package's install script blocked?)`);
    process.exit(1);
}

// 2c. cache the npm: dependencies. Run through a symlink outside node_modules: run from inside it, deno
// treats the engine's package.json as the project and caches nothing.
const cacheDir = path.join(engineDir, '.deno-cache');
const marker = path.join(cacheDir, '.prepared');
const stamp = `${engineVersion} ${execFileSync(denoBin, ['--version']).toString().split('\n')[0]} ${fs.readFileSync(configPath, 'utf8').length}`;
if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === stamp) {
    log(`Deno dependency cache: up to date (${path.relative(root, cacheDir)})`);
} else {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-deno-runtime-'));
    // link the whole engine: the import map's "./../src/" must resolve beside deno-runtime/
    fs.symlinkSync(engineDir, path.join(tmp, 'apps-engine'), 'dir');
    const link = path.join(tmp, 'apps-engine', 'deno-runtime');
    const started = Date.now();
    try {
        execFileSync(denoBin, ['install', '--config', path.join(link, 'deno.jsonc'), '--entrypoint', 'main.ts'], {
            cwd: link,
            env: {
                ...process.env,
                NO_COLOR: '1',
                DENO_DIR: cacheDir,
                DENO_TLS_CA_STORE: process.env.DENO_TLS_CA_STORE ?? 'system',
                DENO_NO_UPDATE_CHECK: '1',
            },
            stdio: ['ignore', 'inherit', 'inherit'],
        });
        // verify with the runtime's own command line: it must start from the cache alone and say "ready"
        const out = execFileSync(
            denoBin,
            [
                'run',
                '--cached-only',
                `--config=${configPath}`,
                `--allow-read=${engineDir},${path.dirname(path.dirname(engineDir))},${tmp}`,
                path.join(link, 'main.ts'),
                '--subprocess',
                'prepare-check',
                '--spawnId',
                '0',
            ],
            { env: { PATH: process.env.PATH, DENO_DIR: cacheDir }, input: '', timeout: 60_000 },
        );
        if (!out.includes('ready')) throw new Error('the Deno runtime started but did not report ready');
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
    fs.writeFileSync(marker, stamp);
    log(
        `Deno dependency cache: filled and runtime start verified in ${((Date.now() - started) / 1000).toFixed(1)} s (${path.relative(root, cacheDir)})`,
    );
}
log(`ready: apps-engine ${engineVersion}, deno ${path.relative(root, denoBin)}`);
