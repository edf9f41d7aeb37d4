// `npm run bench`: the resumable upload through the packaged app in the real Apps-Engine runtime set
// against its floor measured in the same run (the same requests to a do-nothing endpoint of a probe
// app, plus one uploadBuffer of the file), the cost of one call, memory when visitors finish at once,
// and (with --engine-fix) the engine's own fix. Ratios first, absolute figures after.
//
// Sections (--only a,b,…; or drop one with --no-<section>):
//   targets   end to end ÷ floor and middle chunk ÷ do-nothing call, at --target-sizes (1m,10m,16m), serial and --parallel (4),
//             each host warmed by the same work once untimed (--no-warm-up: timed cold); --target-repeat N (3) times,
//             each row the run with the median end to end ÷ floor;
//             the floor's uploadBuffer, like the big and ceiling sections', passes the bytes as the app does (withCheapToJson);
//             the same against the storage floor, where each chunk goes to the probe's store?steps=bytes (one persistence write)
//   calls     one do-nothing call with a tiny and a 100 KB body against bare Express, and one 100 KB chunk kept by the probe's
//             store?steps=bytes and bytes,mark,slot (--calls N, default 200; --call-profile adds where the host's CPU goes in the
//             do-nothing calls, from a V8 CPU profile of the host)
//   cheap     one uploadBuffer of --cheap-size (16m) with a plain Buffer and with the app's withCheapToJson, --repeat N times alternately
//   together  peak memory while --visitors (4) visitors complete --together-size (16m) at the same moment, with the app's
//             completions-at-once setting at each of --together-caps (2,100: the default, and no cap); --together-before REF
//             adds a row for the app as it was at git ref REF (packaged from a temporary worktree), for a before/after
//   big       (default with --engine-fix) --big-size (100m) end to end, engine-safe limit raised for the bench only, and one uploadBuffer of it
//   ceiling   one uploadBuffer at --probe-sizes (1m,5m,10m,20m,25m,30m,40m,50m), after a timeout watching --watch-after-timeout S (30)
//   engine    (never by default) one uploadBuffer at --engine-sizes (10m,25m,50m,100m) on each of --engine-variants
//             (stock,h1,h2,h3,all; join fixes with +), runtime timeout raised, --repeat N, each run given up after --engine-cap S (240)
//   resumable, floor   the tables of earlier versions (--sizes 64k,1m,10m,100m)
// Also: --engine-fix[=h1,h2,h3] every host runs the patched engine (docs/ENGINE.md); --package; --app-zip PATH (measure
// another build of the app, e.g. an older commit's); --write docs/PERFORMANCE.md (between its <!-- bench:start/end --> markers,
// or --marker NAME's).
// --engine VERSION runs every host on an Apps-Engine from .host/engines/ (default: the root install's).
// Sizes: k = KiB, m = MiB. Each measurement gets a fresh host, so its peak RSS is its own.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { APP_SETTING_IDS } from '../../lib/settings';
import { parseEngineFixes } from '../src/engine-fix';
import { summarizeCpuProfile } from './cpu-profile';
import {
    MIB,
    buildProbeZip,
    call,
    chunkBody,
    cpuMs,
    createBody,
    expressFloor,
    installBeside,
    openVisitor,
    probeReadback,
    probeUploadBuffer,
    raiseSizeSettings,
    setAppSettings,
    repoRoot,
    sendBodies,
    startBareExpress,
    startHostProcess,
    uploadResumable,
    withCpu,
    withHost,
    type HostInfo,
    type HostOptions,
    type Peaks,
    type ProbeResult,
    type ResumableResult,
    type RunningHost,
} from './measure';

const SECTIONS = ['targets', 'calls', 'cheap', 'together', 'big', 'ceiling', 'engine', 'resumable', 'floor'] as const;
type Section = (typeof SECTIONS)[number];
const VALUE_FLAGS = [
    'engine',
    'sizes',
    'probe-sizes',
    'parallel',
    'watch-after-timeout',
    'write',
    'marker',
    'only',
    'target-sizes',
    'target-repeat',
    'calls',
    'cheap-size',
    'together-size',
    'visitors',
    'big-size',
    'engine-sizes',
    'engine-variants',
    'repeat',
    'engine-cap',
    'app-zip',
    'together-before',
    'together-caps',
];

const flags = new Map<string, string>();
for (let i = 2; i < process.argv.length; i++) {
    const [k, v] = process.argv[i].replace(/^--/, '').split('=', 2);
    if (k.startsWith('no-')) flags.set(k.slice(3), 'false');
    else flags.set(k, v ?? (VALUE_FLAGS.includes(k) ? process.argv[++i] : 'true'));
}
const parseSize = (s: string): number => Math.round(parseFloat(s) * ({ k: 1024, m: MIB }[s.slice(-1).toLowerCase()] ?? 1));
const sizesOf = (flag: string, fallback: string): number[] => (flags.get(flag) ?? fallback).split(',').map(parseSize);
const engineFixes =
    flags.has('engine-fix') && flags.get('engine-fix') !== 'false'
        ? parseEngineFixes(flags.get('engine-fix') === 'true' ? true : flags.get('engine-fix')!)
        : undefined;
const fixArgs = engineFixes ? [`--engine-fix=${engineFixes.join(',')}`] : [];
const parallel = Number(flags.get('parallel') ?? 4);
// In the targets section each host first takes the same work once untimed: a server is compared
// warm, as a Rocket.Chat server is after its first uploads (a fresh one runs the app's chunks ~40 %
// slower until the runtime's JIT has seen a few hundred; the do-nothing floor warms at once).
const warmUp = flags.get('warm-up') !== 'false';
const watchAfterTimeoutS = Number(flags.get('watch-after-timeout') ?? 30);
const timeoutMs = Number(process.env.APPS_ENGINE_RUNTIME_TIMEOUT ?? 30_000);
if (flags.has('engine')) process.env.BENCH_ENGINE = flags.get('engine'); // measure.ts passes it to every host
const sections: Set<Section> = new Set(
    flags.has('only')
        ? (flags.get('only')!.split(',') as Section[])
        : (['targets', 'calls', 'cheap', 'together', 'ceiling', ...(engineFixes ? (['big'] as const) : [])] as Section[]),
);
for (const s of SECTIONS) if (flags.get(s) === 'false') sections.delete(s);
for (const s of sections) if (!SECTIONS.includes(s)) throw new Error(`unknown section ${s} (${SECTIONS.join(', ')})`);

