// Everything the host changes for the whole Node process, in one place, each with its reason.
// Nothing else in .host/ touches globals, the engine's static state or the console.
import path from 'node:path';
import { AppManager } from '@rocket.chat/apps-engine/server/AppManager';

/**
 * The engine keeps its AppManager in a static `AppManager.Instance` and its constructor throws
 * ("There is already a valid AppManager instance") while one is set: Rocket.Chat creates one per
 * server process. `startHost` is a library function, so the host clears it before creating its
 * manager and after stopping, and a process can stop a host and start another.
 */
export function forgetAppManagerInstance(): void {
    (AppManager as unknown as { Instance?: AppManager }).Instance = undefined;
}

/**
 * The engine spawns `deno` from `PATH`, and `node_modules/.bin/deno` is a Node wrapper, not the
 * binary: the folder of the npm `deno` package's binary goes first on `PATH`, for this process and
 * the Deno children it spawns.
 */
export function putDenoFirstOnPath(denoDir: string): void {
    const parts = (process.env.PATH ?? '').split(path.delimiter);
    if (parts[0] !== denoDir) process.env.PATH = [denoDir, ...parts].join(path.delimiter);
}

/**
 * With `--json` the host's stdout carries exactly one line, the ready JSON the tests and the
 * benchmark read; the engine and its dependencies print with `console.log` and `console.info`,
 * so those go to stderr for the life of the process.
 */
export function sendConsoleOutputToStderr(): void {
    console.log = console.info = console.error;
}
