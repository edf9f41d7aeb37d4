// Which Apps-Engine the host runs. The root install holds the default engine (the devDependency, 1.62.0);
// every other version has its own install folder, .host/engines/<version>/ (package.json + lock), installed
// on demand with `npm ci` and prepared by .host/scripts/prepare-engine.mjs. An engine is a package folder:
// resolveEngineDir() finds one for a version, useEngine() makes this process load it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { putFirstOnPath, redirectRequires } from './process-wide';

const repoRoot = path.resolve(__dirname, '..', '..');
const ENGINE = '@rocket.chat/apps-engine';
/** Install folders of the non-default engines, one per version. */
export const ENGINES_DIR = path.join(repoRoot, '.host', 'engines');
/** The root install's engine package folder (resolved before useEngine() can redirect anything). */
export const DEFAULT_ENGINE_DIR = path.dirname(require.resolve(`${ENGINE}/package.json`));

let activeDir = DEFAULT_ENGINE_DIR;

/** The version in an engine package folder's package.json. */
export function engineVersion(dir: string = activeDir): string {
    return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
}

/** Every version the host can run: the default and one per install folder, oldest first. */
export function engineVersions(): string[] {
    const folders = fs.existsSync(ENGINES_DIR)
        ? fs.readdirSync(ENGINES_DIR).filter((v) => fs.existsSync(path.join(ENGINES_DIR, v, 'package.json')))
        : [];
    const byNumber = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });
    return [...new Set([engineVersion(DEFAULT_ENGINE_DIR), ...folders])].sort(byNumber);
}

/**
 * The engine package folder for `version` (undefined: the default). A version other than the default's is
 * installed into .host/engines/<version>/ and prepared first when it is not ready; the installer's output
 * goes to stderr. Throws when no install folder exists for that version.
 */
export function resolveEngineDir(version?: string): string {
    if (version === undefined || (version === engineVersion(DEFAULT_ENGINE_DIR) && !fs.existsSync(path.join(ENGINES_DIR, version)))) {
        return DEFAULT_ENGINE_DIR;
    }
    const folder = path.join(ENGINES_DIR, version);
    if (!fs.existsSync(path.join(folder, 'package.json'))) {
        throw new Error(
            `No Apps-Engine ${version} here: the host runs ${engineVersions().join(', ')} (install folders in ${path.relative(repoRoot, ENGINES_DIR)}/)`,
        );
    }
    const dir = path.join(folder, 'node_modules', ...ENGINE.split('/'));
    if (!isPrepared(dir)) {
        execFileSync(process.execPath, [path.join(repoRoot, '.host', 'scripts', 'prepare-engine.mjs'), version], { stdio: ['ignore', 2, 2] });
    }
    return dir;
}

/** Whether prepare-engine.mjs finished with this engine (the Deno cache's marker is written last). */
function isPrepared(dir: string): boolean {
    if (!fs.existsSync(path.join(dir, 'package.json'))) return false;
    return !fs.existsSync(path.join(dir, 'deno-runtime')) || fs.existsSync(path.join(dir, '.deno-cache', '.prepared'));
}

/**
 * Makes every `@rocket.chat/apps-engine[/…]` this process requires from now on load from `dir`, and the
 * `deno` its runtime spawns the one prepared for it (first on PATH). Call before any module that imports
 * the engine loads; calling it again with the same folder changes nothing.
 */
export function useEngine(dir: string): void {
    if (!isPrepared(dir)) {
        throw new Error(`The Apps-Engine at ${dir} is not prepared: run \`node .host/scripts/prepare-engine.mjs\` (npm install runs it)`);
    }
    if (dir !== activeDir) {
        if (activeDir !== DEFAULT_ENGINE_DIR) throw new Error(`This process already loads the Apps-Engine at ${activeDir}`);
        redirectRequires(ENGINE, dir);
        activeDir = dir;
    }
    const launcherDir = path.join(dir, '.deno-bin');
    if (fs.existsSync(launcherDir)) putFirstOnPath(launcherDir);
}

/** The engine package folder this process loads. */
export function activeEngineDir(): string {
    return activeDir;
}