const say = (s: string): void => void process.stderr.write(`${s}\n`);
const fmtSize = (b: number): string => (b >= MIB ? `${+(b / MIB).toFixed(1)} MiB` : `${+(b / 1024).toFixed(1)} KiB`);
const fmtS = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
const fmtMs = (ms: number): string => `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
const ratio = (a: number, b: number): string => (a / b).toFixed(2);
const rate = (bytes: number, ms: number): string => (bytes / MIB / (ms / 1000)).toFixed(2);
const mem = (p: Peaks): [string, string] => [`${p.hostMiB}`, `${p.denoMiB}`];
const table = (head: string[], rows: string[][]): string => [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
const version = (pkg: string): string => JSON.parse(fs.readFileSync(path.join(repoRoot, 'node_modules', pkg, 'package.json'), 'utf8')).version;
/** The item whose `key` is the median of `items` (the lower middle one of an even count). */
function medianBy<T>(items: T[], key: (item: T) => number): T {
    const sorted = [...items].sort((a, b) => (key(a) || Infinity) - (key(b) || Infinity));
    return sorted[Math.floor((sorted.length - 1) / 2)];
}
/** `lo–hi` of `pick` over `items`, or one value when both ends print the same. */
function rangeOf<T>(items: T[], pick: (item: T) => number, f: (x: number) => string): string {
    const xs = items.map(pick);
    const [lo, hi] = [Math.min(...xs), Math.max(...xs)];
    return f(lo) === f(hi) ? f(lo) : `${f(lo)}–${f(hi)}`;
}
/** The ranges of the host's and the Deno child's peak RSS over runs, in MiB. */
function peakRanges(runs: Array<{ peaks: Peaks }>): [string, string] {
    return [rangeOf(runs, (r) => r.peaks.hostMiB, String), rangeOf(runs, (r) => r.peaks.denoMiB, String)];
}
const engineLabel = (fixes: string[] | undefined): string => (fixes ? `patched (${fixes.join(', ')})` : 'as published');
const hostOptions = (extra: HostOptions = {}): HostOptions => ({ ...extra, args: [...fixArgs, ...(extra.args ?? [])] });
/** The command that reproduces a table: this run's engine flag plus the section's own flags. */
const command = (rest: string): string =>
    `\`npm run bench -- ${[
        engineFixes ? `--engine-fix${flags.get('engine-fix') === 'true' ? '' : `=${flags.get('engine-fix')}`}` : '',
        flags.has('app-zip') ? `--app-zip ${flags.get('app-zip')}` : '',
        flags.has('parallel') ? `--parallel ${flags.get('parallel')}` : '',
        rest,
    ]
        .filter(Boolean)
        .join(' ')}\``;

function appZip(): string {
    if (flags.has('app-zip')) return path.resolve(flags.get('app-zip')!);
    const { nameSlug, version: v } = JSON.parse(fs.readFileSync(path.join(repoRoot, 'app.json'), 'utf8'));
    const zip = path.join(repoRoot, 'dist', `${nameSlug}_${v}.zip`);
    if (flags.has('package') || !fs.existsSync(zip)) {
        say('Packaging the app (rc-apps package)…');
        execFileSync('npx', ['rc-apps', 'package'], { cwd: repoRoot, stdio: ['ignore', 2, 2] });
    }
    return zip;
}

/**
 * The app's zip as packaged at git ref `ref`: a temporary worktree of this repository, using this
 * checkout's node_modules, packaged with rc-apps; the worktree is removed again.
 */
function packageAtRef(ref: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'livechat-upload-bench-ref-'));
    const out = path.join(os.tmpdir(), `livechat-upload-${ref.replace(/[^\w.-]/g, '_')}.zip`);
    say(`Packaging the app as at ${ref}…`);
    execFileSync('git', ['worktree', 'add', '--detach', dir, ref], { cwd: repoRoot, stdio: ['ignore', 2, 2] });
    try {
        fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
        execFileSync('npx', ['rc-apps', 'package'], { cwd: dir, stdio: ['ignore', 2, 2] });
        const built = fs.readdirSync(path.join(dir, 'dist')).find((f) => f.endsWith('.zip'));
        if (!built) throw new Error(`rc-apps package left no zip for ${ref}`);
        fs.copyFileSync(path.join(dir, 'dist', built), out);
    } finally {
        execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: repoRoot, stdio: ['ignore', 2, 2] });
    }
    return out;
}

interface Limits {
    maxFileSizeBytes: number;
    chunkSizeBytes: number;
    maxParallelChunks: number;
}

async function readLimits(info: HostInfo): Promise<Limits> {
    const { body } = await call(`${info.url}/api/apps/public/${info.appId}/limits`, 'GET', undefined, { 'x-visitor-token': info.visitorToken });
    return body as unknown as Limits;
}

const noopUrl = (info: HostInfo): string => `${info.url}/api/apps/public/${info.appId}/noop`;
/** The probe's `store` route doing `steps` (one bridge call each) with the app's chunk size, so each chunk lands in its own slot. */
const storeUrl = (info: HostInfo, steps: string, chunkSizeBytes: number): string =>
    `${info.url}/api/apps/public/${info.appId}/store?steps=${steps}&chunkSizeBytes=${chunkSizeBytes}`;

/**
 * The floor of one upload: the requests the client sends for it (limits, create, every chunk with its
 * real body, `parallel` chunks at a time), each to the probe's do-nothing endpoint, timed; with
 * `chunkUrl` the chunks go there instead (the storage floor). Returns the whole and the part for all
 * chunks but the last.
 */
