#!/usr/bin/env node
// Makes an @rocket.chat/apps-engine install runnable by the local host (why each step: docs/ROCKETCHAT.md, "Running the engine outside Rocket.Chat").
// Idempotent: safe to run again by hand.
//
//   node .host/scripts/prepare-engine.mjs              the root install's engine (postinstall; the default engine)
//   node .host/scripts/prepare-engine.mjs 1.46.0 …     .host/engines/<version>/: `npm ci` there when its node_modules
//                                                      is missing or older than its lock, then the same steps
//   node .host/scripts/prepare-engine.mjs --all        every folder under .host/engines/
//   node .host/scripts/prepare-engine.mjs --required   the lowest engine app.json's requiredApiVersion claims
//
// The steps, each applied only where the engine needs it, so one script serves every version:
//  1. `mem` (required by server/ProxiedApp.js from 1.53 on, undeclared by the engine) must resolve from the engine.
//  2. The Deno runtime imports some engine files by value through the import map "@rocket.chat/apps-engine/" ->
//     "./../src/", a folder the npm tarball lacks (1.62.0: AppsEngineException): add one-line re-exports.
//  3. Only the npm registry is reachable: the runtime's jsr:@std/* imports (1.53+) and its deno.land/std URL
//     import (before 1.62) are mapped in deno.jsonc to small local stand-ins in deno-runtime/.std-local/.
//  4. `<engine>/.deno-bin/deno` is the `deno` the engine spawns (the host puts that folder first on PATH; 1.46.0
//     spawns deno-bin's binary, which is linked to it): the Deno resolved from the engine's install folder, wrapped
//     for engines that run `deno run` without --config (before 1.62) — Deno 2 refuses to strip types from files
//     under node_modules unless deno-runtime/deno.jsonc makes that folder a project, which --config does.
//  5. The runtime's npm: dependencies are cached in <engine>/.deno-cache (`deno install`, or `deno cache` on Deno 1),
//     then the runtime is started once from the cache alone (--cached-only) and must say "ready".
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const enginesDir = path.join(root, '.host', 'engines');
const log = (msg) => console.log(`[prepare-engine] ${msg}`);
const fail = (msg) => {
    console.error(`[prepare-engine] ${msg}`);
    process.exit(1);
};
const rel = (p) => path.relative(root, p);

