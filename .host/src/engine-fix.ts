// A patched copy of the Apps-Engine, for `--engine-fix`: the engine directory it is given is never
// written to. The patches are the unified diffs in `.host/engine-fix/` (docs/ENGINE.md explains each):
//   h1-node  the host side parses the runtime's messages without jsonrpc-lite's JSON.stringify(params)
//   h1-deno  the runtime builds its requests without it
//   h2       the host side's streaming msgpack decoder appends in amortised constant time
//   h3       bytes arriving from the runtime count as a heartbeat for the liveness manager
// The copy lives in `<node_modules holding the engine>/.engine-fix/<key>/node_modules/@rocket.chat/apps-engine`:
// its dependencies then resolve exactly as the original's do (Node walks up to the same node_modules),
// the folder is still named `apps-engine` (the runtime's require.ts rewrites paths by that name), and
// npm ignores dot-folders in node_modules (`npm ci` simply removes it). `<key>` hashes the engine's
// version, its prepared Deno cache and the diffs, so a second call returns the same folder at once;
// copies made from older diffs stay there until `npm ci` replaces node_modules.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '..', '..');
const DIFF_DIR = path.join(repoRoot, '.host', 'engine-fix');
const ENGINE_PACKAGE = '@rocket.chat/apps-engine';

/** Each fix and the diffs it is made of; `h1` is both halves of the same cause. */
export const ENGINE_FIXES = {
    'h1-node': ['h1-node.diff'],
    'h1-deno': ['h1-deno.diff'],
    h1: ['h1-node.diff', 'h1-deno.diff'],
    h2: ['h2.diff'],
    h3: ['h3.diff'],
} as const;
export type EngineFix = keyof typeof ENGINE_FIXES;
export const ALL_ENGINE_FIXES: EngineFix[] = ['h1', 'h2', 'h3'];

/** `true` or `''` (a bare `--engine-fix`) or `all` → every fix; else a comma list such as `h1,h3`. Throws on an unknown name. */
export function parseEngineFixes(value: string | true): EngineFix[] {
    if (value === true || value === '' || value === 'all') return [...ALL_ENGINE_FIXES];
    const names = value.split(',').map((s) => s.trim());
    for (const name of names) {
        if (!(name in ENGINE_FIXES)) throw new Error(`unknown engine fix "${name}" (known: ${Object.keys(ENGINE_FIXES).join(', ')}, all)`);
    }
    return names as EngineFix[];
}

/** The directory of the engine this repository installs (the root `node_modules` copy); ask before `useEngineDirectory`, which redirects this too. */
export function installedEngineDir(): string {
    return path.dirname(require.resolve(`${ENGINE_PACKAGE}/package.json`, { paths: [repoRoot] }));
}

interface Hunk {
    oldStart: number;
    oldLines: string[];
    newLines: string[];
}