async function floorCalls(
    info: HostInfo,
    bytes: Buffer,
    chunkSizeBytes: number,
    width: number,
    chunkUrl = noopUrl(info),
): Promise<{ totalMs: number; chunksMs: number; chunks: number }> {
    const url = noopUrl(info);
    const headers = { 'x-visitor-token': info.visitorToken };
    const uploadId = randomBytes(16).toString('hex');
    const chunks = Math.ceil(bytes.length / chunkSizeBytes);
    const bodies = Array.from({ length: chunks }, (_, i) => chunkBody(uploadId, bytes, i, chunkSizeBytes));
    const started = performance.now();
    if ((await call(url, 'GET', undefined, headers)).status !== 200) throw new Error('noop GET failed');
    await sendBodies(url, 'POST', [createBody(info.rid, bytes)], 1, headers);
    const chunksMs = await sendBodies(chunkUrl, 'PATCH', bodies.slice(0, -1), width, headers);
    await sendBodies(chunkUrl, 'PATCH', bodies.slice(-1), 1, headers);
    return { totalMs: performance.now() - started, chunksMs, chunks };
}

type Cpu = { cpu: { hostMs: number; denoMs: number } };

interface TargetRow {
    size: number;
    width: number;
    app: ResumableResult & Cpu & { peaks: Peaks };
    floorCallsMs: number;
    floorChunksMs: number;
    /** CPU of host + Deno for the do-nothing calls and the uploadBuffer. */
    floorCpuMs: number;
    /** The same requests with each chunk kept once in app persistence (`store?steps=bytes`), and the part for all chunks but the last. */
    storeCallsMs: number;
    storeChunksMs: number;
    uploadBuffer: ProbeResult;
    uploadPeaks: Peaks;
}

/**
 * Runs `fn` on a fresh host that runs the app and the probe beside it, both taken through the same
 * requests first (unless `--no-warm-up`): one app upload of `size` at `width`, the floor's requests,
 * the storage floor's, one `uploadBuffer`; then the peaks are reset, so `fn` measures a server in the
 * same state whichever app it times. A server that has only ever run the probe answers a do-nothing
 * call about 1 ms faster than the app's own server does (`--only calls`, its last rows): what the
 * engine's message encoding and debug strings have seen changes what they cost, and a Rocket.Chat
 * server runs the messages of every app it has.
 */
async function withAppAndProbe<T extends object>(
    zip: string,
    probeZip: string,
    warm: { size: number; width: number; chunkSizeBytes: number },
    fn: (app: HostInfo, probe: RunningHost, host: RunningHost) => Promise<T>,
): Promise<T & { peaks: Peaks; idle: Peaks }> {
    return withHost(
        zip,
        async (host) => {
            const probe: RunningHost = { ...host, info: await installBeside(host, probeZip) };
            if (warmUp) {
                const bytes = randomBytes(warm.size);
                await uploadResumable(host.info, bytes, warm.width, { chunkSizeBytes: warm.chunkSizeBytes });
                await floorCalls(probe.info, bytes, warm.chunkSizeBytes, warm.width);
                await floorCalls(probe.info, bytes, warm.chunkSizeBytes, warm.width, storeUrl(probe.info, 'bytes', warm.chunkSizeBytes));
                await probeUploadBuffer(probe, warm.size, 0, { cheapToJson: true });
            }
            host.resetPeaks();
            return fn(host.info, probe, host);
        },
        hostOptions(),
    );
}

async function measureTargets(zip: string, probeZip: string, limits: Limits, widths: number[]): Promise<TargetRow[]> {
    const rows: TargetRow[] = [];
    const { chunkSizeBytes } = limits;
    for (const size of sizesOf('target-sizes', '1m,10m,16m')) {
        const bytes = randomBytes(size);
        const apps = new Map<number, ResumableResult & Cpu & { peaks: Peaks }>();
        for (const width of widths) {
            say(`targets: app end to end ${fmtSize(size)} × ${width}…`);
            apps.set(
                width,
                await withAppAndProbe(zip, probeZip, { size, width, chunkSizeBytes }, (app) =>
                    withCpu(app, () => uploadResumable(app, bytes, width, { chunkSizeBytes })),
                ),
            );
        }
        say(`targets: floor ${fmtSize(size)}…`);
        const floor = await withAppAndProbe(zip, probeZip, { size, width: widths[0], chunkSizeBytes }, async (_app, probe, host) => {
            const calls = new Map<number, { totalMs: number; chunksMs: number } & Cpu>();
            for (const width of widths) calls.set(width, await withCpu(probe.info, () => floorCalls(probe.info, bytes, chunkSizeBytes, width)));
            host.resetPeaks();
            const uploadBuffer = await withCpu(probe.info, () => probeUploadBuffer(probe, size, 0, { cheapToJson: true })); // as the app calls it
            return { calls, uploadBuffer, uploadPeaks: host.peaks(probe.info.denoPid) };
        });
        // A host of its own per width, as the app gets: the kept chunks would otherwise add to the
        // uploadBuffer's peak RSS, and the app's chunks, too, land in a persistence that holds only the warm-up's.
        const stored = new Map<number, { totalMs: number; chunksMs: number }>();
        for (const width of widths) {
            say(`targets: storage floor ${fmtSize(size)} × ${width}…`);
            stored.set(
                width,
                await withAppAndProbe(zip, probeZip, { size, width, chunkSizeBytes }, (_app, probe) =>
                    floorCalls(probe.info, bytes, chunkSizeBytes, width, storeUrl(probe.info, 'bytes', chunkSizeBytes)),
                ),
            );
        }
        for (const width of widths) {
            const calls = floor.calls.get(width)!;
            rows.push({
                size,
                width,
                app: apps.get(width)!,
                floorCallsMs: calls.totalMs,
                floorChunksMs: calls.chunksMs,
                floorCpuMs: calls.cpu.hostMs + calls.cpu.denoMs + floor.uploadBuffer.cpu.hostMs + floor.uploadBuffer.cpu.denoMs,
                storeCallsMs: stored.get(width)!.totalMs,
                storeChunksMs: stored.get(width)!.chunksMs,
                uploadBuffer: floor.uploadBuffer,
                uploadPeaks: floor.uploadPeaks,
            });
        }
    }
    return rows;
}

interface CallRow {
    request: string;
    width: number;
    appMs: number;
    /** The same body to bare Express (do-nothing rows). */
    expressMs?: number;
    /** The do-nothing call with a 100 KB body at the same width (rows that keep the chunk). */
    noopMs?: number;
    hostCpuMs: number;
    denoCpuMs: number;
}

