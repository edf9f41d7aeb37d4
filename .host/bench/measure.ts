// The pieces `npm run bench` is made of: a host child process with its memory sampled, a resumable
// upload spoken over HTTP as a widget would, the bare Express floor, and the probe app built at bench time.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { AppsCompiler } from '@rocket.chat/apps-compiler';
// The packager compiles apps with the project's TypeScript, not the compiler's bundled 2.9.
import typescript from 'typescript';
import { APP_SETTING_IDS } from '../../lib/settings';

export const repoRoot = path.resolve(__dirname, '..', '..');
export const MIB = 1024 * 1024;
const SAMPLE_MS = 50;

export interface HostInfo {
    url: string;
    appId: string;
    visitorToken: string;
    rid: string;
    adminUser: string;
    adminPassword: string;
    pid: number;
    denoPid: number;
}

/** How a host child is started: extra flags for main.ts (`--engine-fix=…`), for node (`--cpu-prof`), and environment. */
export interface HostOptions {
    args?: string[];
    nodeArgs?: string[];
    env?: Record<string, string>;
}

/** Peak RSS (MiB) of the host and its Deno child: the larger of the 50 ms samples and the kernel's VmHWM. */
export interface Peaks {
    hostMiB: number;
    denoMiB: number;
}

function procStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
    try {
        return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
        return 0; // the process is gone
    }
}

/** Samples VmRSS of each pid every 50 ms; `peaksMiB()` adds VmHWM (peak since the process started, or since `reset`). */
class MemorySampler {
    private readonly maxKb = new Map<number, number>();
    private readonly timer: NodeJS.Timeout;

    constructor(private readonly pids: number[]) {
        this.timer = setInterval(() => this.sample('VmRSS'), SAMPLE_MS);
    }

    /** Samples `pid` too from now on (the Deno child of an app installed beside the host's). */
    watch(pid: number): void {
        if (!this.pids.includes(pid)) this.pids.push(pid);
    }

    peaksMiB(pids: number[]): number[] {
        this.sample('VmHWM');
        return pids.map((pid) => Math.round((this.maxKb.get(pid) ?? 0) / 1024));
    }

    /** Forgets the peaks so far, and has the kernel reset each VmHWM (`clear_refs` 5) to the current RSS. */
    reset(): void {
        this.maxKb.clear();
        for (const pid of this.pids) {
            try {
                fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
            } catch {
                // a process that is gone, or a kernel without it: the 50 ms samples still hold
            }
        }
    }

    stop(): void {
        clearInterval(this.timer);
    }

    private sample(field: 'VmRSS' | 'VmHWM'): void {
        for (const pid of this.pids) this.maxKb.set(pid, Math.max(this.maxKb.get(pid) ?? 0, procStatusKb(pid, field)));
    }
}

export interface RunningHost {
    info: HostInfo;
    idle: Peaks;
    /**
     * Peak RSS of the host and of one Deno child (the host's app's, unless another is named) since
     * the host started or since `resetPeaks`.
     */
    peaks(denoPid?: number): Peaks;
    resetPeaks(): void;
    /** Samples another process too: the Deno child of an app installed beside the host's. */
    watch(pid: number): void;
    /** Undefined while the host runs; else how it ended and the last line of its stderr naming an error. */
    death(): string | undefined;
    stop(): Promise<void>;
}

