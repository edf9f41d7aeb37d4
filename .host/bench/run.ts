// `npm run bench`: the resumable upload through the packaged app in the real Apps-Engine runtime, its
// floor (bare Express + json(), one uploadBuffer), and the largest file one uploadBuffer takes.
// Flags: --sizes 64k,1m,10m,100m   --probe-sizes 1m,5m,10m,20m,25m,30m,40m,50m   --parallel N (0 = serial only)
//        --watch-after-timeout S (30)   --no-resumable --no-floor --no-ceiling   --package   --write docs/PERFORMANCE.md
//        --engine VERSION (an Apps-Engine from .host/engines/; default: the root install's)
// Sizes: k = KiB, m = MiB. Each measurement gets a fresh host, so its peak RSS is its own.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
    MIB,
    buildProbeZip,
    call,
    expressFloor,
    probeReadback,
    probeUploadBuffer,
    repoRoot,
    uploadResumable,
    withHost,
    type HostInfo,
    type Peaks,
} from './measure';

const flags = new Map<string, string>();
for (let i = 2; i < process.argv.length; i++) {
    const [k, v] = process.argv[i].replace(/^--/, '').split('=', 2);
    const takesValue = ['sizes', 'probe-sizes', 'parallel', 'watch-after-timeout', 'write', 'engine'].includes(k);
    if (k.startsWith('no-')) flags.set(k.slice(3), 'false');
    else flags.set(k, v ?? (takesValue ? process.argv[++i] : 'true'));
}
const parseSize = (s: string): number => Math.round(parseFloat(s) * ({ k: 1024, m: MIB }[s.slice(-1).toLowerCase()] ?? 1));
const sizesOf = (flag: string, fallback: string): number[] => (flags.get(flag) ?? fallback).split(',').map(parseSize);
const sizes = sizesOf('sizes', '64k,1m,10m,100m');
const probeSizes = sizesOf('probe-sizes', '1m,5m,10m,20m,25m,30m,40m,50m');
const parallel = Number(flags.get('parallel') ?? 4);
const watchAfterTimeoutS = Number(flags.get('watch-after-timeout') ?? 30);
const timeoutMs = Number(process.env.APPS_ENGINE_RUNTIME_TIMEOUT ?? 30_000);
if (flags.has('engine')) process.env.BENCH_ENGINE = flags.get('engine'); // measure.ts passes it to every host