/**
 * `count` do-nothing calls with each body, serial and `width` at a time, against bare Express; then
 * `count` full chunks kept by the probe's `store` route, one bridge step more per row set, against
 * the do-nothing call with the same body. CPU per call of each process (serial runs).
 */
async function measureCalls(zip: string, probeZip: string, chunkSizeBytes: number, widths: number[]): Promise<{ rows: CallRow[]; profile?: string }> {
    const count = Number(flags.get('calls') ?? 200);
    const full = chunkBody(randomBytes(16).toString('hex'), randomBytes(chunkSizeBytes * 2), 0, chunkSizeBytes);
    const bodies = [
        { short: 'tiny', label: 'do-nothing, tiny (`{}`)', body: '{}' },
        { short: '100 KB', label: `do-nothing, 100 KB (one full chunk: ${full.length} bytes of JSON)`, body: full },
    ];
    const stores = [
        { steps: 'bytes', label: 'one write (`store?steps=bytes`), 100 KB' },
        { steps: 'bytes,mark,slot', label: 'write, mark, read back (`store?steps=bytes,mark,slot`), 100 KB' },
    ];
    // `n` full chunks of one new upload, each in a slot of its own as in an upload (one body sent
    // again would update a single record in place).
    const uploadBodies = (n: number): string[] => {
        const uploadId = randomBytes(16).toString('hex');
        const bytes = randomBytes(chunkSizeBytes * (n + 1));
        return Array.from({ length: n }, (_, i) => chunkBody(uploadId, bytes, i, chunkSizeBytes));
    };
    const profileDir = flags.get('call-profile') === 'true' ? fs.mkdtempSync(path.join(os.tmpdir(), 'livechat-upload-bench-prof-')) : undefined;
    const rows: CallRow[] = [];
    const windows: Array<{ fromUs: number; toUs: number; body: string }> = []; // the serial runs, tiny then 100 KB
    const express = await startBareExpress();
    try {
        const host = await startHostProcess(
            probeZip,
            hostOptions(profileDir ? { nodeArgs: ['--cpu-prof', '--cpu-prof-interval=250', `--cpu-prof-dir=${profileDir}`] } : {}),
        );
        try {
            const url = noopUrl(host.info);
            for (const { short, label, body } of bodies) {
                await sendBodies(url, 'PATCH', Array(20).fill(body), 1); // warm up both
                await sendBodies(express.url, 'PATCH', Array(20).fill(body), 1);
                for (const width of widths) {
                    say(`calls: ${short} × ${width}…`);
                    const cpuBefore = [cpuMs(host.info.pid), cpuMs(host.info.denoPid)];
                    const fromUs = Number(process.hrtime.bigint() / 1000n);
                    const appMs = await sendBodies(url, 'PATCH', Array(count).fill(body), width);
                    if (width === 1) windows.push({ fromUs, toUs: Number(process.hrtime.bigint() / 1000n), body: short });
                    const cpuAfter = [cpuMs(host.info.pid), cpuMs(host.info.denoPid)];
                    const expressMs = await sendBodies(express.url, 'PATCH', Array(count).fill(body), width);
                    rows.push({
                        request: label,
                        width,
                        appMs: appMs / count,
                        expressMs: expressMs / count,
                        hostCpuMs: (cpuAfter[0] - cpuBefore[0]) / count,
                        denoCpuMs: (cpuAfter[1] - cpuBefore[1]) / count,
                    });
                }
            }
            // After every do-nothing run, so the kept chunks do not weigh on those.
            for (const { steps, label } of stores) {
                const storeAt = storeUrl(host.info, steps, chunkSizeBytes);
                await sendBodies(storeAt, 'PATCH', uploadBodies(20), 1); // warm up
                for (const width of widths) {
                    say(`calls: store?steps=${steps} × ${width}…`);
                    const chunks = uploadBodies(count);
                    const r = await withCpu(host.info, async () => ({ ms: await sendBodies(storeAt, 'PATCH', chunks, width) }));
                    rows.push({
                        request: label,
                        width,
                        appMs: r.ms / count,
                        noopMs: rows.find((x) => x.request === bodies[1].label && x.width === width)!.appMs,
                        hostCpuMs: r.cpu.hostMs / count,
                        denoCpuMs: r.cpu.denoMs / count,
                    });
                }
            }
        } finally {
            await host.stop();
        }
        // The same do-nothing call on a server running the app beside the probe, after one upload of
        // each (`withAppAndProbe`): the servers the targets section measures its floors on.
        await withAppAndProbe(zip, probeZip, { size: MIB, width: 1, chunkSizeBytes }, async (_app, probe) => {
            const url = noopUrl(probe.info);
            const alone = (width: number): number => rows.find((x) => x.request === bodies[1].label && x.width === width)!.appMs;
            await sendBodies(url, 'PATCH', Array(20).fill(full), 1);
            for (const width of widths) {
                say(`calls: 100 KB × ${width} beside the app…`);
                const r = await withCpu(probe.info, async () => ({ ms: await sendBodies(url, 'PATCH', Array(count).fill(full), width) }));
                rows.push({
                    request: 'do-nothing, 100 KB, on a server that runs the app too (÷ the same on a server running only the probe)',
                    width,
                    appMs: r.ms / count,
                    noopMs: alone(width),
                    hostCpuMs: r.cpu.hostMs / count,
                    denoCpuMs: r.cpu.denoMs / count,
                });
            }
            return {};
        });
    } finally {
        await express.close();
    }
    if (!profileDir) return { rows };
    const file = fs.readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('the host wrote no CPU profile');
    const profile = JSON.parse(fs.readFileSync(path.join(profileDir, file), 'utf8'));
    fs.rmSync(profileDir, { recursive: true, force: true });
    const [a, b] = windows.map((w) => summarizeCpuProfile(profile, w.fromUs, w.toUs));
    const categories = [...new Set([...a.keys(), ...b.keys()])].sort((x, y) => (b.get(y) ?? 0) - (b.get(x) ?? 0));
    const perCall = (m: Map<string, number>, c: string): string => fmtMs((m.get(c) ?? 0) / count);
    return {
        rows,
        profile: table(
            ['where the host (Node) spends its time, per serial call', 'tiny body', '100 KB body'],
            categories.map((c) => [c, perCall(a, c), perCall(b, c)]),
        ),
    };
}

