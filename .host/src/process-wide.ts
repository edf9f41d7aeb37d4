// Everything the host changes for the whole Node process, in one place, each with its reason.
// Nothing else in .host/ touches globals, the engine's static state, module resolution or the console.
// This module imports no engine code itself: it loads before engines.ts has chosen the engine.
import Module from 'node:module';
import path from 'node:path';

/**
 * The engine keeps its AppManager in a static `AppManager.Instance` and its constructor throws
 * ("There is already a valid AppManager instance") while one is set: Rocket.Chat creates one per
 * server process. `startHost` is a library function, so the host clears it before creating its
 * manager and after stopping, and a process can stop a host and start another.
 */
export function forgetAppManagerInstance(): void {
    // Required here, not imported: the engine this process runs is chosen first (engines.ts).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { AppManager } = require('@rocket.chat/apps-engine/server/AppManager') as { AppManager: { Instance?: unknown } };
    AppManager.Instance = undefined;
}

/**
 * The engine spawns `deno` from `PATH`, and `node_modules/.bin/deno` is a Node wrapper, not the
 * binary: the folder of the Deno launcher prepared for the engine in use (engines.ts) goes first on
 * `PATH`, for this process and the Deno children it spawns.
 */
export function putFirstOnPath(dir: string): void {
    const parts = (process.env.PATH ?? '').split(path.delimiter);
    if (parts[0] !== dir) process.env.PATH = [dir, ...parts].join(path.delimiter);
}

/**
 * `--engine <version>` runs an Apps-Engine from its own install folder: every `require` of
 * `pkg` or `pkg/…` made from now on, by the host and by the engine's own files, loads from `dir`
 * instead of the root `node_modules`, so one process never mixes two engines' modules.
 */
export function redirectRequires(pkg: string, dir: string): void {
    const resolver = Module as unknown as {
        _resolveFilename(request: string, ...rest: unknown[]): string;
    };
    const original = resolver._resolveFilename;
    resolver._resolveFilename = function (request: string, ...rest: unknown[]): string {
        if (request === pkg || request.startsWith(`${pkg}/`)) request = dir + request.slice(pkg.length);
        return original.call(this, request, ...rest);
    };
}

/**
 * With `--json` the host's stdout carries exactly one line, the ready JSON the tests and the
 * benchmark read; the engine and its dependencies print with `console.log` and `console.info`,
 * so those go to stderr for the life of the process.
 */
export function sendConsoleOutputToStderr(): void {
    console.log = console.info = console.error;
}