/** `npm ci` in .host/engines/<version>/ unless its node_modules is newer than its lock. */
function installFolder(version) {
    const folder = path.join(enginesDir, version);
    const lock = path.join(folder, 'package-lock.json');
    if (!fs.existsSync(lock)) fail(`no install folder for apps-engine ${version}: ${rel(folder)}/package-lock.json is missing`);
    const installed = path.join(folder, 'node_modules', '.package-lock.json');
    if (fs.existsSync(installed) && fs.statSync(installed).mtimeMs >= fs.statSync(lock).mtimeMs) return folder;
    log(`${version}: npm ci in ${rel(folder)}…`);
    const started = Date.now();
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: folder, stdio: ['ignore', 'inherit', 'inherit'] });
    log(`${version}: installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return folder;
}

/** The engine package folder an install folder (the repository root or .host/engines/<v>) provides. */
function engineIn(folder) {
    try {
        return path.dirname(createRequire(path.join(folder, 'package.json')).resolve('@rocket.chat/apps-engine/package.json'));
    } catch {
        return undefined;
    }
}

/** Value imports of engine files by the Deno runtime (type-only imports are erased and need nothing). */
function runtimeValueImports(runtimeDir) {
    const found = new Set();
    const walk = (dir) => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
            const file = path.join(dir, entry.name);
            if (entry.isDirectory()) {
                if (entry.name !== 'tests' && !entry.name.startsWith('.')) walk(file);
            } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts')) {
                const text = fs.readFileSync(file, 'utf8');
                for (const m of text.matchAll(/(?:^|\n)\s*(import|export)\s+(type\s+)?[^;]*?from\s+['"]@rocket\.chat\/apps-engine\/([^'"]+)['"]/g)) {
                    if (!m[2]) found.add(m[3]);
                }
            }
        }
    };
    walk(runtimeDir);
    return [...found].sort();
}

const STAND_INS = {
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
    'io.ts': `// Stand-in for jsr:@std/io writeAll (and deno.land/std io/write_all.ts before engine 1.62).
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
// import-map entries of the shipped deno.jsonc -> what they become; and remote imports added to the map
const JSR_MAPPINGS = [
    [/"@std\/cli": "jsr:@std\/cli@[^"]*"/, '"@std/cli/parse-args": "./.std-local/parse-args.ts"'],
    [/"@std\/io": "jsr:@std\/io@[^"]*"/, '"@std/io": "./.std-local/io.ts"'],
    [/"@std\/streams": "jsr:@std\/streams@[^"]*"/, '"@std/streams": "./.std-local/streams.ts"'],
];
const URL_STAND_INS = { 'https://deno.land/std@0.216.0/io/write_all.ts': './.std-local/io.ts' };

function prepare(folder) {
    const engineDir = engineIn(folder);
    if (!engineDir) {
        if (folder === root) {
            log('@rocket.chat/apps-engine is not installed; nothing to do');
            return;
        }
        fail(`${rel(folder)} installs no @rocket.chat/apps-engine`);
    }
    const engineVersion = JSON.parse(fs.readFileSync(path.join(engineDir, 'package.json'), 'utf8')).version;
    const say = (msg) => log(`${engineVersion}: ${msg}`);
    if (!fs.existsSync(path.join(engineDir, 'server', 'AppManager.js'))) {
        fail(`apps-engine ${engineVersion} ships no server/ (definitions only): the local host cannot run it`);
    }

    // 1. mem
    const proxiedApp = path.join(engineDir, 'server', 'ProxiedApp.js');
    if (/require\(["']mem["']\)/.test(fs.readFileSync(proxiedApp, 'utf8'))) {
        try {
            say(`mem resolves from the engine: ${rel(createRequire(proxiedApp).resolve('mem'))}`);
        } catch {
            fail(`${engineVersion}: \`mem\` does not resolve from the engine folder: add mem@8 to ${rel(path.join(folder, 'package.json'))}`);
        }
    }

    const runtimeDir = path.join(engineDir, 'deno-runtime');
    if (!fs.existsSync(path.join(runtimeDir, 'main.ts'))) {
        say('no deno-runtime/: this engine runs apps inside the Node process; nothing more to prepare');
        return;
    }

    // 2. src/ re-exports (before the cache step: deno install walks these imports)
    for (const imported of runtimeValueImports(runtimeDir)) {
        const shim = path.join(engineDir, 'src', imported);
        const target = path.join(engineDir, imported.replace(/\.ts$/, '.js'));
        if (!fs.existsSync(target)) fail(`${engineVersion}: the runtime imports ${imported}, but ${rel(target)} does not exist`);
        const text = `export * from '${path.relative(path.dirname(shim), target).split(path.sep).join('/')}';\n`;
        if (!fs.existsSync(shim) || fs.readFileSync(shim, 'utf8') !== text) {
            fs.mkdirSync(path.dirname(shim), { recursive: true });
            fs.writeFileSync(shim, text);
            say(`src/${imported}: re-export written`);
        }
    }

    // 3. local stand-ins for jsr:@std/* and deno.land/std
    const shimDir = path.join(runtimeDir, '.std-local');
    fs.mkdirSync(shimDir, { recursive: true });
    for (const [name, text] of Object.entries(STAND_INS)) {
        const file = path.join(shimDir, name);
        if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) fs.writeFileSync(file, text);
    }
    const configPath = path.join(runtimeDir, 'deno.jsonc');
    const configText = fs.readFileSync(configPath, 'utf8');
    let newConfig = configText;
    for (const [from, to] of JSR_MAPPINGS) newConfig = newConfig.replace(from, to);
    const sources = fs.readdirSync(runtimeDir, { recursive: true }).filter((f) => /\.ts$/.test(f) && !/(^|\/)tests\/|\.test\.ts$/.test(f));
    const remote = new Set(
        sources.flatMap((f) =>
            [...fs.readFileSync(path.join(runtimeDir, f), 'utf8').matchAll(/from\s+['"](https:\/\/[^'"]+)['"]/g)].map((m) => m[1]),
        ),
    );
    for (const url of remote) {
        if (!URL_STAND_INS[url]) fail(`${engineVersion}: the runtime imports ${url}, which cannot be fetched here and has no stand-in`);
        if (!newConfig.includes(`"${url}"`)) newConfig = newConfig.replace(/"imports":\s*\{/, (m) => `${m}\n\t\t"${url}": "${URL_STAND_INS[url]}",`);
    }
    if (/"jsr:/.test(newConfig)) fail(`${engineVersion}: deno.jsonc imports from jsr that have no stand-in: ${newConfig.match(/"jsr:[^"]*"/g)}`);
    if (newConfig !== configText) {
        fs.writeFileSync(configPath, newConfig);
        say('deno.jsonc: jsr:@std/* and deno.land/std mapped to local stand-ins');
    } else {
        say('deno.jsonc: already mapped to local stand-ins');
    }

    // 4. the `deno` the engine spawns: the real binary (node_modules/.bin/deno is a Node wrapper), wrapped if needed
    let denoPackage;
    try {
        denoPackage = path.dirname(createRequire(path.join(engineDir, 'package.json')).resolve('deno/package.json'));
    } catch {
        fail(`${engineVersion}: no \`deno\` package resolves from ${rel(engineDir)}`);
    }
    const denoBin = path.join(denoPackage, process.platform === 'win32' ? 'deno.exe' : 'deno');
    if (!fs.existsSync(denoBin)) fail(`the Deno binary is missing at ${denoBin} (was the deno package's install script blocked?)`);
    const denoVersion = execFileSync(denoBin, ['--version']).toString().split('\n')[0];
    const runtimeSource = fs.readFileSync(path.join(engineDir, 'server', 'runtime', 'deno', 'AppsEngineDenoRuntime.js'), 'utf8');
    const launcherDir = path.join(engineDir, '.deno-bin');
    const launcher = path.join(launcherDir, 'deno');
    const passesConfig = runtimeSource.includes('--config');
    fs.mkdirSync(launcherDir, { recursive: true });
    fs.rmSync(launcher, { force: true });
    if (passesConfig) {
        fs.symlinkSync(denoBin, launcher);
    } else {
        fs.writeFileSync(
            launcher,
            [
                '#!/bin/sh',
                `# Written by .host/scripts/prepare-engine.mjs. Apps-Engine ${engineVersion} runs \`deno run\` without --config;`,
                '# Deno 2 then treats deno-runtime/ as npm package code and refuses to strip its types. 1.62.0 passes',
                '# --config itself; here it is added, so the import map and the project settings apply as there.',
                `if [ "$1" = run ]; then shift; exec '${denoBin}' run '--config=${configPath}' "$@"; fi`,
                `exec '${denoBin}' "$@"`,
                '',
            ].join('\n'),
            { mode: 0o755 },
        );
    }
    // 1.46.0 spawns <deno-bin>/bin/deno (its own dependency, whose install script downloads from github.com and
    // is not allowed to run): that path becomes the launcher too.
    if (runtimeSource.includes("require.resolve('deno-bin')")) {
        const denoBinPackage = path.dirname(createRequire(path.join(engineDir, 'package.json')).resolve('deno-bin/package.json'));
        const link = path.join(denoBinPackage, 'bin', 'deno');
        if (!fs.existsSync(link) || fs.readlinkSync(link) !== launcher) {
            fs.rmSync(link, { force: true });
            fs.symlinkSync(launcher, link);
            say(`deno-bin/bin/deno -> ${rel(launcher)}`);
        }
    }

    // 5. cache the npm: dependencies. Run through a symlink outside node_modules: run from inside it, deno
    // treats the engine's package.json as the project and caches nothing.
    const cacheDir = path.join(engineDir, '.deno-cache');
    const marker = path.join(cacheDir, '.prepared');
    const stamp = `${engineVersion} ${denoBin} ${denoVersion} ${fs.readFileSync(configPath, 'utf8').length}`;
    if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === stamp) {
        say(`Deno dependency cache: up to date (${rel(cacheDir)})`);
    } else {
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-deno-runtime-'));
        // link the whole engine: the import map's "./../src/" must resolve beside deno-runtime/
        fs.symlinkSync(engineDir, path.join(tmp, 'apps-engine'), 'dir');
        const link = path.join(tmp, 'apps-engine', 'deno-runtime');
        const started = Date.now();
        const deno1 = /^deno 1\./.test(denoVersion);
        try {
            execFileSync(
                denoBin,
                deno1
                    ? ['cache', '--config', path.join(link, 'deno.jsonc'), 'main.ts']
                    : ['install', '--config', path.join(link, 'deno.jsonc'), '--entrypoint', 'main.ts'],
                {
                    cwd: link,
                    env: {
                        ...process.env,
                        NO_COLOR: '1',
                        DENO_DIR: cacheDir,
                        DENO_TLS_CA_STORE: process.env.DENO_TLS_CA_STORE ?? 'system',
                        DENO_NO_UPDATE_CHECK: '1',
                    },
                    stdio: ['ignore', 'inherit', 'inherit'],
                },
            );
            // verify with the launcher and the engine's own command line (plus --cached-only): it must start from the cache alone and say "ready"
            const out = execFileSync(
                launcher,
                [
                    'run',
                    '--cached-only',
                    ...(passesConfig ? [`--config=${configPath}`] : []),
                    `--allow-read=${engineDir},${path.dirname(path.dirname(engineDir))},${tmp}`,
                    path.join(runtimeDir, 'main.ts'),
                    '--subprocess',
                    'prepare-check',
                    '--spawnId',
                    '0',
                ],
                { env: { PATH: process.env.PATH, DENO_DIR: cacheDir }, input: '', timeout: 60_000 },
            );
            if (!out.includes('ready')) throw new Error(`the Deno runtime of ${engineVersion} started but did not report ready`);
        } finally {
            fs.rmSync(tmp, { recursive: true, force: true });
        }
        fs.writeFileSync(marker, stamp);
        say(`Deno dependency cache: filled and runtime start verified in ${((Date.now() - started) / 1000).toFixed(1)} s (${rel(cacheDir)})`);
    }
    say(`ready (${rel(engineDir)}, ${denoVersion} at ${rel(denoBin)})`);
}

/** The lowest version app.json's requiredApiVersion allows ("^1.46.0" -> "1.46.0"). */
function requiredVersion() {
    const range = JSON.parse(fs.readFileSync(path.join(root, 'app.json'), 'utf8')).requiredApiVersion;
    const m = /(\d+\.\d+\.\d+)/.exec(range);
    if (!m) fail(`app.json's requiredApiVersion "${range}" names no version`);
    return m[1];
}

const args = process.argv.slice(2);
const rootVersion = () => JSON.parse(fs.readFileSync(path.join(engineIn(root), 'package.json'), 'utf8')).version;
const versions = args.flatMap((a) =>
    a === '--all'
        ? fs.readdirSync(enginesDir).filter((d) => fs.existsSync(path.join(enginesDir, d, 'package.json')))
        : a === '--required'
          ? [requiredVersion()]
          : [a],
);
if (args.length === 0) {
    prepare(root);
} else {
    for (const version of versions) {
        if (engineIn(root) && version === rootVersion() && !fs.existsSync(path.join(enginesDir, version))) prepare(root);
        else prepare(installFolder(version));
    }
}
