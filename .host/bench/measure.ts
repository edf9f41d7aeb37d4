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

export const repoRoot = path.resolve(__dirname, '..', '..');
export const MIB = 1024 * 1024;
const SAMPLE_MS = 50;

export interface HostInfo {
    url: string;
    appId: string;
    visitorToken: string;
    rid: string;
    pid: number;
    denoPid: number;
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

/** Samples VmRSS of each pid every 50 ms; `peaks()` adds VmHWM (peak since the process started). */
class MemorySampler {
    private readonly maxKb = new Map<number, number>();
    private readonly timer: NodeJS.Timeout;

    constructor(private readonly pids: number[]) {
        this.timer = setInterval(() => this.sample('VmRSS'), SAMPLE_MS);
    }

    peaksMiB(): number[] {
        this.sample('VmHWM');
        return this.pids.map((pid) => Math.round((this.maxKb.get(pid) ?? 0) / 1024));
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
    /** Peak RSS since the host started (each measurement gets a fresh host, so this is the measurement's peak). */
    peaks(): Peaks;
    /** Undefined while the host runs; else how it ended and the last line of its stderr naming an error. */
    death(): string | undefined;
    stop(): Promise<void>;
}

/** Starts `.host/src/main.ts` as a child (`node --import tsx`, so the child is the host) with `zip` installed. */
export async function startHostProcess(zip: string): Promise<RunningHost> {
    // BENCH_VERBOSE=1: the host's log (app log entries included) goes to our stderr
    const verbose = !!process.env.BENCH_VERBOSE;
    const args = [
        '--import',
        'tsx',
        path.join(repoRoot, '.host/src/main.ts'),
        '--memory',
        '--json',
        '--port',
        '0',
        '--no-package',
        '--zip',
        zip,
        ...(verbose ? ['--verbose'] : []),
        ...(process.env.BENCH_ENGINE ? ['--engine', process.env.BENCH_ENGINE] : []), // an Apps-Engine from .host/engines/
    ];
    const child: ChildProcess = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', verbose ? 'inherit' : 'pipe'] });
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
        peaks: () => {
            const [hostMiB, denoMiB] = sampler.peaksMiB();
            return { hostMiB, denoMiB };
        },
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
export async function withHost<T>(zip: string, fn: (host: RunningHost) => Promise<T>): Promise<T & { peaks: Peaks; idle: Peaks }> {
    const host = await startHostProcess(zip);
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
    init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<{ status: number; text(): Promise<string> }>;

/** One HTTP request with a JSON body; the answer's status and body (JSON, or `{text}`). */
export async function call(
    url: string,
    method: string,
    body?: unknown,
    headers: Record<string, string> = {},
): Promise<{ status: number; body: Json }> {
    const res = await fetch(url, {
        method,
        headers: { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
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

/**
 * Uploads `bytes` through the app's resumable protocol as a widget would (docs/API.md): `GET limits`,
 * `POST uploads` with the file's type and sha256 (as the client library sends them), `PATCH uploads` with base64 chunks of `chunkSizeBytes` and
 * their sha256, `parallel` at a time within the window the server allows. The last chunk is sent
 * alone once every other chunk is stored, so its time is the completion's.
 */
export async function uploadResumable(info: HostInfo, bytes: Buffer, parallel: number): Promise<ResumableResult> {
    const base = `${info.url}/api/apps/public/${info.appId}`;
    const headers = { 'x-visitor-token': info.visitorToken };
    const started = performance.now();
    const limits = (await call(`${base}/limits`, 'GET', undefined, headers)).body;
    const chunkSizeBytes = Number(limits.chunkSizeBytes);
    const chunks = Math.ceil(bytes.length / chunkSizeBytes);
    const result = (outcome: ResumableResult['outcome'], detail: string, chunksMs = 0, lastMs = 0): ResumableResult => ({
        outcome,
        detail,
        chunks,
        totalMs: since(started),
        chunksMs,
        lastMs,
    });

    const created = await call(
        `${base}/uploads`,
        'POST',
        { rid: info.rid, name: 'bench.bin', size: bytes.length, type: 'application/octet-stream', sha256: sha256Hex(bytes) },
        headers,
    );
    if (created.status !== 201) {
        const { error, sizeAllowed } = created.body;
        return result(
            error === 'error-size-not-allowed' ? 'refused' : 'failed',
            `${created.status} ${error ?? created.body.text}${sizeAllowed ? ` (sizeAllowed ${sizeAllowed})` : ''}`,
        );
    }
    const uploadId = String(created.body.uploadId);
    const width = Math.min(parallel, Number(created.body.maxParallelChunks));
    const sendChunk = async (index: number): Promise<{ status: number; body: Json }> => {
        const data = bytes.subarray(index * chunkSizeBytes, (index + 1) * chunkSizeBytes);
        const answer = await call(
            `${base}/uploads`,
            'PATCH',
            { uploadId, offset: index * chunkSizeBytes, data: data.toString('base64'), sha256: sha256Hex(data) },
            headers,
        );
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
    const lastStarted = performance.now();
    const last = await call(
        `${base}/uploads`,
        'PATCH',
        {
            uploadId,
            offset: (chunks - 1) * chunkSizeBytes,
            data: bytes.subarray((chunks - 1) * chunkSizeBytes).toString('base64'),
        },
        headers,
    ).catch((e: Error) => ({ status: 0, body: { text: e.message } as Json }));
    const lastMs = since(lastStarted);
    if (last.status === 200 && last.body.complete === true) return result('stored', '', chunksMs, lastMs);
    return result(
        'failed',
        `last chunk: ${last.status} ${String(last.body.error ?? last.body.text ?? JSON.stringify(last.body)).slice(0, 120)}`,
        chunksMs,
        lastMs,
    );
}

/** The same requests (same JSON bodies as the chunks) to a bare `express.json()` route in this process. */
export async function expressFloor(bytes: Buffer, chunkSizeBytes: number, parallel: number): Promise<{ ms: number }> {
    const app = express();
    app.use(express.json());
    app.patch('/uploads', (req, res) => void res.json({ success: true, offset: req.body.offset }));
    const server = await new Promise<ReturnType<typeof app.listen>>((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/uploads`;
    const uploadId = randomBytes(16).toString('hex');
    const chunks = Math.ceil(bytes.length / chunkSizeBytes);
    const started = performance.now();
    let next = 0;
    const worker = async (): Promise<void> => {
        for (let index = next++; index < chunks; index = next++) {
            const data = bytes.subarray(index * chunkSizeBytes, (index + 1) * chunkSizeBytes);
            const answer = await call(url, 'PATCH', {
                uploadId,
                offset: index * chunkSizeBytes,
                data: data.toString('base64'),
                sha256: sha256Hex(data),
            });
            if (answer.status !== 200) throw new Error(`bare Express answered ${answer.status}`);
        }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    const ms = since(started);
    await new Promise((resolve) => server.close(resolve));
    return { ms };
}

/** Builds the probe app (`probe-app/`) with the apps-compiler into the temp dir; reused while its source is unchanged. */
export async function buildProbeZip(say: (s: string) => void): Promise<string> {
    const sourceDir = path.join(__dirname, 'probe-app');
    const files = ['app.json', 'ProbeApp.ts'];
    const hash = createHash('sha256');
    for (const f of files) hash.update(fs.readFileSync(path.join(sourceDir, f)));
    const zip = path.join(os.tmpdir(), `livechat-upload-bench-probe-${hash.digest('hex').slice(0, 12)}.zip`);
    if (fs.existsSync(zip)) return zip;
    say('Building the probe app (apps-compiler, ~25 s, cached in the temp dir afterwards)…');
    // The compiler resolves the engine from <app>/node_modules and rewrites app.json: build in a copy.
    const buildDir = fs.mkdtempSync(path.join(os.tmpdir(), 'livechat-upload-bench-probe-'));
    try {
        for (const f of files) fs.copyFileSync(path.join(sourceDir, f), path.join(buildDir, f));
        fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(buildDir, 'node_modules'));
        const compiler = new AppsCompiler({ tool: 'livechat-upload-bench', version: '1', when: new Date() }, typescript as never);
        const result = await compiler.compile(buildDir);
        if (result.diagnostics.length > 0) throw new Error(`probe app does not compile: ${JSON.stringify(result.diagnostics)}`);
        await compiler.outputZip(`${zip}.tmp`);
        fs.renameSync(`${zip}.tmp`, zip);
    } finally {
        fs.rmSync(buildDir, { recursive: true, force: true });
    }
    return zip;
}

export interface ProbeResult {
    outcome: 'stored' | 'timed out' | 'failed';
    /** Time inside the app around `uploadBuffer`, when it answered. */
    uploadMs?: number;
    wallMs: number;
    /** After a timeout: whether the file was stored anyway, or the host died, while we watched. */
    after?: string;
    detail: string;
}

/** One `uploadBuffer` of `sizeBytes` random bytes in the probe app; after a timeout, watches whether the file lands anyway. */
export async function probeUploadBuffer(host: RunningHost, sizeBytes: number, watchAfterTimeoutS: number): Promise<ProbeResult> {
    const { info } = host;
    const started = performance.now();
    const answer = await call(`${info.url}/api/apps/public/${info.appId}/probe`, 'POST', {
        rid: info.rid,
        visitorToken: info.visitorToken,
        sizeBytes,
    }).catch(async (e: Error) => {
        await new Promise((resolve) => setTimeout(resolve, 500)); // let the exit be noticed
        return { status: 0, body: { text: host.death() ?? `connection lost (${e.message})` } as Json };
    });
    const wallMs = since(started);
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