/** Parses a unified diff (as `diff -u` or `git diff` write it) into its files' hunks, keyed by the path after `a/`. */
export function parseUnifiedDiff(diff: string): Map<string, Hunk[]> {
    const files = new Map<string, Hunk[]>();
    let hunks: Hunk[] | undefined;
    let hunk: Hunk | undefined;
    for (const line of diff.split('\n')) {
        if (line.startsWith('--- ')) {
            const file = line.slice(4).split('\t')[0].replace(/^a\//, '');
            hunks = [];
            files.set(file, hunks);
            hunk = undefined;
        } else if (line.startsWith('+++ ')) {
            continue;
        } else if (line.startsWith('@@ ')) {
            const match = /^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@/.exec(line);
            if (!match || !hunks) throw new Error(`malformed hunk header: ${line}`);
            hunk = { oldStart: Number(match[1]), oldLines: [], newLines: [] };
            hunks.push(hunk);
        } else if (hunk && line.startsWith('\\')) {
            continue; // "\ No newline at end of file": the file's last line keeps its (missing) newline
        } else if (hunk && (line.startsWith(' ') || line.startsWith('-') || line.startsWith('+'))) {
            const text = line.slice(1);
            if (line[0] !== '+') hunk.oldLines.push(text);
            if (line[0] !== '-') hunk.newLines.push(text);
        }
    }
    return files;
}

/**
 * Applies the hunks of one file to its text. Each hunk's old lines must appear exactly, at the line the
 * diff names or, when earlier hunks (of this or another diff) moved it, at the nearest line where they do;
 * throws when they appear nowhere, so a patch never lands on an engine it was not written for.
 */
export function applyHunks(text: string, hunks: Hunk[], label: string): string {
    const lines = text.split('\n');
    let shift = 0;
    for (const hunk of hunks) {
        const expected = hunk.oldStart - 1 + shift;
        const matchesAt = (at: number): boolean =>
            at >= 0 && at + hunk.oldLines.length <= lines.length && hunk.oldLines.every((l, i) => lines[at + i] === l);
        let at = -1;
        for (let distance = 0; distance <= lines.length && at < 0; distance++) {
            if (matchesAt(expected - distance)) at = expected - distance;
            else if (matchesAt(expected + distance)) at = expected + distance;
        }
        if (at < 0) throw new Error(`${label}: the hunk at line ${hunk.oldStart} does not match this engine`);
        lines.splice(at, hunk.oldLines.length, ...hunk.newLines);
        shift = at - (hunk.oldStart - 1) + hunk.newLines.length - hunk.oldLines.length;
    }
    return lines.join('\n');
}

function hashOf(parts: Array<string | Buffer>): string {
    const hash = createHash('sha256');
    for (const part of parts) hash.update(part).update('\0');
    return hash.digest('hex').slice(0, 12);
}

/** Copies the engine without its Deno analysis caches (a live runtime may be writing them; Deno rebuilds them). */
function copyEngine(from: string, to: string): void {
    const cache = path.join(from, '.deno-cache');
    fs.cpSync(from, to, {
        recursive: true,
        filter: (src) =>
            !src.startsWith(`${cache}${path.sep}`) ||
            src === path.join(cache, 'npm') ||
            src.startsWith(path.join(cache, 'npm') + path.sep) ||
            src === path.join(cache, '.prepared'),
    });
}

/** Starts the copied runtime the way the engine does (`deno run --cached-only`, no network) and waits for its "ready". */
function verifyRuntimeStarts(engineDir: string): void {
    const denoBin = path.join(
        path.dirname(require.resolve('deno/package.json', { paths: [repoRoot] })),
        process.platform === 'win32' ? 'deno.exe' : 'deno',
    );
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-fix-check-'));
    try {
        // as the engine does: Deno runs the runtime through a link outside node_modules
        fs.symlinkSync(path.join(engineDir, 'deno-runtime'), path.join(tmp, 'deno-runtime'), 'dir');
        const out = execFileSync(
            denoBin,
            [
                'run',
                '--cached-only',
                `--config=${path.join(engineDir, 'deno-runtime', 'deno.jsonc')}`,
                `--allow-read=${engineDir},${path.dirname(path.dirname(engineDir))},${tmp}`,
                path.join(tmp, 'deno-runtime', 'main.ts'),
                '--subprocess',
                'engine-fix-check',
                '--spawnId',
                '0',
            ],
            { env: { PATH: process.env.PATH, DENO_DIR: path.join(engineDir, '.deno-cache') }, input: '', timeout: 60_000 },
        );
        if (!out.includes('ready')) throw new Error('the patched Deno runtime started but did not report ready');
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

/**
 * Returns the directory of a copy of `engineDir` with `fixes` applied, building it on first use
 * (~1–3 s: copy, patch, start the runtime once from the Deno cache alone) and reusing it afterwards.
 * `engineDir` must be prepared (`.host/scripts/prepare-engine.mjs`); it is only read. Safe to call
 * from several processes at once: the copy is built aside and renamed into place.
 */
export function prepareFixedEngine(engineDir: string, fixes: EngineFix[] = ALL_ENGINE_FIXES): string {
    const diffNames = [...new Set(fixes.flatMap((f) => [...ENGINE_FIXES[f]]))].sort();
    const diffs = diffNames.map((name) => ({ name, text: fs.readFileSync(path.join(DIFF_DIR, name), 'utf8') }));
    const pkg = fs.readFileSync(path.join(engineDir, 'package.json'));
    const preparedStamp = path.join(engineDir, '.deno-cache', '.prepared');
    if (!fs.existsSync(preparedStamp)) throw new Error(`${engineDir} is not prepared: run node .host/scripts/prepare-engine.mjs`);
    const key = `${JSON.parse(pkg.toString()).version}-${diffNames.map((n) => n.replace(/\.diff$/, '')).join('+')}-${hashOf([pkg, fs.readFileSync(preparedStamp), ...diffs.flatMap((d) => [d.name, d.text])])}`;
    const nodeModules = path.dirname(path.dirname(engineDir)); // <…>/node_modules/@rocket.chat/apps-engine
    const home = path.join(nodeModules, '.engine-fix', key);
    const fixedDir = path.join(home, 'node_modules', '@rocket.chat', 'apps-engine');
    const marker = path.join(fixedDir, '.engine-fix.json');
    if (fs.existsSync(marker)) return fixedDir;

    const building = `${home}.building-${process.pid}-${Date.now()}`;
    const buildingDir = path.join(building, 'node_modules', '@rocket.chat', 'apps-engine');
    try {
        copyEngine(engineDir, buildingDir);
        for (const diff of diffs) {
            for (const [file, hunks] of parseUnifiedDiff(diff.text)) {
                const target = path.join(buildingDir, file);
                fs.writeFileSync(target, applyHunks(fs.readFileSync(target, 'utf8'), hunks, `${diff.name} on ${file}`));
            }
        }
        verifyRuntimeStarts(buildingDir);
        fs.writeFileSync(path.join(buildingDir, '.engine-fix.json'), `${JSON.stringify({ from: engineDir, fixes, diffs: diffNames }, null, 2)}\n`);
        try {
            fs.renameSync(building, home);
        } catch (e) {
            // another process built the same copy first: use theirs
            if (!fs.existsSync(marker)) throw e;
        }
    } finally {
        fs.rmSync(building, { recursive: true, force: true });
    }
    return fixedDir;
}