/** Starts `.host/src/main.ts` as a child (`node --import tsx`, so the child is the host) with `zip` installed. */
export async function startHostProcess(zip: string, options: HostOptions = {}): Promise<RunningHost> {
    // BENCH_VERBOSE=1: the host's log (app log entries included) goes to our stderr
    const verbose = !!process.env.BENCH_VERBOSE;
    // The store on disk, not in memory: the host's RSS is then the server process's own, as beside a
    // MongoDB of its own, not the chunks and files at rest (8 visitors' 16 MiB: 300 MB in memory).
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'livechat-upload-bench-data-'));
    const args = [
        ...(options.nodeArgs ?? []),
        '--import',
        'tsx',
        path.join(repoRoot, '.host/src/main.ts'),
        '--data',
        dataDir,
        '--json',
        '--port',
        '0',
        '--no-package',
        '--zip',
        zip,
        ...(verbose ? ['--verbose'] : []),
        ...(process.env.BENCH_ENGINE ? ['--engine', process.env.BENCH_ENGINE] : []), // an Apps-Engine from .host/engines/
        ...(options.args ?? []),
    ];
    const child: ChildProcess = spawn(process.execPath, args, {
        cwd: repoRoot,
        env: { ...process.env, ...options.env },
        stdio: ['ignore', 'pipe', verbose ? 'inherit' : 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-4000)));
    let death: string | undefined;
    const exited = new Promise<void>((resolve) =>
        child.once('exit', (code, signal) => {
            const why = stderr
                .split('\n')
                .filter((l) => /FATAL|heap|Error/.test(l))
                .pop()
                ?.trim();
            death = `host exited (${signal ?? `code ${code}`})${why ? `: ${why.slice(0, 100)}` : ''}`;
            fs.rmSync(dataDir, { recursive: true, force: true });
            resolve();
        }),
    );
    const info = await new Promise<HostInfo>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d: Buffer) => {
            out += d.toString();
            if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))));
        });
        void exited.then(() => reject(new Error(`the host exited before it was ready:\n${stderr}`)));
    });
    const idle = { hostMiB: Math.round(procStatusKb(info.pid, 'VmRSS') / 1024), denoMiB: Math.round(procStatusKb(info.denoPid, 'VmRSS') / 1024) };
    const sampler = new MemorySampler([info.pid, info.denoPid]);
    return {
        info,
        idle,
        peaks: (denoPid = info.denoPid) => {
            const [hostMiB, denoMiB] = sampler.peaksMiB([info.pid, denoPid]);
            return { hostMiB, denoMiB };
        },
        resetPeaks: () => sampler.reset(),
        watch: (pid) => sampler.watch(pid),
        death: () => death,
        stop: async () => {
            sampler.stop();
            child.kill('SIGTERM');
            const killed = setTimeout(() => child.kill('SIGKILL'), 10_000);
            await exited;
            clearTimeout(killed);
        },
    };
}

/** Starts a host with `zip`, runs `fn`, stops the host whatever happens; returns fn's result and the peaks. */
export async function withHost<T>(
    zip: string,
    fn: (host: RunningHost) => Promise<T>,
    options?: HostOptions,
): Promise<T & { peaks: Peaks; idle: Peaks }> {
    const host = await startHostProcess(zip, options);
    try {
        const result = await fn(host);
        return { ...result, peaks: host.peaks(), idle: host.idle };
    } finally {
        await host.stop();
    }
}

type Json = Record<string, unknown>;
// Node 20's global fetch; the @types/node 16 the app compiler needs does not declare it.
declare const fetch: (
    url: string,
    init: { method: string; headers: Record<string, string>; body?: string | FormData; signal?: AbortSignal },
) => Promise<{ status: number; text(): Promise<string> }>;
declare class FormData {
    append(name: string, value: Blob, fileName: string): void;
}
declare class Blob {
    constructor(parts: Buffer[]);
}

