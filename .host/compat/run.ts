// `npm run compat`: the packaged app on every Apps-Engine the local host can run (the root install's and one per
// .host/engines/<version>/), each installed when missing. Per engine: does the host install and enable the app,
// the end-to-end suite (every test/e2e file, run by jest with E2E_ENGINE set), a short bench (serial resumable
// uploads of 10 MiB and of 16 MiB, the app's limit, through .host/bench/measure.ts), the engine's knobs and the
// differences the host adapts to, read from the engine's own files. Prints the table and writes
// docs/COMPATIBILITY.md.
// Flags: --engines 1.46.0,1.62.0 (default: all)   --repeat N (bench runs per size, 2)   --no-bench   --no-e2e
//        --no-write (print only)
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import AdmZip from 'adm-zip';
import { call, MIB, repoRoot, uploadResumable, withHost } from '../bench/measure';
import { DEFAULT_ENGINE_DIR, engineVersion, engineVersions, resolveEngineDir } from '../src/engines';
import { RELEASES, UNTESTED } from './releases';
import { ENGINE_SAFE_MAX_FILE_SIZE_BYTES } from '../../lib/settings';

const flags = new Map<string, string>();
for (let i = 2; i < process.argv.length; i++) {
    const [k, v] = process.argv[i].replace(/^--/, '').split('=', 2);
    if (k.startsWith('no-')) flags.set(k.slice(3), 'false');
    else flags.set(k, v ?? (['engines', 'repeat'].includes(k) ? process.argv[++i] : 'true'));
}
const say = (s: string): void => void process.stderr.write(`[compat] ${s}\n`);
const repeat = Number(flags.get('repeat') ?? 2);
/** 10 MiB, and the largest file the app accepts on any server (lib/settings.ts). */
const SIZES = [10 * MIB, ENGINE_SAFE_MAX_FILE_SIZE_BYTES];
/** lib/settings.ts sizes that largest file for the runtime's 30 s call timeout (docs/PERFORMANCE.md): a shorter one fails the claim. */
const SIZED_FOR_TIMEOUT_MS = 30_000;
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'livechat-upload-compat-'));

const appJson = JSON.parse(fs.readFileSync(path.join(repoRoot, 'app.json'), 'utf8'));
const ZIP = path.join(repoRoot, 'dist', `${appJson.nameSlug}_${appJson.version}.zip`);
const lowestRequired = /(\d+\.\d+\.\d+)/.exec(appJson.requiredApiVersion)![1];
const byNumber = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });
/** Whether `version` satisfies app.json's caret range (what the engine checks before it installs the app). */
const satisfiesRequired = (version: string): boolean =>
    version.split('.')[0] === lowestRequired.split('.')[0] && byNumber(version, lowestRequired) >= 0;

interface FileResult {
    passed: number;
    total: number;
    failed: string[];
}
interface Bench {
    chunkMs: number[];
    completeMs: Record<number, number[]>;
    /** Runs that did not store the file, per size, with what the last request answered. */
    failures: Record<number, string[]>;
}
interface EngineResult {
    version: string;
    dir?: string;
    installError?: string;
    start?: { ok: boolean; detail: string };
    /** The engine refused the app for its requiredApiVersion: everything ran with a copy that asks for this engine. */
    relaxed?: { zip: string; start: { ok: boolean; detail: string } };
    e2e?: Record<string, FileResult>;
    e2eError?: string;
    bench?: Bench;
    experiment?: string;
}

// ---- what the engine's own files say -----------------------------------------------------------------------

const read = (dir: string, file: string): string => (fs.existsSync(path.join(dir, file)) ? fs.readFileSync(path.join(dir, file), 'utf8') : '');
const RUNTIME = 'server/runtime/deno/AppsEngineDenoRuntime.js';

/** The runtime's call timeout by default, in ms (undefined: no Deno runtime). */
function timeoutMsOf(dir: string): number | undefined {
    const source = read(dir, RUNTIME);
    const value = /defaultTimeout = (\d+)/.exec(source) ?? /timeout: (\d+)/.exec(source);
    return value ? Number(value[1]) : undefined;
}