async function main(): Promise<void> {
    const started = Date.now();
    const zip = appZip();
    const limits = await withHost(zip, async (h) => readLimits(h.info), hostOptions());
    const widths = parallel > 1 ? [1, Math.min(parallel, limits.maxParallelChunks)] : [1];
    const cpu = os.cpus();
    const header = [
        `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC · ${cpu.length} cores (${cpu[0]?.model.trim()}) · ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM · load ${os.loadavg()[0].toFixed(1)} at start · Node ${process.versions.node} · ` +
            `Apps-Engine ${process.env.BENCH_ENGINE ?? version('@rocket.chat/apps-engine')} ${engineLabel(engineFixes)} · Deno ${version('deno')} · runtime timeout ${timeoutMs / 1000} s`,
        `App limit ${fmtSize(limits.maxFileSizeBytes)}, chunks of ${limits.chunkSizeBytes} bytes, up to ${limits.maxParallelChunks} in parallel. ` +
            `Idle RSS: host ${limits.idle.hostMiB} MiB, Deno child ${limits.idle.denoMiB} MiB. Random bytes (incompressible, like photos and PDFs).`,
    ];
    const ratioTables: string[] = [];
    const absoluteTables: string[] = [];
    const add = (into: string[], title: string, body: string): void => {
        into.push(`#### ${title}\n\n${body}`);
        say(`\n#### ${title}\n\n${body}\n`);
    };
    const needsProbe = ['targets', 'calls', 'cheap', 'big', 'ceiling', 'engine', 'floor'].some((s) => sections.has(s as Section));
    const probeZip = needsProbe ? await buildProbeZip(say) : '';

    if (sections.has('targets')) {
        const floorMs = (r: TargetRow): number => r.floorCallsMs + (r.uploadBuffer.uploadMs ?? NaN);
        // --target-repeat N: the whole section N times; each row is the run whose end to end ÷ floor is
        // the median of the N, so the figures of one row come from one run.
        const repeats = Number(flags.get('target-repeat') ?? 3);
        const runs: TargetRow[][] = [];
        for (let round = 0; round < repeats; round++) {
            say(`targets: round ${round + 1} of ${repeats}`);
            runs.push(await measureTargets(zip, probeZip, limits, widths));
        }
        const rows = runs[0].map((_, i) =>
            medianBy(
                runs.map((run) => run[i]),
                (r) => r.app.totalMs / floorMs(r),
            ),
        );
        // The floor of any app that keeps its chunks in app persistence: each chunk crosses the runtime once more to be kept.
        const storageFloorMs = (r: TargetRow): number => r.storeCallsMs + (r.uploadBuffer.uploadMs ?? NaN);
        const perChunk = (ms: number, r: TargetRow): number => ms / Math.max(1, r.app.chunks - 1);
        const cmd = command(`--only targets --target-sizes ${flags.get('target-sizes') ?? '1m,10m,16m'} --target-repeat ${repeats}`);
        add(
            ratioTables,
            `Against the floor (${cmd})`,
            table(
                [
                    'file',
                    'in flight',
                    'end to end ÷ floor (target ≤ 1.15)',
                    'middle chunk ÷ do-nothing call, same body (target ≤ 1.3)',
                    'end to end ÷ storage floor',
                    'middle chunk ÷ one stored chunk, same body',
                    'storage floor ÷ floor: where any app keeping chunks in app persistence starts',
                    'one stored chunk ÷ do-nothing call, same body',
                    'end to end ÷ floor in CPU time, host + Deno',
                ],
                rows.map((r) => [
                    fmtSize(r.size),
                    `${r.width}`,
                    r.app.outcome === 'stored' ? ratio(r.app.totalMs, floorMs(r)) : `${r.app.outcome}: ${r.app.detail}`,
                    r.app.chunks > 1 ? ratio(perChunk(r.app.chunksMs, r), perChunk(r.floorChunksMs, r)) : '–',
                    r.app.outcome === 'stored' ? ratio(r.app.totalMs, storageFloorMs(r)) : '–',
                    r.app.chunks > 1 ? ratio(perChunk(r.app.chunksMs, r), perChunk(r.storeChunksMs, r)) : '–',
                    ratio(storageFloorMs(r), floorMs(r)),
                    r.app.chunks > 1 ? ratio(perChunk(r.storeChunksMs, r), perChunk(r.floorChunksMs, r)) : '–',
                    r.app.outcome === 'stored' ? ratio(r.app.cpu.hostMs + r.app.cpu.denoMs, r.floorCpuMs) : '–',
                ]),
            ),
        );
        add(
            absoluteTables,
            `End to end and its floor (${cmd})`,
            table(
                [
                    'file',
                    'in flight',
                    'chunks',
                    'app end to end',
                    'all chunks but the last',
                    'last chunk + completion',
                    'floor',
                    'storage floor',
                    'do-nothing calls, same bodies',
                    'one uploadBuffer (as the app calls it)',
                    'per middle chunk',
                    'per do-nothing call',
                    'per stored-chunk call',
                    'CPU host + Deno, app / floor',
                    'peak RSS host / Deno MiB, app',
                    'peak RSS host / Deno MiB, uploadBuffer',
                ],
                rows.map((r) => [
                    fmtSize(r.size),
                    `${r.width}`,
                    `${r.app.chunks}`,
                    r.app.outcome === 'stored' ? fmtS(r.app.totalMs) : `${r.app.outcome}: ${r.app.detail}`,
                    fmtS(r.app.chunksMs),
                    fmtS(r.app.lastMs),
                    fmtS(floorMs(r)),
                    fmtS(storageFloorMs(r)),
                    fmtS(r.floorCallsMs),
                    r.uploadBuffer.uploadMs !== undefined ? fmtS(r.uploadBuffer.uploadMs) : `${r.uploadBuffer.outcome}: ${r.uploadBuffer.detail}`,
                    fmtMs(perChunk(r.app.chunksMs, r)),
                    fmtMs(perChunk(r.floorChunksMs, r)),
                    fmtMs(perChunk(r.storeChunksMs, r)),
                    `${fmtS(r.app.cpu.hostMs + r.app.cpu.denoMs)} / ${fmtS(r.floorCpuMs)}`,
                    mem(r.app.peaks).join(' / '),
                    mem(r.uploadPeaks).join(' / '),
                ]),
            ),
        );
    }

    if (sections.has('big')) {
        const size = parseSize(flags.get('big-size') ?? '100m');
        const width = Math.max(1, Math.min(parallel, limits.maxParallelChunks));
        say(`big: app end to end ${fmtSize(size)} × ${width}…`);
        const app = await withHost(
            zip,
            async (h) => {
                await raiseSizeSettings(h.info, size);
                return uploadResumable(h.info, randomBytes(size), width, { chunkSizeBytes: limits.chunkSizeBytes });
            },
            hostOptions(),
        );
        say(`big: one uploadBuffer of ${fmtSize(size)}…`);
        const probe = await withHost(probeZip, async (h) => probeUploadBuffer(h, size, watchAfterTimeoutS, { cheapToJson: true }), hostOptions());
        const cmd = command(`--only big --big-size ${flags.get('big-size') ?? '100m'}`);
        add(
            ratioTables,
            `${fmtSize(size)}, engine-safe limit raised for the bench only (${cmd})`,
            table(
                ['measure', 'result', 'target'],
                [
                    [
                        `end to end, ${width} ${width === 1 ? 'chunk' : 'chunks'} in flight`,
                        app.outcome === 'stored'
                            ? `${fmtS(app.totalMs)}: chunks ${fmtS(app.chunksMs)} (${fmtMs(app.chunksMs / Math.max(1, app.chunks - 1))} each), last chunk + completion ${fmtS(app.lastMs)}`
                            : `${app.outcome}: ${app.detail}`,
                        size === 100 * MIB ? '≤ 25 s with the engine fix' : '–',
                    ],
                    [
                        'one uploadBuffer alone',
                        probe.uploadMs !== undefined ? fmtS(probe.uploadMs) : `${probe.outcome}: ${probe.detail}`,
                        size === 100 * MIB ? '< 5 s with the engine fix' : '–',
                    ],
                    ['peak RSS host / Deno MiB, end to end', mem(app.peaks).join(' / '), '–'],
                    ['peak RSS host / Deno MiB, uploadBuffer alone', mem(probe.peaks).join(' / '), '–'],
                ],
            ),
        );
    }

    if (sections.has('together')) {
        const size = parseSize(flags.get('together-size') ?? '16m');
        const visitors = Number(flags.get('visitors') ?? 4);
        const width = Math.max(1, Math.min(parallel, limits.maxParallelChunks));
        const before = flags.get('together-before');
        const caps = (flags.get('together-caps') ?? '2,100').split(',').map(Number);
        const thisBuild = flags.has('app-zip') ? path.basename(zip) : 'this build';
        const builds: Array<{ label: string; zip: string; cap?: number }> = [
            ...(before ? [{ label: `as at ${before}`, zip: packageAtRef(before) }] : []),
            ...caps.map((cap) => ({ label: `${thisBuild}, ${cap} completion${cap === 1 ? '' : 's'} at once per server`, zip, cap })),
        ];
        const rows: string[][] = [];
        for (const build of builds) {
            say(`together: ${visitors} visitors completing ${fmtSize(size)} at once (${build.label})…`);
            const r = await withHost(
                build.zip,
                async (h) => {
                    if (build.cap !== undefined) await setAppSettings(h.info, { [APP_SETTING_IDS.maxConcurrentCompletions]: build.cap });
                    const people = [{ token: h.info.visitorToken, rid: h.info.rid }];
                    while (people.length < visitors) people.push(await openVisitor(h.info));
                    let arrived = 0;
                    let release: () => void = () => undefined;
                    const allThere = new Promise<void>((resolve) => (release = resolve));
                    const barrier = async (): Promise<void> => {
                        if (++arrived === visitors) release();
                        await allThere;
                    };
                    const results = await Promise.all(
                        people.map((visitor) =>
                            uploadResumable(h.info, randomBytes(size), width, {
                                visitor,
                                beforeLast: barrier,
                                chunkSizeBytes: limits.chunkSizeBytes,
                            }),
                        ),
                    );
                    return { results };
                },
                hostOptions(),
            );
            const stored = r.results.filter((x) => x.outcome === 'stored');
            const lastMs = r.results.map((x) => x.lastMs).sort((a, b) => a - b);
            rows.push([
                build.label,
                ...mem(r.peaks),
                `${stored.length} of ${visitors}${stored.length < visitors ? ` (${r.results.find((x) => x.outcome !== 'stored')?.detail})` : ''}`,
                `${fmtS(lastMs[0])} – ${fmtS(lastMs[lastMs.length - 1])}`,
            ]);
        }
        const beforeFlag = `${before ? ` --together-before ${before}` : ''} --together-caps ${caps.join(',')}`;
        add(
            ratioTables,
            `${visitors} visitors completing ${fmtSize(size)} at the same moment (${command(`--only together --visitors ${visitors} --together-size ${flags.get('together-size') ?? '16m'}${beforeFlag}`)})`,
            table(['app', 'peak RSS host MiB', 'peak RSS Deno MiB', 'stored', 'last chunk + completion, fastest – slowest'], rows),
        );
    }

    if (sections.has('calls')) {
        const { rows, profile } = await measureCalls(zip, probeZip, limits.chunkSizeBytes, widths);
        const cmd = command(`--only calls --calls ${flags.get('calls') ?? 200}${profile ? ' --call-profile' : ''}`);
        add(
            absoluteTables,
            `One call: doing nothing, and keeping a chunk (${cmd})`,
            `${table(
                [
                    'request',
                    'in flight',
                    'app endpoint',
                    'bare Express + json()',
                    '÷ bare Express',
                    '÷ do-nothing, same body',
                    'CPU per call: host (Node)',
                    'CPU per call: Deno child',
                ],
                rows.map((r) => [
                    r.request,
                    `${r.width}`,
                    fmtMs(r.appMs),
                    r.expressMs !== undefined ? fmtMs(r.expressMs) : '–',
                    r.expressMs !== undefined ? ratio(r.appMs, r.expressMs) : '–',
                    r.noopMs !== undefined ? ratio(r.appMs, r.noopMs) : '–',
                    r.width === 1 ? fmtMs(r.hostCpuMs) : '–',
                    r.width === 1 ? fmtMs(r.denoCpuMs) : '–',
                ]),
            )}${profile ? `\n\n${profile}` : ''}`,
        );
    }

    if (sections.has('cheap')) {
        const size = parseSize(flags.get('cheap-size') ?? '16m');
        const repeat = Number(flags.get('repeat') ?? 1);
        const runs = new Map<boolean, Array<ProbeResult & Cpu & { peaks: Peaks }>>([
            [false, []],
            [true, []],
        ]);
        for (let round = 0; round < repeat; round++) {
            for (const cheapToJson of [false, true]) {
                say(`cheap: uploadBuffer ${fmtSize(size)} ${cheapToJson ? 'withCheapToJson' : 'plain Buffer'} (round ${round + 1} of ${repeat})…`);
                const r = await withHost(
                    probeZip,
                    async (h) => withCpu(h.info, () => probeUploadBuffer(h, size, watchAfterTimeoutS, { cheapToJson })),
                    hostOptions(),
                );
                runs.get(cheapToJson)!.push(r);
            }
        }
        const rows = [...runs].map(([cheapToJson, rs]) => {
            const stored = rs.filter((r) => r.uploadMs !== undefined);
            const times = [
                stored.length ? rangeOf(stored, (r) => r.uploadMs!, fmtS) : '',
                ...rs.filter((r) => r.uploadMs === undefined).map((r) => r.outcome),
            ];
            return [
                cheapToJson ? 'withCheapToJson(bytes), as the app does now' : 'a plain Buffer, as the app did before',
                times.filter(Boolean).join('; '),
                rangeOf(rs, (r) => r.cpu.hostMs, fmtS),
                rangeOf(rs, (r) => r.cpu.denoMs, fmtS),
                ...peakRanges(rs),
            ];
        });
        add(
            absoluteTables,
            `One uploadBuffer of ${fmtSize(size)}: the Buffer the app passes (${command(`--only cheap --cheap-size ${flags.get('cheap-size') ?? '16m'} --repeat ${repeat}`)})`,
            table(['passed to uploadBuffer', 'time in uploadBuffer', 'CPU host', 'CPU Deno', 'peak RSS host MiB', 'peak RSS Deno MiB'], rows),
        );
    }

    if (sections.has('engine')) {
        const variants = (flags.get('engine-variants') ?? 'stock,h1,h2,h3,all').split(',');
        const sizes = sizesOf('engine-sizes', '10m,25m,50m,100m');
        const repeat = Number(flags.get('repeat') ?? 1);
        const capMs = Number(flags.get('engine-cap') ?? 240) * 1000;
        const cell = new Map<string, Array<ProbeResult & Cpu & { peaks: Peaks }>>();
        for (let round = 0; round < repeat; round++) {
            for (const variant of variants) {
                for (const size of sizes) {
                    say(`engine: ${variant} ${fmtSize(size)} (round ${round + 1} of ${repeat})…`);
                    const args = variant === 'stock' ? [] : [`--engine-fix=${variant === 'all' ? 'all' : variant.replace(/\+/g, ',')}`];
                    const r = await withHost(probeZip, async (h) => withCpu(h.info, () => probeUploadBuffer(h, size, 0, { capMs })), {
                        args,
                        env: { APPS_ENGINE_RUNTIME_TIMEOUT: String(capMs + 60_000) },
                    });
                    const key = `${variant} ${size}`;
                    cell.set(key, [...(cell.get(key) ?? []), r]);
                }
            }
        }
        const describe = (runs: Array<ProbeResult & Cpu & { peaks: Peaks }>): string[] => {
            const stored = runs.filter((r) => r.outcome === 'stored');
            const failed = runs.filter((r) => r.outcome !== 'stored');
            const time = [
                stored.length ? rangeOf(stored, (r) => r.uploadMs!, fmtS) : '',
                ...failed.map((r) =>
                    r.outcome === 'runtime restarted' ? `runtime restarted at ${fmtS(r.wallMs)}` : `${r.outcome} (${fmtS(r.wallMs)})`,
                ),
            ].filter(Boolean);
            const cpu = stored.length ? `${rangeOf(stored, (r) => r.cpu.hostMs, fmtS)} / ${rangeOf(stored, (r) => r.cpu.denoMs, fmtS)}` : '–';
            return [time.join('; '), cpu, ...peakRanges(runs)];
        };
        add(
            absoluteTables,
            `One uploadBuffer on each engine variant, runtime timeout raised (${`\`npm run bench -- --only engine --engine-variants ${variants.join(',')} --engine-sizes ${flags.get('engine-sizes') ?? '10m,25m,50m,100m'} --repeat ${repeat}\``})`,
            table(
                ['variant', 'file', 'time in uploadBuffer', 'CPU host / Deno, stored runs', 'peak RSS host MiB', 'peak RSS Deno MiB'],
                variants.flatMap((v) => sizes.map((s) => [v, fmtSize(s), ...describe(cell.get(`${v} ${s}`)!)])),
            ),
        );
    }

    if (sections.has('ceiling')) {
        const rows: string[][] = [];
        let largest: { size: number; ms: number } | undefined;
        for (const size of sizesOf('probe-sizes', '1m,5m,10m,20m,25m,30m,40m,50m')) {
            say(`ceiling: uploadBuffer ${fmtSize(size)}…`);
            const r = await withHost(probeZip, async (h) => probeUploadBuffer(h, size, watchAfterTimeoutS, { cheapToJson: true }), hostOptions());
            if (r.outcome === 'stored' && r.uploadMs !== undefined) largest = { size, ms: r.uploadMs };
            rows.push([
                fmtSize(size),
                r.outcome === 'failed' ? `failed: ${r.detail}` : [r.outcome, r.after].filter(Boolean).join('; '),
                r.uploadMs !== undefined ? fmtS(r.uploadMs) : '–',
                fmtS(r.wallMs),
                ...mem(r.peaks),
            ]);
        }
        const verdict = largest
            ? `Largest file stored in one uploadBuffer: ${fmtSize(largest.size)} in ${fmtS(largest.ms)} (${Math.round((100 * largest.ms) / timeoutMs)} % of the ${timeoutMs / 1000} s timeout).`
            : 'No size was stored in one uploadBuffer.';
        add(
            absoluteTables,
            `One uploadBuffer as the app calls it (withCheapToJson), growing (${command(`--only ceiling --probe-sizes ${flags.get('probe-sizes') ?? '1m,5m,10m,20m,25m,30m,40m,50m'}`)})`,
            `${table(['file', 'result', 'in uploadBuffer', 'HTTP call', 'peak RSS host MiB', 'peak RSS Deno MiB'], rows)}\n\n${verdict}`,
        );
    }

    const legacySizes = sizesOf('sizes', '64k,1m,10m,100m');
    if (sections.has('resumable')) {
        const rows: string[][] = [];
        for (const size of legacySizes) {
            const bytes = randomBytes(size);
            for (const width of widths) {
                say(`resumable ${fmtSize(size)} × ${width}…`);
                const r = await withHost(
                    zip,
                    async (h) => uploadResumable(h.info, bytes, width, { chunkSizeBytes: limits.chunkSizeBytes }),
                    hostOptions(),
                );
                if (r.outcome === 'refused') {
                    rows.push([
                        fmtSize(size),
                        '–',
                        `${r.chunks}`,
                        `refused at session creation: ${r.detail}`,
                        fmtS(r.totalMs),
                        '–',
                        '–',
                        '–',
                        ...mem(r.peaks),
                    ]);
                    break;
                }
                const result = r.outcome === 'stored' ? 'stored' : `**${r.outcome}**: ${r.detail}`;
                rows.push([
                    fmtSize(size),
                    `${width}`,
                    `${r.chunks}`,
                    result,
                    fmtS(r.totalMs),
                    rate(size, r.totalMs),
                    fmtS(r.chunksMs),
                    fmtS(r.lastMs),
                    ...mem(r.peaks),
                ]);
            }
        }
        add(
            absoluteTables,
            `Resumable upload through the app (${command(`--only resumable --sizes ${flags.get('sizes') ?? '64k,1m,10m,100m'}`)})`,
            table(
                [
                    'file',
                    'parallel',
                    'chunks',
                    'result',
                    'total',
                    'MiB/s',
                    'all chunks but the last',
                    'last chunk + completion',
                    'peak RSS host MiB',
                    'peak RSS Deno MiB',
                ],
                rows,
            ),
        );
    }

    if (sections.has('floor')) {
        const rows: string[][] = [];
        for (const size of legacySizes) {
            const bytes = randomBytes(size);
            say(`floor ${fmtSize(size)}…`);
            const express = await Promise.all(widths.map(async (w) => (await expressFloor(bytes, limits.chunkSizeBytes, w)).ms));
            const chunks = Math.ceil(size / limits.chunkSizeBytes);
            const expressCells = express.map((ms) => `${fmtS(ms)} (${rate(size, ms)} MiB/s)`).join(' / ');
            if (size > limits.maxFileSizeBytes) {
                rows.push([fmtSize(size), `${chunks}`, expressCells, 'above the app limit: see the ceiling table', '–', '–', '–', '–']);
                continue;
            }
            const r = await withHost(
                probeZip,
                async (h) => {
                    const probe = await probeUploadBuffer(h, size, watchAfterTimeoutS);
                    const peaks = h.peaks();
                    const readback = await probeReadback(h.info, chunks, limits.chunkSizeBytes);
                    return { probe, uploadPeaks: peaks, readback };
                },
                hostOptions(),
            );
            const upload = r.probe.uploadMs !== undefined ? fmtS(r.probe.uploadMs) : `${r.probe.outcome} (${fmtS(r.probe.wallMs)})`;
            rows.push([
                fmtSize(size),
                `${chunks}`,
                expressCells,
                upload,
                ...mem(r.uploadPeaks),
                fmtS(r.readback.oneByOneMs),
                fmtS(r.readback.allAtOnceMs),
            ]);
        }
        add(
            absoluteTables,
            `Floor, bare Express (${command(`--only floor --sizes ${flags.get('sizes') ?? '64k,1m,10m,100m'}`)})`,
            table(
                [
                    'file',
                    'requests',
                    `bare Express + json(), ${widths.join(' / ')} at a time`,
                    'one uploadBuffer (in app)',
                    'peak RSS host MiB',
                    'peak RSS Deno MiB',
                    'read chunks back one by one',
                    'all in one read',
                ],
                rows,
            ),
        );
    }

    const doc = [
        header.join('\n\n'),
        ...(ratioTables.length ? ['### Ratios and targets', ...ratioTables] : []),
        ...(absoluteTables.length ? ['### Absolute figures', ...absoluteTables] : []),
    ].join('\n\n');
    process.stdout.write(`${doc}\n`);
    say(`\nbench done in ${Math.round((Date.now() - started) / 1000)} s`);
    const target = flags.get('write');
    if (target) {
        const file = path.resolve(repoRoot, target);
        const text = fs.readFileSync(file, 'utf8');
        const marker = flags.get('marker') ?? 'bench'; // a document may hold the tables of several runs
        const [start, end] = [`<!-- ${marker}:start -->`, `<!-- ${marker}:end -->`];
        if (!text.includes(start) || !text.includes(end)) throw new Error(`${target} lacks the ${start} … ${end} markers`);
        fs.writeFileSync(file, `${text.slice(0, text.indexOf(start) + start.length)}\n${doc}\n${text.slice(text.indexOf(end))}`);
        // The tables as `npm run lint` wants them (Prettier aligns Markdown tables).
        execFileSync(process.execPath, [path.join(repoRoot, 'node_modules', 'prettier', 'bin', 'prettier.cjs'), '--write', file], {
            stdio: 'ignore',
        });
        say(`tables written to ${target}`);
    }
}

main().catch((e) => {
    process.stderr.write(`bench failed: ${e?.stack ?? e}\n`);
    process.exit(1);
});