/** One HTTP request with a JSON body; the answer's status and body (JSON, or `{text}`). */
export async function call(
    url: string,
    method: string,
    body?: unknown,
    headers: Record<string, string> = {},
    signal?: AbortSignal,
): Promise<{ status: number; body: Json }> {
    const res = await fetch(url, {
        method,
        headers: { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        signal,
    });
    const text = await res.text();
    let parsed: Json;
    try {
        parsed = JSON.parse(text);
    } catch {
        parsed = { text };
    }
    return { status: res.status, body: parsed };
}

const sha256Hex = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const since = (t: number): number => performance.now() - t;

export interface ResumableResult {
    outcome: 'stored' | 'refused' | 'failed';
    detail: string;
    chunks: number;
    totalMs: number;
    /** Every chunk but the last (which completes the file). */
    chunksMs: number;
    /** The last chunk's request: one chunk stored, then the whole file read back, checked, uploaded, posted. */
    lastMs: number;
}

/** A livechat visitor and their open room. */
export interface Visitor {
    token: string;
    rid: string;
}

/** One chunk's base64 data and sha256 (the last one without, as the client library sends it), computed ahead. */
export interface PreparedChunk {
    offset: number;
    data: string;
    sha256?: string;
}

/** Chunk `index` of `bytes`, encoded as the client library sends it. */
function prepareChunk(bytes: Buffer, index: number, chunkSizeBytes: number): PreparedChunk {
    const data = bytes.subarray(index * chunkSizeBytes, (index + 1) * chunkSizeBytes);
    const last = (index + 1) * chunkSizeBytes >= bytes.length;
    return { offset: index * chunkSizeBytes, data: data.toString('base64'), ...(last ? {} : { sha256: sha256Hex(data) }) };
}

/** The chunks of `bytes`, encoded before any clock starts: the client's own work is not the server's. */
export function prepareChunks(bytes: Buffer, chunkSizeBytes: number): PreparedChunk[] {
    return Array.from({ length: Math.ceil(bytes.length / chunkSizeBytes) }, (_, index) => prepareChunk(bytes, index, chunkSizeBytes));
}

/** The JSON body of a prepared chunk, as `JSON.stringify` writes it, joined without copying the data. */
export function chunkJson(uploadId: string, chunk: PreparedChunk): string {
    const sha = chunk.sha256 === undefined ? '' : `,"sha256":"${chunk.sha256}"`;
    return `{"uploadId":"${uploadId}","offset":${chunk.offset},"data":"${chunk.data}"${sha}}`;
}

/** The JSON body of chunk `index` (base64 data and its sha256; the last one without). */
export function chunkBody(uploadId: string, bytes: Buffer, index: number, chunkSizeBytes: number): string {
    return chunkJson(uploadId, prepareChunk(bytes, index, chunkSizeBytes));
}

/** The body of `POST uploads` for `bytes`, as the client library sends it. */
export function createBody(rid: string, bytes: Buffer): string {
    return JSON.stringify({ rid, name: 'bench.bin', size: bytes.length, type: 'application/octet-stream', sha256: sha256Hex(bytes) });
}

/**
 * Uploads `bytes` through the app's resumable protocol as a widget would (docs/API.md): `GET limits`,
 * `POST uploads` with the file's type and sha256 (as the client library sends them), `PATCH uploads` with base64 chunks of `chunkSizeBytes` and
 * their sha256, `parallel` at a time within the window the server allows. The last chunk is sent
 * alone once every other chunk is stored (and `beforeLast` resolved), so its time is the completion's.
 */
export async function uploadResumable(
    info: HostInfo,
    bytes: Buffer,
    parallel: number,
    options: { visitor?: Visitor; beforeLast?: () => Promise<void>; chunkSizeBytes?: number } = {},
): Promise<ResumableResult> {
    const visitor = options.visitor ?? { token: info.visitorToken, rid: info.rid };
    const base = `${info.url}/api/apps/public/${info.appId}`;
    const headers = { 'x-visitor-token': visitor.token };
    // With the server's chunk size known, the chunks are encoded before the clock starts, as the floor's are.
    let prepared = options.chunkSizeBytes ? prepareChunks(bytes, options.chunkSizeBytes) : undefined;
    const started = performance.now();
    const limits = (await call(`${base}/limits`, 'GET', undefined, headers)).body;
    const chunkSizeBytes = Number(limits.chunkSizeBytes);
    if (options.chunkSizeBytes && options.chunkSizeBytes !== chunkSizeBytes) {
        throw new Error(`chunks prepared at ${options.chunkSizeBytes} bytes, the server asks for ${chunkSizeBytes}`);
    }
    prepared ??= prepareChunks(bytes, chunkSizeBytes);
    const chunks = prepared.length;
    const result = (outcome: ResumableResult['outcome'], detail: string, chunksMs = 0, lastMs = 0): ResumableResult => ({
        outcome,
        detail,
        chunks,
        totalMs: since(started),
        chunksMs,
        lastMs,
    });

    const created = await call(`${base}/uploads`, 'POST', createBody(visitor.rid, bytes), headers);
    if (created.status !== 201) {
        const { error, sizeAllowed } = created.body;
        return result(
            error === 'error-size-not-allowed' ? 'refused' : 'failed',
            `${created.status} ${error ?? created.body.text}${sizeAllowed ? ` (sizeAllowed ${sizeAllowed})` : ''}`,
        );
    }
    const uploadId = String(created.body.uploadId);
    const width = Math.max(1, Math.min(parallel, Number(created.body.maxParallelChunks)));
    const sendChunk = async (index: number): Promise<{ status: number; body: Json }> => {
        const answer = await call(`${base}/uploads`, 'PATCH', chunkJson(uploadId, prepared[index]), headers);
        if (answer.status !== 200) throw new Error(`chunk ${index}: ${answer.status} ${answer.body.error ?? answer.body.text}`);
        return answer;
    };

    const chunksStarted = performance.now();
    try {
        // a sliding window: chunk i is sent only while i < (first unanswered chunk) + width
        const answered = new Set<number>();
        let next = 0;
        let lowest = 0;
        const inFlight = new Map<number, Promise<void>>();
        while (next < chunks - 1 || inFlight.size > 0) {
            while (next < chunks - 1 && inFlight.size < width && next < lowest + width) {
                const index = next++;
                const sending = sendChunk(index)
                    .then(() => void answered.add(index))
                    .finally(() => inFlight.delete(index));
                sending.catch(() => undefined); // the race below reports the first failure
                inFlight.set(index, sending);
            }
            await Promise.race(inFlight.values());
            while (answered.has(lowest)) lowest++;
        }
    } catch (e) {
        return result('failed', (e as Error).message, since(chunksStarted));
    }
    const chunksMs = since(chunksStarted);
    await options.beforeLast?.();
    const lastStarted = performance.now();
    const last = await call(`${base}/uploads`, 'PATCH', chunkJson(uploadId, prepared[chunks - 1]), headers).catch((e: Error) => ({
        status: 0,
        body: { text: e.message } as Json,
    }));
    const lastMs = since(lastStarted);
    if (last.status === 200 && last.body.complete === true) return result('stored', '', chunksMs, lastMs);
    return result(
        'failed',
        `last chunk: ${last.status} ${String(last.body.error ?? last.body.text ?? JSON.stringify(last.body)).slice(0, 120)}`,
        chunksMs,
        lastMs,
    );
}

/** Sends `bodies` (JSON strings) to `url` with `method`, `parallel` at a time, in order; the time they took. Throws on a non-200. */
export async function sendBodies(
    url: string,
    method: string,
    bodies: string[],
    parallel: number,
    headers: Record<string, string> = {},
): Promise<number> {
    let next = 0;
    const started = performance.now();
    const worker = async (): Promise<void> => {
        for (let index = next++; index < bodies.length; index = next++) {
            const answer = await call(url, method, bodies[index], headers);
            if (answer.status !== 200) throw new Error(`${method} ${url} answered ${answer.status} ${answer.body.text ?? ''}`.slice(0, 200));
        }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    return since(started);
}

/** A bare `express.json()` route in this process answering every method at once; its URL and a way to close it. */
export async function startBareExpress(): Promise<{ url: string; close(): Promise<void> }> {
    const app = express();
    app.use(express.json());
    app.all('/noop', (req, res) => void res.json({ success: true, offset: req.body?.offset }));
    const server = await new Promise<ReturnType<typeof app.listen>>((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/noop`,
        close: () => new Promise((resolve) => server.close(() => resolve())),
    };
}

/** The same requests (same JSON bodies as the chunks) to a bare `express.json()` route in this process. */
export async function expressFloor(bytes: Buffer, chunkSizeBytes: number, parallel: number): Promise<{ ms: number }> {
    const express = await startBareExpress();
    const uploadId = randomBytes(16).toString('hex');
    const bodies = Array.from({ length: Math.ceil(bytes.length / chunkSizeBytes) }, (_, i) => chunkBody(uploadId, bytes, i, chunkSizeBytes));
    const ms = await sendBodies(express.url, 'PATCH', bodies, parallel);
    await express.close();
    return { ms };
}

/**
 * Compiles an app with the apps-compiler from `files` (path in the app → its text) into a zip in the
 * temp dir, reused while the texts are unchanged. The compiler resolves the engine from
 * <app>/node_modules and rewrites app.json, so it builds in a throwaway copy.
 */
async function compileApp(label: string, files: Map<string, string | Buffer>, say: (s: string) => void): Promise<string> {
    const hash = createHash('sha256');
    for (const [name, text] of [...files].sort(([a], [b]) => a.localeCompare(b))) hash.update(name).update('\0').update(text).update('\0');
    const zip = path.join(os.tmpdir(), `livechat-upload-bench-${label}-${hash.digest('hex').slice(0, 12)}.zip`);
    if (fs.existsSync(zip)) return zip;
    say(`Building the ${label} app (apps-compiler, ~25 s, cached in the temp dir afterwards)…`);
    const buildDir = fs.mkdtempSync(path.join(os.tmpdir(), `livechat-upload-bench-${label}-`));
    try {
        for (const [name, text] of files) {
            fs.mkdirSync(path.dirname(path.join(buildDir, name)), { recursive: true });
            fs.writeFileSync(path.join(buildDir, name), text);
        }
        fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(buildDir, 'node_modules'));
        const compiler = new AppsCompiler({ tool: 'livechat-upload-bench', version: '1', when: new Date() }, typescript as never);
        const result = await compiler.compile(buildDir);
        if (result.diagnostics.length > 0) throw new Error(`the ${label} app does not compile: ${JSON.stringify(result.diagnostics)}`);
        await compiler.outputZip(`${zip}.tmp`);
        fs.renameSync(`${zip}.tmp`, zip);
    } finally {
        fs.rmSync(buildDir, { recursive: true, force: true });
    }
    return zip;
}

/** Builds the probe app (`probe-app/`, with the app's own lib/cheap-json-buffer.ts); reused while its source is unchanged. */
export async function buildProbeZip(say: (s: string) => void): Promise<string> {
    const sourceDir = path.join(__dirname, 'probe-app');
    const files = new Map<string, string>([
        ['app.json', fs.readFileSync(path.join(sourceDir, 'app.json'), 'utf8')],
        ['ProbeApp.ts', fs.readFileSync(path.join(sourceDir, 'ProbeApp.ts'), 'utf8')],
        ['cheap-json-buffer.ts', fs.readFileSync(path.join(repoRoot, 'lib', 'cheap-json-buffer.ts'), 'utf8')],
    ]);
    return compileApp('probe', files, say);
}

async function adminHeaders(info: HostInfo): Promise<Record<string, string>> {
    const login = await call(`${info.url}/api/v1/login`, 'POST', { user: info.adminUser, password: info.adminPassword });
    const data = login.body.data as { authToken: string; userId: string };
    return { 'x-auth-token': data.authToken, 'x-user-id': data.userId };
}

/** Lets files of `bytes` through the server's and the app's size settings, the engine limit included (for the bench only). */
export async function raiseSizeSettings(info: HostInfo, bytes: number): Promise<void> {
    const headers = await adminHeaders(info);
    const server = await call(`${info.url}/api/v1/settings/FileUpload_MaxFileSize`, 'POST', { value: -1 }, headers);
    if (server.status !== 200) throw new Error(`FileUpload_MaxFileSize: ${server.status}`);
    const current = (await call(`${info.url}/api/apps/${info.appId}/settings`, 'GET', undefined, headers)).body.settings as Record<string, Json>;
    const mb = Math.ceil(bytes / MIB) + 1;
    const settings = [APP_SETTING_IDS.maxFileSizeMb, APP_SETTING_IDS.maxStagedMb, APP_SETTING_IDS.engineMaxFileSizeMb].map((id) => ({
        ...current[id],
        value: mb,
    }));
    const app = await call(`${info.url}/api/apps/${info.appId}/settings`, 'POST', { settings }, headers);
    if (app.status !== 200) throw new Error(`app settings: ${app.status} ${JSON.stringify(app.body).slice(0, 200)}`);
}

/** Sets some of the app's settings as the admin UI does (the whole setting object, new value). */
export async function setAppSettings(info: HostInfo, values: Record<string, unknown>): Promise<void> {
    const headers = await adminHeaders(info);
    const current = (await call(`${info.url}/api/apps/${info.appId}/settings`, 'GET', undefined, headers)).body.settings as Record<string, Json>;
    const settings = Object.entries(values).map(([id, value]) => ({ ...current[id], value }));
    const app = await call(`${info.url}/api/apps/${info.appId}/settings`, 'POST', { settings }, headers);
    if (app.status !== 200) throw new Error(`app settings: ${app.status} ${JSON.stringify(app.body).slice(0, 200)}`);
}

/** The Deno child the engine runs for `appId` (its command line names the app after `--subprocess`). */
function denoPidOf(appId: string): number | undefined {
    for (const entry of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const args = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
            if (args[args.indexOf('--subprocess') + 1] === appId) return Number(entry);
        } catch {
            // gone meanwhile
        }
    }
    return undefined;
}

/**
 * Installs another packaged app on the host as an admin does (`POST /api/apps`), and returns the
 * host as that app sees it: its id and its Deno child, which the host's memory sampler watches too.
 */
export async function installBeside(host: RunningHost, zip: string): Promise<HostInfo> {
    const { 'content-type': _json, ...headers } = await adminHeaders(host.info);
    const form = new FormData();
    form.append('app', new Blob([fs.readFileSync(zip)]), 'app.zip');
    const response = await fetch(`${host.info.url}/api/apps`, { method: 'POST', headers, body: form });
    const body = JSON.parse(await response.text()) as { app?: { id?: string } };
    const appId = body.app?.id;
    if (response.status !== 200 || !appId) throw new Error(`installing ${zip}: ${response.status} ${JSON.stringify(body).slice(0, 200)}`);
    const denoPid = denoPidOf(appId);
    if (denoPid === undefined) throw new Error(`no Deno child runs app ${appId} after its install`);
    host.watch(denoPid);
    return { ...host.info, appId, denoPid };
}

/** Registers a visitor and opens their room through Rocket.Chat's livechat REST, as a widget does. */
export async function openVisitor(info: HostInfo): Promise<Visitor> {
    const token = `bench-${randomBytes(12).toString('hex')}`;
    const registered = await call(`${info.url}/api/v1/livechat/visitor`, 'POST', { visitor: { token, name: 'Bench Visitor' } });
    if (registered.status !== 200) throw new Error(`visitor: ${registered.status}`);
    const room = await call(`${info.url}/api/v1/livechat/room?token=${token}`, 'GET');
    const rid = (room.body.room as { _id?: string } | undefined)?._id;
    if (!rid) throw new Error(`no room for the visitor: ${JSON.stringify(room.body).slice(0, 200)}`);
    return { token, rid };
}

export interface ProbeResult {
    outcome: 'stored' | 'timed out' | 'runtime restarted' | 'gave up' | 'failed';
    /** Time inside the app around `uploadBuffer`, when it answered. */
    uploadMs?: number;
    wallMs: number;
    /** After a timeout: whether the file was stored anyway, or the host died, while we watched. */
    after?: string;
    detail: string;
}

const pidAlive = (pid: number): boolean => fs.existsSync(`/proc/${pid}`);

/**
 * One `uploadBuffer` of `sizeBytes` random bytes in the probe app (through `withCheapToJson` when
 * `cheapToJson`). Stops waiting when the app's Deno process dies (the liveness manager restarted it)
 * or after `capMs`; after a runtime timeout, watches for `watchAfterTimeoutS` whether the file lands anyway.
 */
export async function probeUploadBuffer(
    host: RunningHost,
    sizeBytes: number,
    watchAfterTimeoutS: number,
    options: { cheapToJson?: boolean; capMs?: number } = {},
): Promise<ProbeResult> {
    const { info } = host;
    const started = performance.now();
    const abort = new AbortController();
    let stopped: ProbeResult['outcome'] | undefined;
    const watch = setInterval(() => {
        if (!pidAlive(info.denoPid)) stopped = 'runtime restarted';
        else if (options.capMs !== undefined && since(started) > options.capMs) stopped = 'gave up';
        if (stopped) abort.abort();
    }, 100);
    const answer = await call(
        `${info.url}/api/apps/public/${info.appId}/probe`,
        'POST',
        { rid: info.rid, visitorToken: info.visitorToken, sizeBytes, cheapToJson: !!options.cheapToJson },
        {},
        abort.signal,
    )
        .catch(async (e: Error) => {
            await new Promise((resolve) => setTimeout(resolve, 500)); // let the exit be noticed
            return { status: 0, body: { text: host.death() ?? `connection lost (${e.message})` } as Json };
        })
        .finally(() => clearInterval(watch));
    const wallMs = since(started);
    if (stopped === 'runtime restarted')
        return { outcome: stopped, wallMs, detail: `the app's Deno process was replaced ${(wallMs / 1000).toFixed(0)} s after the call began` };
    if (stopped === 'gave up') return { outcome: stopped, wallMs, detail: `no answer within ${Math.round(wallMs / 1000)} s` };
    if (answer.status === 200 && answer.body.size === sizeBytes)
        return { outcome: 'stored', uploadMs: Number(answer.body.uploadMs), wallMs, detail: '' };
    const detail = String(answer.body.text ?? JSON.stringify(answer.body)).slice(0, 160);
    if (!/timed out/.test(detail)) return { outcome: 'failed', wallMs, detail };
    const history = `${info.url}/api/v1/livechat/messages.history/${info.rid}?token=${info.visitorToken}`;
    for (let s = 1; s <= watchAfterTimeoutS; s++) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const messages = ((await call(history, 'GET').catch(() => undefined))?.body.messages ?? []) as Json[];
        if (host.death()) return { outcome: 'timed out', wallMs, detail, after: `then ${host.death()}` };
        if (messages.some((m) => m.file))
            return { outcome: 'timed out', wallMs, detail, after: `stored anyway ${Math.round(wallMs / 1000 + s)} s after the call began` };
    }
    return { outcome: 'timed out', wallMs, detail, after: `nothing stored within ${watchAfterTimeoutS} s after` };
}

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat; NaN once it is gone. */
export function cpuMs(pid: number): number {
    try {
        const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
        return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100)
    } catch {
        return NaN;
    }
}

/**
 * Runs `fn` and adds the CPU time the host and its Deno child spent meanwhile. On a shared machine
 * wall time grows with everyone else's load; CPU time much less, so it is the steadier comparison.
 */
export async function withCpu<T>(info: HostInfo, fn: () => Promise<T>): Promise<T & { cpu: { hostMs: number; denoMs: number } }> {
    const before = [cpuMs(info.pid), cpuMs(info.denoPid)];
    const result = await fn();
    return { ...result, cpu: { hostMs: cpuMs(info.pid) - before[0], denoMs: cpuMs(info.denoPid) - before[1] } };
}

/** The probe's `readback`: chunk records written as the app's SessionStore does, read back one by one and all at once. */
export async function probeReadback(
    info: HostInfo,
    chunks: number,
    chunkBytes: number,
): Promise<{ writeMs: number; oneByOneMs: number; allAtOnceMs: number }> {
    const answer = await call(`${info.url}/api/apps/public/${info.appId}/readback`, 'POST', { chunks, chunkBytes });
    if (answer.status !== 200) throw new Error(`readback: ${answer.status} ${answer.body.text ?? JSON.stringify(answer.body)}`);
    return answer.body as { writeMs: number; oneByOneMs: number; allAtOnceMs: number };
}