/** The runtime timeout as the engine sets it. */
function timeoutOf(dir: string): string {
    const source = read(dir, RUNTIME);
    if (!source) return 'n/a (no Deno runtime)';
    const configurable = /defaultTimeout = (\d+)/.exec(source);
    if (configurable && source.includes('APPS_ENGINE_RUNTIME_TIMEOUT')) return `${Number(configurable[1]) / 1000} s, \`APPS_ENGINE_RUNTIME_TIMEOUT\``;
    const fixed = /timeout: (\d+)/.exec(source);
    return fixed ? `**${Number(fixed[1]) / 1000} s, fixed** (no env var)` : '?';
}

/** The liveness manager's defaults (ping interval, ping timeout, restarts). */
function livenessOf(dir: string): string {
    const block = /const defaultOptions = \{([^}]*)\}/.exec(read(dir, 'server/runtime/deno/LivenessManager.js'))?.[1];
    if (!block) return 'n/a';
    return [...block.matchAll(/(\w+): ([\w.]+)/g)].map((m) => `${m[1]} ${m[2]}`).join(', ');
}

/**
 * How this engine differs from 1.62.0 (the engine the host is written against), read from its files: what the
 * host or the install adapts to (and where), and what needs nothing from the host but is worth knowing.
 */
function differencesOf(dir: string, folder: string | undefined): { adapted: string[]; notes: string[] } {
    const adapted: string[] = [];
    const notes: string[] = [];
    const runtime = read(dir, RUNTIME);
    if (!fs.existsSync(path.join(dir, 'deno-runtime'))) {
        notes.push('no Deno runtime: apps run inside the Node process under vm2');
    } else {
        if (!runtime.includes('--config'))
            adapted.push(
                'it spawns `deno run` without `--config`, and Deno 2 refuses TypeScript under node_modules without it: the launcher `.deno-bin/deno` adds it (prepare-engine.mjs)',
            );
        if (runtime.includes("require.resolve('deno-bin')"))
            adapted.push(
                'it spawns the binary of its own `deno-bin` dependency, whose install script downloads from github.com: that script is not run (`allowScripts`) and `bin/deno` is linked to the launcher',
            );
        if (/https:\/\/deno\.land\/std/.test(read(dir, 'deno-runtime/lib/messenger.ts')))
            adapted.push('its runtime imports `deno.land/std` io/write_all.ts by URL: mapped to a local stand-in in deno.jsonc (prepare-engine.mjs)');
        if (!fs.existsSync(path.join(dir, 'deno-runtime', 'handlers', 'app', 'handleUploadEvents.ts')))
            adapted.push(
                '`IPreFileUpload` data reaches the app as sent, so the host sends `{ file, content }`, not a temp-file path (bridges/uploads.ts)',
            );
        if (!runtime.includes("'--cached-only'"))
            notes.push('Deno runs without `--cached-only`: a cache miss would be fetched at start (the cache is filled at install)');
        if (/const \[, path, httpMethod\] = call\.split\(':'\)/.test(read(dir, 'deno-runtime/handlers/api-handler.ts')))
            notes.push('the runtime splits the call name on every `:`, so a route path with `:` breaks: the app has none');
    }
    if (read(dir, 'server/ProxiedApp.d.ts').includes('getDenoRuntime()'))
        adapted.push('`ProxiedApp.getDenoRuntime()` instead of `getRuntimeController()` (host.ts)');
    if (/abstract update\(item/.test(read(dir, 'server/storage/AppMetadataStorage.d.ts')))
        adapted.push('the metadata storage writes whole items with `update(item)` (storage.ts)');
    if (/abstract find\(/.test(read(dir, 'server/storage/AppLogStorage.d.ts')))
        adapted.push('the log storage is read with `find()`, not `findPaginated()` (storage.ts)');
    if (/storeEntries\(appId: string/.test(read(dir, 'server/storage/AppLogStorage.d.ts')))
        notes.push('the log storage gets `storeEntries(appId, logger)`: not adapted, so app logs are not kept here');
    const missing = ['ContactBridge', 'OutboundMessagesBridge', 'ExperimentalBridge', 'EmailBridge'].filter(
        (b) => !fs.existsSync(path.join(dir, 'server', 'bridges', `${b}.js`)),
    );
    if (missing.length) adapted.push(`it has no ${missing.join(', ')}: an empty stand-in takes each place (bridges/index.ts)`);
    if (/require\(["']mem["']\)/.test(read(dir, 'server/ProxiedApp.js'))) adapted.push('it requires `mem` without declaring it: installed beside it');
    if (folder && fs.existsSync(path.join(folder, '.npmrc')))
        adapted.push('its peer `@rocket.chat/ui-kit@next` names a dist-tag the registry no longer has: installed with `legacy-peer-deps` (.npmrc)');
    return { adapted, notes };
}

// ---- running --------------------------------------------------------------------------------------------------

/** The host's own explanation of a failed start: its "failed to start" line. */
const startFailure = (e: unknown): string => {
    const text = String((e as Error)?.message ?? e);
    return (/failed to start: (.*)/.exec(text)?.[1] ?? text.split('\n').find((l) => /Error/.test(l)) ?? text).slice(0, 200).trim();
};

async function checkStart(zip: string): Promise<{ ok: boolean; detail: string }> {
    try {
        return await withHost(zip, async (h) => ({ ok: true, detail: `enabled, ${h.info.appId}` }));
    } catch (e) {
        return { ok: false, detail: startFailure(e) };
    }
}

/** The packaged zip with app.json asking for `version`, for an engine that refuses the real one. */
function relaxedZip(version: string): string {
    const zip = new AdmZip(ZIP);
    const info = JSON.parse(zip.readAsText('app.json'));
    info.requiredApiVersion = `^${version}`;
    zip.updateFile('app.json', Buffer.from(JSON.stringify(info, null, 4)));
    const relaxed = path.join(logDir, `relaxed-${version}.zip`);
    zip.writeZip(relaxed);
    return relaxed;
}

/** What a visitor gets from the two simplest routes: the first thing to look at when a whole suite fails. */
async function probeRoutes(zip: string): Promise<string> {
    const { text } = await withHost(zip, async (h) => {
        const base = `${h.info.url}/api/apps/public/${h.info.appId}`;
        const headers = { 'x-visitor-token': h.info.visitorToken };
        const limits = await call(`${base}/limits`, 'GET', undefined, headers);
        const upload = await call(
            `${base}/upload`,
            'POST',
            { rid: h.info.rid, file: { name: 'a.txt', data: Buffer.from('hello').toString('base64') } },
            headers,
        );
        const shown = (r: { status: number; body: Record<string, unknown> }): string =>
            `${r.status} ${r.body.error ?? JSON.stringify(r.body).slice(0, 60)}`;
        return { text: `\`GET limits\` answers ${shown(limits)}, \`POST upload\` ${shown(upload)}` };
    });
    return text;
}

function runE2e(version: string, zip: string): { files?: Record<string, FileResult>; error?: string } {
    const { projects: _projects, globalSetup: _setup, ...base } = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).jest;
    const config = { ...base, rootDir: repoRoot, testMatch: ['<rootDir>/test/e2e/**/*.test.cts'] };
    const out = path.join(logDir, `e2e-${version}.json`);
    const log = path.join(logDir, `e2e-${version}.log`);
    const run = spawnSync(
        process.execPath,
        [path.join(repoRoot, 'node_modules/jest/bin/jest.js'), '--config', JSON.stringify(config), '--json', '--outputFile', out],
        { cwd: repoRoot, env: { ...process.env, E2E_ENGINE: version, E2E_ZIP: zip }, encoding: 'utf8', timeout: 15 * 60_000 },
    );
    fs.writeFileSync(log, `${run.stdout ?? ''}${run.stderr ?? ''}`);
    if (!fs.existsSync(out)) return { error: `jest wrote no results (exit ${run.status}); log: ${log}` };
    const report = JSON.parse(fs.readFileSync(out, 'utf8')) as {
        testResults: Array<{ name: string; message: string; assertionResults: Array<{ title: string; status: string }> }>;
    };
    const files: Record<string, FileResult> = {};
    for (const t of report.testResults) {
        const failed = t.assertionResults.filter((a) => a.status === 'failed').map((a) => a.title);
        const total = t.assertionResults.length;
        files[path.relative(path.join(repoRoot, 'test', 'e2e'), t.name)] = {
            passed: t.assertionResults.filter((a) => a.status === 'passed').length,
            total,
            failed:
                total === 0
                    ? [
                          t.message
                              .split('\n')
                              .find((l) => l.trim())
                              ?.trim() ?? 'the file failed to run',
                      ]
                    : failed,
        };
    }
    return { files };
}

async function runBench(zip: string): Promise<Bench> {
    const bench: Bench = { chunkMs: [], completeMs: {}, failures: {} };
    for (const size of SIZES) {
        bench.completeMs[size] = [];
        bench.failures[size] = [];
        const bytes = randomBytes(size);
        for (let i = 0; i < repeat; i++) {
            const r = await withHost(zip, async (h) => uploadResumable(h.info, bytes, 1));
            if (r.outcome !== 'stored') {
                bench.failures[size].push(`${r.outcome}: ${r.detail}`.replace(/\[[0-9a-f-]{36}\] Request "\w+" for /, ''));
                continue;
            }
            bench.completeMs[size].push(r.lastMs);
            if (size === SIZES[0]) bench.chunkMs.push(r.chunksMs / (r.chunks - 1));
        }
    }
    return bench;
}

// ---- the document ---------------------------------------------------------------------------------------------

const range = (values: number[], unit: 'ms' | 's', failed: string[] = []): string => {
    const failures = failed.length
        ? `${values.length ? ' · ' : ''}**${failed.length} of ${values.length + failed.length} ${/timed out/.test(failed[0]) ? 'timed out' : 'failed'}**`
        : '';
    if (values.length === 0) return failures || '–';
    const fmt = (v: number): string => (unit === 's' ? (v / 1000).toFixed(2) : v.toFixed(1));
    const [lo, hi] = [Math.min(...values), Math.max(...values)];
    return `${fmt(lo)}${hi - lo >= (unit === 's' ? 10 : 0.1) ? `–${fmt(hi)}` : ''} ${unit}${failures}`;
};

/** Whether the engine's call timeout is shorter than the one the app's largest file is sized for. */
const tooShort = (r: EngineResult): boolean => !!r.dir && (timeoutMsOf(r.dir) ?? SIZED_FOR_TIMEOUT_MS) < SIZED_FOR_TIMEOUT_MS;

/** passes | fails | refused by requiredApiVersion (and how the app fares when it asks for that engine) | not installable. */
function verdict(r: EngineResult, files: string[]): string {
    if (r.installError) return 'not installable';
    const start = r.relaxed?.start ?? r.start;
    let outcome: string;
    if (!start?.ok) outcome = '**fails** to install';
    else if (r.e2eError || !r.e2e) outcome = 'e2e not run';
    else {
        const failing = files.some((f) => !r.e2e![f] || r.e2e![f].failed.length > 0);
        const benchFailed = Object.values(r.bench?.failures ?? {}).some((f) => f.length > 0);
        outcome = failing || benchFailed || tooShort(r) ? '**fails**' : 'passes';
    }
    return r.relaxed ? `refused (requiredApiVersion); asking for it: ${outcome}` : outcome;
}

function render(results: EngineResult[], started: Date): string {
    const files = [...new Set(results.flatMap((r) => Object.keys(r.e2e ?? {})))].sort();
    const cpu = os.cpus();
    const denoVersion = spawnSync(path.join(DEFAULT_ENGINE_DIR, '.deno-bin', 'deno'), ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0];
    const cell = (r: EngineResult, f: string): string => {
        const x = r.e2e?.[f];
        if (!x) return '–';
        return x.failed.length === 0 ? `✓ ${x.passed}/${x.total}` : `✗ ${x.passed}/${x.total}`;
    };
    const head = [
        'Apps-Engine',
        'Rocket.Chat that ships it',
        'result',
        ...files.map((f) => `e2e \`${f.replace(/\.test\.cts$/, '')}\``),
        'per chunk (10 MiB, serial)',
        '10 MiB completion',
        `${ENGINE_SAFE_MAX_FILE_SIZE_BYTES / MIB} MiB completion`,
        'runtime timeout',
    ];
    const rows = results.map((r) => [
        r.version === engineVersion(DEFAULT_ENGINE_DIR) ? `**${r.version}** (default)` : r.version,
        RELEASES[r.version]?.rocketChat ?? '?',
        verdict(r, files),
        ...files.map((f) => cell(r, f)),
        range(r.bench?.chunkMs ?? [], 'ms'),
        range(r.bench?.completeMs[SIZES[0]] ?? [], 's', r.bench?.failures[SIZES[0]]),
        range(r.bench?.completeMs[SIZES[1]] ?? [], 's', r.bench?.failures[SIZES[1]]),
        r.dir ? timeoutOf(r.dir) : '?',
    ]);
    const table = [head, head.map(() => '---'), ...rows].map((row) => `| ${row.join(' | ')} |`).join('\n');
    const passing = results.filter((r) => verdict(r, files) === 'passes').map((r) => r.version);
    const wouldPass = results.filter((r) => r.relaxed && verdict(r, files).endsWith(': passes')).map((r) => r.version);

    const notes = results.map((r) => {
        const lines = [`### ${r.version}`, ''];
        const release = RELEASES[r.version];
        if (release) lines.push(`- Rocket.Chat: ${release.rocketChat}; their Deno: ${release.deno}. Source: ${release.source}.`);
        if (r.installError) lines.push(`- Install: ${r.installError}`);
        if (r.relaxed) {
            lines.push(`- The engine refuses the app: \`${r.start?.detail}\` (app.json asks for \`${appJson.requiredApiVersion}\`).`);
            lines.push(
                `- Everything else in its row ran with a copy of the zip whose app.json asks for \`^${r.version}\`: ${r.relaxed.start.ok ? 'it installs and enables' : `it still fails: ${r.relaxed.start.detail}`}.`,
            );
        } else if (r.start && !r.start.ok) lines.push(`- The host could not install the app: ${r.start.detail}`);
        if (r.experiment) lines.push(`- End-to-end tests failed; the two simplest routes: ${r.experiment}.`);
        if (tooShort(r))
            lines.push(
                `- Its runtime call timeout, ${timeoutMsOf(r.dir!)! / 1000} s, is shorter than the ${SIZED_FOR_TIMEOUT_MS / 1000} s the app's largest file (${ENGINE_SAFE_MAX_FILE_SIZE_BYTES / MIB} MiB, \`lib/settings.ts\`) is sized for: completing it already takes a large share of that time here (table), which leaves a busier server no room.`,
            );
        const failedTests = Object.entries(r.e2e ?? {}).flatMap(([f, x]) => x.failed.map((t) => `\`${f}\`: ${t}`));
        if (failedTests.length > 6) lines.push(`- ${failedTests.length} e2e tests failed, e.g. ${failedTests.slice(0, 3).join('; ')}.`);
        else for (const t of failedTests) lines.push(`- e2e ${t} failed.`);
        for (const [size, failed] of Object.entries(r.bench?.failures ?? {}))
            for (const f of new Set(failed))
                lines.push(`- bench ${Number(size) / MIB} MiB, ${failed.filter((x) => x === f).length} of ${repeat} runs: ${f}`);
        if (r.dir) {
            const { adapted, notes: facts } = differencesOf(
                r.dir,
                r.version === engineVersion(DEFAULT_ENGINE_DIR) ? undefined : path.join(repoRoot, '.host', 'engines', r.version),
            );
            lines.push(`- Runtime timeout: ${timeoutOf(r.dir)}; liveness defaults: ${livenessOf(r.dir)}.`);
            lines.push(adapted.length ? `- Adapted: ${adapted.join('; ')}.` : '- Nothing to adapt: the host is written against this engine.');
            if (facts.length) lines.push(`- Also: ${facts.join('; ')}.`);
        }
        return lines.join('\n');
    });

    return `# Compatibility

Which Apps-Engine versions, and so which Rocket.Chat versions, this app is proven on. Everything below is
written by \`npm run compat\` (\`.host/compat/run.ts\`): for every engine the local host can run it installs
the engine when missing (\`.host/engines/<version>/\`, \`npm ci\` + \`.host/scripts/prepare-engine.mjs\`),
installs the packaged app in it, runs the whole end-to-end suite (\`test/e2e\`, jest with \`E2E_ENGINE\`) and a
short bench (resumable uploads through the app, one chunk at a time, ${repeat} run${repeat === 1 ? '' : 's'} per size, a fresh host each:
\`.host/bench/measure.ts\`), and reads the engine's knobs from its own files. Rerun it to refresh this page.

Run ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC · ${cpu.length} cores (${cpu[0]?.model.trim()}) · ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM · Node ${process.versions.node} · ${denoVersion} for every engine · machine shared with other jobs: times scatter, compare within one run.

${table}

**Claimed:** \`requiredApiVersion: ${appJson.requiredApiVersion}\`, the lowest engine that passes here${passing.length ? ` (passing: ${passing.join(', ')})` : ''}.${passing.length && `^${passing[0]}` !== appJson.requiredApiVersion ? ` **Mismatch: the lowest passing engine is ${passing[0]}; app.json must say \`^${passing[0]}\`.**` : ''}${wouldPass.length ? ` **${wouldPass.join(', ')} would pass too: the claim could go lower.**` : ''} \`npm test\` runs the end-to-end suite on the default engine and again on ${lowestRequired} (the jest project in \`test/lowest-engine.config.cjs\`), so CI guards the claim.

An engine **passes** when every end-to-end test passes, every bench upload is stored, and its runtime call
timeout is at least the ${SIZED_FOR_TIMEOUT_MS / 1000} s the app's largest file (${ENGINE_SAFE_MAX_FILE_SIZE_BYTES / MIB} MiB, \`lib/settings.ts\`) is sized for.
"Per chunk" is the mean time of one 76,608-byte \`PATCH uploads\` (all chunks of a 10 MiB file but the last); a
completion is the last chunk's request: store it, read the file back, check it, \`uploadBuffer\`, read the
message back. It runs inside one call into the runtime, so it must finish within the runtime timeout.

## Untested

Rocket.Chat versions whose engine this machine cannot install are untested. Where \`${appJson.requiredApiVersion}\` lets the
engine accept the app, nothing here proves it runs; where it does not, the engine refuses the install:

| Apps-Engine | Rocket.Chat | why untested | the engine, given the app |
| --- | --- | --- | --- |
${UNTESTED.map((u) => `| ${u.engines} | ${u.rocketChat} | ${u.why} | ${satisfiesRequired(u.lowest) ? 'accepts it: untested' : 'refuses it (requiredApiVersion)'} |`).join('\n')}

## Per engine: Rocket.Chat, knobs, what the host adapts to

Every engine runs here with the same Deno (the root install's \`deno\` package); the Deno each Rocket.Chat
release ships is named per engine. Deno 1.43.5 is not on npm; npm's closest 1.x (1.46.3) refuses TypeScript
under \`node_modules\` the way Deno 2 does without \`--config\`.

${notes.join('\n\n')}

## Where the Rocket.Chat versions come from

Rocket.Chat's own files (the GitHub repository RocketChat/Rocket.Chat; its full history was too large to fetch
here, so these were read from stored copies and forks' snapshots, each named in \`.host/compat/releases.ts\`):

- up to 6.9, \`apps/meteor/package.json\` names the engine (\`git log -p -- apps/meteor/package.json\`:
  \`"@rocket.chat/apps-engine": "^1.42.1"\` from 6.7.0-rc.3, \`"1.42.2"\` from 6.8.0-rc.1);
- from 6.10 the engine is a workspace of the monorepo and \`apps/meteor/package.json\` says \`"workspace:^"\`, so
  its history names no version; the changesets changelog \`packages/apps/CHANGELOG.md\` records each engine
  bump beside \`@rocket.chat/core-typings\`, whose version is the Rocket.Chat release;
- the "Engine versions" block of GitHub releases (Node, Deno, MongoDB, Apps-Engine) for releases the
  changelog does not reach, and for the Deno each release ships.

Patch releases published after the changelog snapshot (1.57.2, 1.58.1) are named as such, not guessed.
`;
}

async function main(): Promise<void> {
    const started = new Date();
    const wanted = flags.get('engines')?.split(',') ?? engineVersions();
    say(`engines: ${wanted.join(', ')} · logs in ${logDir}`);
    // package the app and the scanner fixture once, as jest's global setup does before every run
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    await require(path.join(repoRoot, 'test', 'global-setup.cjs'))();

    const results: EngineResult[] = [];
    for (const version of wanted.sort(byNumber)) {
        const r: EngineResult = { version };
        results.push(r);
        try {
            r.dir = resolveEngineDir(version);
        } catch (e) {
            r.installError = String((e as Error).message ?? e).slice(0, 200);
            say(`${version}: not installable: ${r.installError}`);
            continue;
        }
        process.env.BENCH_ENGINE = version;
        say(`${version}: installing the app…`);
        r.start = await checkStart(ZIP);
        let zip = ZIP;
        if (!r.start.ok && !satisfiesRequired(version)) {
            zip = relaxedZip(version);
            r.relaxed = { zip, start: await checkStart(zip) };
            say(`${version}: refused (${r.start.detail}); going on with a copy that asks for it`);
        }
        if (!(r.relaxed?.start ?? r.start).ok) {
            say(`${version}: ${(r.relaxed?.start ?? r.start).detail}`);
            continue;
        }
        if (flags.get('e2e') !== 'false') {
            say(`${version}: end-to-end suite…`);
            const e2e = runE2e(version, zip);
            r.e2e = e2e.files;
            r.e2eError = e2e.error;
            if (Object.values(r.e2e ?? {}).some((f) => f.failed.length > 0)) r.experiment = await probeRoutes(zip);
        }
        if (flags.get('bench') !== 'false') {
            say(`${version}: bench…`);
            r.bench = await runBench(zip);
        }
        say(`${version}: ${verdict(r, Object.keys(r.e2e ?? {}))}`);
    }
    delete process.env.BENCH_ENGINE;

    const doc = render(results, started);
    process.stdout.write(`${doc}\n`);
    if (flags.get('write') !== 'false') {
        const target = path.join(repoRoot, 'docs', 'COMPATIBILITY.md');
        fs.writeFileSync(target, doc);
        spawnSync(path.join(repoRoot, 'node_modules', '.bin', 'prettier'), ['--write', target], { stdio: 'ignore' }); // tables aligned as `npm run lint` wants
        say(`written to docs/COMPATIBILITY.md in ${Math.round((Date.now() - started.getTime()) / 1000)} s`);
    }
}

main().catch((e) => {
    process.stderr.write(`compat failed: ${e?.stack ?? e}\n`);
    process.exit(1);
});