const say = (s: string): void => void process.stderr.write(`${s}\n`);
const fmtSize = (b: number): string => (b >= MIB ? `${+(b / MIB).toFixed(1)} MiB` : `${+(b / 1024).toFixed(1)} KiB`);
const fmtS = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
const rate = (bytes: number, ms: number): string => (bytes / MIB / (ms / 1000)).toFixed(2);
const mem = (p: Peaks): [string, string] => [`${p.hostMiB}`, `${p.denoMiB}`];
const table = (head: string[], rows: string[][]): string => [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
const version = (pkg: string): string => JSON.parse(fs.readFileSync(path.join(repoRoot, 'node_modules', pkg, 'package.json'), 'utf8')).version;

function appZip(): string {
    const { nameSlug, version: v } = JSON.parse(fs.readFileSync(path.join(repoRoot, 'app.json'), 'utf8'));
    const zip = path.join(repoRoot, 'dist', `${nameSlug}_${v}.zip`);
    if (flags.has('package') || !fs.existsSync(zip)) {
        say('Packaging the app (rc-apps package)…');
        execFileSync('npx', ['rc-apps', 'package'], { cwd: repoRoot, stdio: ['ignore', 2, 2] });
    }
    return zip;
}

async function readLimits(info: HostInfo): Promise<{ maxFileSizeBytes: number; chunkSizeBytes: number; maxParallelChunks: number }> {
    const { body } = await call(`${info.url}/api/apps/public/${info.appId}/limits`, 'GET', undefined, { 'x-visitor-token': info.visitorToken });
    return body as unknown as { maxFileSizeBytes: number; chunkSizeBytes: number; maxParallelChunks: number };
}

async function main(): Promise<void> {
    const started = Date.now();
    const zip = appZip();
    const limits = await withHost(zip, async (h) => readLimits(h.info));
    const modes = parallel > 1 ? [1, Math.min(parallel, limits.maxParallelChunks)] : [1];
    const files = new Map(sizes.map((s) => [s, randomBytes(s)]));
    const cpu = os.cpus();
    const header = [
        `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC · ${cpu.length} cores (${cpu[0]?.model.trim()}) · ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM · Node ${process.versions.node} · ` +
            `Apps-Engine ${process.env.BENCH_ENGINE ?? version('@rocket.chat/apps-engine')} · Deno ${version('deno')} · runtime timeout ${timeoutMs / 1000} s`,
        `App limit ${fmtSize(limits.maxFileSizeBytes)}, chunks of ${limits.chunkSizeBytes} bytes, up to ${limits.maxParallelChunks} in parallel. ` +
            `Idle RSS: host ${limits.idle.hostMiB} MiB, Deno child ${limits.idle.denoMiB} MiB. Random bytes (incompressible, like photos and PDFs). Sizes in MiB.`,
    ];
    const sections: string[] = [header.join('\n\n')];
    const print = (title: string, body: string): void => {
        sections.push(`### ${title}\n\n${body}`);
        process.stdout.write(`\n### ${title}\n\n${body}\n`);
    };
    process.stdout.write(`${header.join('\n')}\n`);

    if (flags.get('resumable') !== 'false') {
        const rows: string[][] = [];
        for (const [size, bytes] of files) {
            for (const width of modes) {
                say(`resumable ${fmtSize(size)} × ${width}…`);
                const r = await withHost(zip, async (h) => uploadResumable(h.info, bytes, width));
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
        print(
            `Resumable upload through the app (\`npm run bench -- --sizes ${flags.get('sizes') ?? '64k,1m,10m,100m'} --no-floor --no-ceiling\`)`,
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

    const probeZip = flags.get('floor') !== 'false' || flags.get('ceiling') !== 'false' ? await buildProbeZip(say) : '';
    if (flags.get('floor') !== 'false') {
        const rows: string[][] = [];
        for (const [size, bytes] of files) {
            say(`floor ${fmtSize(size)}…`);
            const express = await Promise.all(modes.map(async (w) => (await expressFloor(bytes, limits.chunkSizeBytes, w)).ms));
            const chunks = Math.ceil(size / limits.chunkSizeBytes);
            const expressCells = express.map((ms) => `${fmtS(ms)} (${rate(size, ms)} MiB/s)`).join(' / ');
            if (size > limits.maxFileSizeBytes) {
                rows.push([fmtSize(size), `${chunks}`, expressCells, 'above the app limit: see the ceiling table', '–', '–', '–', '–']);
                continue;
            }
            const r = await withHost(probeZip, async (h) => {
                const probe = await probeUploadBuffer(h, size, watchAfterTimeoutS);
                const peaks = h.peaks();
                const readback = await probeReadback(h.info, chunks, limits.chunkSizeBytes);
                return { probe, uploadPeaks: peaks, readback };
            });
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
        print(
            `Floor (\`npm run bench -- --sizes ${flags.get('sizes') ?? '64k,1m,10m,100m'} --no-resumable --no-ceiling\`)`,
            table(
                [
                    'file',
                    'requests',
                    `bare Express + json(), ${modes.join(' / ')} at a time`,
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

    if (flags.get('ceiling') !== 'false') {
        const rows: string[][] = [];
        let largest: { size: number; ms: number } | undefined;
        for (const size of probeSizes) {
            say(`uploadBuffer ${fmtSize(size)}…`);
            const r = await withHost(probeZip, async (h) => probeUploadBuffer(h, size, watchAfterTimeoutS));
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
        print(
            `One uploadBuffer, growing (\`npm run bench -- --probe-sizes ${flags.get('probe-sizes') ?? '1m,5m,10m,20m,25m,30m,40m,50m'} --no-resumable --no-floor\`)`,
            `${table(['file', 'result', 'in uploadBuffer', 'HTTP call', 'peak RSS host MiB', 'peak RSS Deno MiB'], rows)}\n\n${verdict}`,
        );
    }

    say(`\nbench done in ${Math.round((Date.now() - started) / 1000)} s`);
    const target = flags.get('write');
    if (target) {
        const file = path.resolve(repoRoot, target);
        const doc = fs.readFileSync(file, 'utf8');
        const [start, end] = ['<!-- bench:start -->', '<!-- bench:end -->'];
        if (!doc.includes(start) || !doc.includes(end)) throw new Error(`${target} lacks the ${start} … ${end} markers`);
        fs.writeFileSync(file, `${doc.slice(0, doc.indexOf(start) + start.length)}\n${sections.join('\n\n')}\n${doc.slice(doc.indexOf(end))}`);
        say(`tables written to ${target}`);
    }
}

main().catch((e) => {
    process.stderr.write(`bench failed: ${e?.stack ?? e}\n`);
    process.exit(1);
});
