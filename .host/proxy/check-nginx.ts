// `npm run check:proxy`: runs the nginx rule of docs/SECURITY.md for real, in front of the local host,
// and shows that it refuses every body Rocket.Chat's parsers would turn into an object with a
// `__proto__` key (which stalls the app's Deno runtime for about a minute) while uploads pass.
//
// The nginx blocks are read from docs/SECURITY.md itself, so the documented rule is the tested one.
// Each case is also given to a bare Express with the parsers Rocket.Chat puts on app routes
// (urlencoded({extended:false}) + json()), which reports whether the parsed body holds such a key.
// Needs nginx on PATH (Debian: apt-get install -y nginx) or --nginx PATH; --zip PATH as `npm start`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { startHost, type Host } from '../src/host';
import { startExpressProbe } from './express-probe';

const repoRoot = path.resolve(__dirname, '..', '..');
const CHECK_HOP = '127.0.0.1:8481'; // the second hop's address in docs/SECURITY.md, replaced by a free port here

function flag(name: string): string | undefined {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
}

/** The ```nginx blocks of docs/SECURITY.md: [http level, location level]. */
function documentedBlocks(): { httpLevel: string; location: string } {
    const doc = fs.readFileSync(path.join(repoRoot, 'docs', 'SECURITY.md'), 'utf8');
    const blocks = [...doc.matchAll(/^```nginx\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
    if (blocks.length !== 2) throw new Error(`docs/SECURITY.md should hold 2 nginx blocks, found ${blocks.length}`);
    if (!blocks[0].includes(CHECK_HOP) || !blocks[1].includes(CHECK_HOP)) throw new Error(`both nginx blocks should name ${CHECK_HOP}`);
    return { httpLevel: blocks[0], location: blocks[1] };
}

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

function waitForPort(port: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
        const attempt = (): void => {
            const socket = net.connect(port, '127.0.0.1');
            socket.once('connect', () => {
                socket.destroy();
                resolve();
            });
            socket.once('error', () => {
                socket.destroy();
                if (Date.now() > deadline) reject(new Error(`nothing listens on port ${port}`));
                else setTimeout(attempt, 100);
            });
        };
        attempt();
    });
}

interface Sent {
    method: string;
    path: string;
    headers?: Record<string, string>;
    body?: Buffer;
    /** Send the body with Transfer-Encoding: chunked, in pieces. */
    chunked?: boolean;
}

interface Answer {
    status: number;
    text: string;
}

function send(port: number, req: Sent): Promise<Answer> {
    return new Promise((resolve, reject) => {
        const headers: Record<string, string | number> = { ...req.headers };
        if (req.body && !req.chunked) headers['content-length'] = req.body.length;
        const r = http.request({ host: '127.0.0.1', port, method: req.method, path: req.path, headers }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        });
        r.on('error', reject);
        if (req.body && req.chunked) {
            for (let i = 0; i < req.body.length; i += 5) r.write(req.body.subarray(i, i + 5));
        } else if (req.body) {
            r.write(req.body);
        }
        r.end();
    });
}

const json = { 'content-type': 'application/json' };
const form = { 'content-type': 'application/x-www-form-urlencoded' };
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Case {
    name: string;
    request: (ids: { base: string; token: string; rid: string }) => Sent;
    /** 'refused' = answered by nginx with this status; 'passes' = answered by the app with this status. */
    expect: { by: 'nginx' | 'app'; status: number };
}

const poisonCases: Case[] = [
    ['JSON `{"__proto__":{}}`', json, '{"__proto__":{}}'],
    ['JSON, first `_` escaped: `"\\u005f_proto__"`', json, '{"\\u005f_proto__":{}}'],
    ['JSON, every letter escaped, upper-case hex', json, '{"\\u005F\\u005F\\u0070\\u0072\\u006F\\u0074\\u006F\\u005F\\u005F":1}'],
    ['JSON, nested key', json, '{"rid":"x","file":{"name":"a.txt","__proto__":{"x":1}}}'],
    ['JSON, spaces and a newline before the colon', json, '{"a":1, "__proto__" \n : 1}'],
    ['form field `__proto__=1`', form, '__proto__=1'],
    ['form field, %-encoded: `%5F%5Fproto%5f%5f=2`', form, 'a=1&%5F%5Fproto%5f%5f=2'],
].map(([name, headers, body]): Case => ({
    name: name as string,
    request: ({ base }) => ({
        method: 'POST',
        path: `${base}/upload`,
        headers: headers as Record<string, string>,
        body: Buffer.from(body as string),
    }),
    expect: { by: 'nginx', status: 400 },
}));

const cases: Case[] = [
    ...poisonCases,
    {
        name: 'JSON, sent chunked in 5-byte pieces',
        request: ({ base }) => ({ method: 'POST', path: `${base}/upload`, headers: json, body: Buffer.from('{"__proto__":{}}'), chunked: true }),
        expect: { by: 'nginx', status: 400 },
    },
    {
        name: 'JSON to an upper-case path (Express routes are case-insensitive)',
        request: ({ base }) => ({ method: 'POST', path: `${base.toUpperCase()}/upload`, headers: json, body: Buffer.from('{"__proto__":{}}') }),
        expect: { by: 'nginx', status: 400 },
    },
    {
        name: 'JSON, gzip-compressed (body-parser inflates it)',
        request: ({ base }) => ({
            method: 'POST',
            path: `${base}/upload`,
            headers: { ...json, 'content-encoding': 'gzip' },
            body: zlib.gzipSync('{"__proto__":{}}'),
        }),
        expect: { by: 'nginx', status: 415 },
    },
    {
        name: 'JSON, deflate-compressed',
        request: ({ base }) => ({
            method: 'POST',
            path: `${base}/upload`,
            headers: { ...json, 'content-encoding': 'deflate' },
            body: zlib.deflateSync('{"__proto__":{}}'),
        }),
        expect: { by: 'nginx', status: 415 },
    },
    {
        name: 'JSON in UTF-16LE (body-parser decodes it)',
        request: ({ base }) => ({
            method: 'POST',
            path: `${base}/upload`,
            headers: { 'content-type': 'application/json; charset=utf-16le' },
            body: Buffer.from('{"__proto__":{}}', 'utf16le'),
        }),
        expect: { by: 'nginx', status: 415 },
    },
    {
        name: 'JSON, `charset=utf-8; charset=utf-16le`',
        request: ({ base }) => ({
            method: 'POST',
            path: `${base}/upload`,
            headers: { 'content-type': 'application/json; charset=utf-8; charset=utf-16le' },
            body: Buffer.from('{"__proto__":{}}', 'utf16le'),
        }),
        expect: { by: 'nginx', status: 415 },
    },
    {
        name: 'JSON of 130 KB, the key at its end (too large to check in memory)',
        request: ({ base }) => ({
            method: 'POST',
            path: `${base}/upload`,
            headers: json,
            body: Buffer.from(`{"pad":"${'x'.repeat(130 * 1024)}","__proto__":{}}`),
        }),
        expect: { by: 'nginx', status: 413 },
    },
    {
        name: 'query `?__proto__=1&a[__proto__]=2` (Express drops it)',
        request: ({ base, token }) => ({ method: 'GET', path: `${base}/limits?__proto__=1&a[__proto__]=2`, headers: { 'x-visitor-token': token } }),
        expect: { by: 'app', status: 200 },
    },
    {
        name: '`GET limits`',
        request: ({ base, token }) => ({ method: 'GET', path: `${base}/limits`, headers: { 'x-visitor-token': token } }),
        expect: { by: 'app', status: 200 },
    },
    {
        name: '`POST upload`, `__proto__` only inside the description text',
        request: ({ base, token, rid }) => ({
            method: 'POST',
            path: `${base}/upload`,
            headers: { ...json, 'content-type': 'application/json; charset=utf-8', 'x-visitor-token': token },
            body: Buffer.from(
                JSON.stringify({
                    rid,
                    file: { name: 'notes.txt', data: Buffer.from('notes').toString('base64') },
                    description: 'about "__proto__": and a=1&__proto__=2',
                }),
            ),
        }),
        expect: { by: 'app', status: 200 },
    },
];

/** A resumable upload through the proxy: its chunk requests are the largest bodies the app takes (~100 KB). */
async function resumableThrough(port: number, base: string, token: string, rid: string): Promise<Answer> {
    const limits = JSON.parse((await send(port, { method: 'GET', path: `${base}/limits`, headers: { 'x-visitor-token': token } })).text);
    const bytes = randomBytes(3 * limits.chunkSizeBytes);
    const headers = { ...json, 'x-visitor-token': token };
    const body = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));
    const created = await send(port, {
        method: 'POST',
        path: `${base}/uploads`,
        headers,
        body: body({ rid, name: 'dump.bin', size: bytes.length, sha256: sha256(bytes) }),
    });
    if (created.status !== 201) return created;
    const { uploadId } = JSON.parse(created.text);
    let last = created;
    for (let offset = 0; offset < bytes.length; offset += limits.chunkSizeBytes) {
        const chunk = bytes.subarray(offset, offset + limits.chunkSizeBytes);
        last = await send(port, {
            method: 'PATCH',
            path: `${base}/uploads`,
            headers,
            body: body({ uploadId, offset, data: chunk.toString('base64'), sha256: sha256(chunk) }),
        });
        if (last.status !== 200) return last;
    }
    return last;
}

async function main(): Promise<void> {
    const nginx = flag('nginx') ?? 'nginx';
    const appJson = JSON.parse(fs.readFileSync(path.join(repoRoot, 'app.json'), 'utf8'));
    const zipPath = path.resolve(flag('zip') ?? path.join(repoRoot, 'dist', `${appJson.nameSlug}_${appJson.version}.zip`));
    if (!fs.existsSync(zipPath)) throw new Error(`No app package at ${zipPath}: run \`npm run package\` or pass --zip`);
    if (spawnSync(nginx, ['-v']).error) throw new Error(`${nginx} not found: install nginx (Debian: apt-get install -y nginx) or pass --nginx PATH`);

    const { httpLevel, location } = documentedBlocks();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'livechat-upload-nginx-'));
    let host: Host | undefined;
    let nginxProcess: ChildProcess | undefined;
    let probe: { port: number; close(): void } | undefined;
    try {
        host = await startHost({ port: 0, memory: true, zipPath, seed: true });
        probe = await startExpressProbe();
        const [frontPort, checkPort] = [await freePort(), await freePort()];
        const conf = [
            'daemon off;',
            `pid ${dir}/nginx.pid;`,
            `error_log ${dir}/error.log;`,
            'events {}',
            'http {',
            '    access_log off;',
            `    client_body_temp_path ${dir}/body;`,
            `    proxy_temp_path ${dir}/proxy;`,
            `    upstream rocketchat { server 127.0.0.1:${host.port}; }`,
            httpLevel.replaceAll(CHECK_HOP, `127.0.0.1:${checkPort}`),
            '    server {',
            `        listen 127.0.0.1:${frontPort};`,
            '        location / { proxy_pass http://rocketchat; }',
            location.replaceAll(CHECK_HOP, `127.0.0.1:${checkPort}`),
            '    }',
            '}',
        ].join('\n');
        const confPath = path.join(dir, 'nginx.conf');
        fs.writeFileSync(confPath, conf);
        const syntax = spawnSync(nginx, ['-t', '-p', dir, '-c', confPath], { encoding: 'utf8' });
        if (syntax.status !== 0) throw new Error(`nginx refuses the documented configuration:\n${syntax.stderr}`);
        nginxProcess = spawn(nginx, ['-p', dir, '-c', confPath], { stdio: 'ignore' });
        await waitForPort(frontPort, 10_000);
        await waitForPort(checkPort, 10_000);
        process.stderr.write(
            `nginx ${spawnSync(nginx, ['-v'], { encoding: 'utf8' }).stderr.trim()} on 127.0.0.1:${frontPort} → 127.0.0.1:${checkPort} → local host ${host.url}\n\n`,
        );

        const ids = { base: `/api/apps/public/${host.appId}`, token: host.seed!.visitorToken, rid: host.seed!.rid };
        const rows: string[][] = [['case', 'Express parses a `__proto__` key', 'through nginx', 'expected', '']];
        let failures = 0;
        for (const c of cases) {
            const sent = c.request(ids);
            const probed = await send(probe.port, sent);
            const parsed = probed.status === 200 && (JSON.parse(probed.text).protoKey as boolean);
            const answer = await send(frontPort, sent);
            const refusal = /^Refused: .*/.exec(answer.text)?.[0];
            const byNginx = refusal !== undefined || answer.text.includes('<center>nginx'); // nginx's own error page
            const ok = answer.status === c.expect.status && byNginx === (c.expect.by === 'nginx') && (parsed ? c.expect.by === 'nginx' : true);
            if (!ok) failures++;
            rows.push([
                c.name,
                parsed ? 'yes' : probed.status === 200 ? 'no' : `no (answers ${probed.status})`,
                `${answer.status} ${refusal ? `\`${refusal}\`` : byNginx ? "nginx's error page" : 'from the app'}`,
                `${c.expect.status} ${c.expect.by === 'nginx' ? 'refused' : 'from the app'}`,
                ok ? 'ok' : 'FAIL',
            ]);
        }
        // The second hop refuses what carries no mark: nothing reaches Rocket.Chat around the first hop's check.
        const unmarked = await send(checkPort, cases.find((c) => c.name === '`GET limits`')!.request(ids));
        const unmarkedOk = unmarked.status === 400 && unmarked.text.startsWith('Refused:');
        if (!unmarkedOk) failures++;
        rows.push([
            '`GET limits` straight to the second hop (no mark)',
            'no',
            `${unmarked.status} \`${unmarked.text.trim()}\``,
            '400 refused',
            unmarkedOk ? 'ok' : 'FAIL',
        ]);

        const resumable = await resumableThrough(frontPort, ids.base, ids.token, ids.rid);
        const resumableOk = resumable.status === 200 && JSON.parse(resumable.text).complete === true;
        if (!resumableOk) failures++;
        rows.push([
            'resumable upload, 3 chunks of ~100 KB JSON',
            'no',
            `${resumable.status} from the app`,
            '200 complete',
            resumableOk ? 'ok' : 'FAIL',
        ]);

        // Nothing refused reached the engine: the app answers at once and logged no unhandled rejection.
        const started = Date.now();
        const after = await send(frontPort, cases.find((c) => c.name === '`GET limits`')!.request(ids));
        const afterMs = Date.now() - started;
        const rejections = (await host.manager.getLogStorage().getEntriesFor(host.appId!)).filter((l) => l.method === 'runtime:unhandledRejection');
        const healthy = after.status === 200 && afterMs < 5_000 && rejections.length === 0;
        if (!healthy) failures++;
        rows.push([
            'the app afterwards',
            '',
            `${after.status} in ${afterMs} ms, ${rejections.length} \`runtime:unhandledRejection\``,
            '200, none',
            healthy ? 'ok' : 'FAIL',
        ]);

        const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
        for (const [i, r] of rows.entries()) {
            process.stdout.write(`| ${r.map((cell, j) => cell.padEnd(widths[j])).join(' | ')} |\n`);
            if (i === 0) process.stdout.write(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |\n`);
        }
        process.stdout.write(`\n${failures === 0 ? 'All cases as expected.' : `${failures} case(s) not as expected.`}\n`);
        process.exitCode = failures === 0 ? 0 : 1;
    } finally {
        probe?.close();
        if (nginxProcess && nginxProcess.exitCode === null) {
            const exited = new Promise((resolve) => nginxProcess!.once('exit', resolve));
            nginxProcess.kill('SIGQUIT'); // nginx's graceful shutdown; its workers exit with it
            await exited;
        }
        await host?.stop();
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

main().catch((e) => {
    process.stderr.write(`${e?.stack ?? e}\n`);
    process.exit(1);
});
