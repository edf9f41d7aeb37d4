/**
 * Starts the local host (.host/) as a child process, as `npm start` would but with `--json`, and
 * resolves once it prints its ready line: the packaged app enabled in the real Apps-Engine runtime.
 * Used by the end-to-end and browser tests; stopping it stops its Deno child too.
 */
import { type ChildProcess, spawn } from 'child_process';
import { appendFileSync, readFileSync } from 'fs';
import { join } from 'path';

const root = join(__dirname, '..');
const appJson = JSON.parse(readFileSync(join(root, 'app.json'), 'utf8'));

/** The zip test/global-setup.cjs packages with `rc-apps package` (E2E_ZIP: another, e.g. `npm run compat`'s copy for an engine app.json excludes). */
export const ZIP = process.env.E2E_ZIP ?? join(root, 'dist', `${appJson.nameSlug}_${appJson.version}.zip`);

export interface HostProcess<Line> {
    line: Line;
    /** The host's stderr so far (its log; the app's with E2E_HOST_LOG set). */
    log(): string;
    stop(): Promise<void>;
}

/**
 * The Apps-Engine version the host runs the app on: E2E_ENGINE from the environment (`npm run compat` sets it)
 * or from jest's globals (the project in test/lowest-engine.config.cjs); none = the root install's engine.
 */
export const ENGINE: string | undefined = process.env.E2E_ENGINE ?? (globalThis as { E2E_ENGINE?: string }).E2E_ENGINE;

/** Spawns the host with `--json --port 0 --no-package --zip <ZIP>` plus `args` (and `--engine ENGINE`). */
export function spawnHost<Line>(args: string[]): Promise<HostProcess<Line>> {
    const verbose = process.env.E2E_HOST_LOG ? ['--verbose'] : [];
    const engine = ENGINE ? ['--engine', ENGINE] : [];
    const child = spawn(
        process.execPath,
        [
            join(root, 'node_modules/tsx/dist/cli.mjs'),
            join(root, '.host/src/main.ts'),
            '--json',
            '--port',
            '0',
            '--no-package',
            '--zip',
            ZIP,
            ...engine,
            ...args,
            ...verbose,
        ],
        { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    child.stderr!.on('data', (d) => {
        log = (log + d).slice(-50_000);
        if (process.env.E2E_HOST_LOG) {
            appendFileSync(process.env.E2E_HOST_LOG, d);
        }
    });
    return new Promise((resolve, reject) => {
        let stdout = '';
        const timer = setTimeout(() => reject(new Error(`the host was not ready within 60 s:\n${log}`)), 60_000);
        child.stdout!.on('data', (d) => {
            stdout += d;
            const newline = stdout.indexOf('\n');
            if (newline >= 0) {
                clearTimeout(timer);
                resolve({ line: JSON.parse(stdout.slice(0, newline)), log: () => log, stop: () => stopChild(child) });
            }
        });
        child.once('exit', (code) => {
            clearTimeout(timer);
            reject(new Error(`the host exited (${code}) before it was ready:\n${log}`));
        });
    });
}

function stopChild(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null) {
        return Promise.resolve();
    }
    return new Promise((resolve) => {
        const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
            clearTimeout(kill);
            resolve();
        });
        child.kill('SIGTERM');
    });
}
