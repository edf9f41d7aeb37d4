import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { APP_ID, FakeServer } from './fakeServer.cjs';

const ROOT = resolve(__dirname, '../..');
const CLI = join(ROOT, '.client/dist/cli.js'); // built by jest's global setup (test/global-setup.cjs)
const dir = mkdtempSync(join(tmpdir(), 'lcu-cli-'));

interface Outcome {
    code: number | null;
    stdout: string;
    stderr: string;
}

/** Runs the built CLI (not a TTY: its stdout and stderr are pipes); `onSpawn` can signal it. */
function runCli(args: string[], onSpawn?: (child: ReturnType<typeof spawn>) => void): Promise<Outcome> {
    return new Promise((done) => {
        const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => done({ code, stdout, stderr }));
        onSpawn?.(child);
    });
}

function writeFile(name: string, size: number): string {
    const path = join(dir, name);
    writeFileSync(path, randomBytes(size));
    return path;
}

let server: FakeServer;
const target = () => ['--url', server.url, '--app', APP_ID, '--token', server.token, '--rid', server.rid];

beforeEach(async () => {
    server = await new FakeServer().start();
});
afterEach(() => server.close());

describe('livechat-upload', () => {
    it('exits 0 and prints the message id after plain progress lines when not on a terminal', async () => {
        const path = writeFile('photo.jpg', 20 * server.limits.chunkSizeBytes);
        const out = await runCli([path, ...target(), '--description', 'from the CLI', '--parallel', '2']);
        expect(out.code).toBe(0);
        expect(out.stdout).toBe(`${server.posted[0].messageId}\n`);
        expect(server.posted[0]).toMatchObject({ name: 'photo.jpg', description: 'from the CLI' });
        const lines = out.stderr.trim().split('\n');
        expect(lines[0]).toMatch(/^0% 0\/\d+ bytes$/);
        expect(lines[lines.length - 1]).toMatch(/^100% (\d+)\/\1 bytes$/);
        expect(lines.length).toBeLessThanOrEqual(11);
        expect(server.maxPatchesInFlight).toBeLessThanOrEqual(2);
    });

    it('prints the whole message with --json', async () => {
        const out = await runCli([writeFile('small.txt', 100), ...target(), '--json']);
        expect(out.code).toBe(0);
        expect(JSON.parse(out.stdout)).toMatchObject({ _id: server.posted[0].messageId, file: { name: 'small.txt' } });
    });

    it('documents the exit codes in --help and exits 0', async () => {
        const out = await runCli(['--help']);
        expect(out.code).toBe(0);
        for (const code of ['0', '2', '3', '4', '130']) expect(out.stdout).toMatch(new RegExp(`^\\s+${code}\\s+\\S`, 'm'));
    });

    it.each([
        ['a missing --rid', (file: string) => [file, '--url', 'http://x', '--app', 'a', '--token', 't']],
        ['an unknown option', (file: string) => [file, '--colour']],
        ['a file that does not exist', () => [join(dir, 'nope.bin'), '--url', 'http://x', '--app', 'a', '--token', 't', '--rid', 'r']],
        ['a bad --parallel', (file: string) => [file, '--url', 'http://x', '--app', 'a', '--token', 't', '--rid', 'r', '--parallel', '0']],
    ])('exits 2 with the usage on %s', async (_case, args) => {
        const out = await runCli(args(writeFile('any.txt', 10)));
        expect(out.code).toBe(2);
        expect(out.stderr).toMatch(/Usage: livechat-upload/);
        expect(server.requests).toHaveLength(0);
    });

    it('exits 3 and prints the code and plain words when the server rejects the file', async () => {
        const out = await runCli([writeFile('logo.svg', 100), ...target()]);
        expect(out.code).toBe(3);
        expect(out.stderr).toMatch(/error-type-not-allowed — This type of file is not allowed here\./);
        expect(out.stdout).toBe('');
    });

    it('exits 4 when the server keeps failing with 503 after the retries', async () => {
        server.faults = [{ method: 'GET', route: 'limits', times: Infinity, fault: { status: 503, headers: { 'retry-after': '0' } } }];
        const out = await runCli([writeFile('small.txt', 100), ...target()]);
        expect(out.code).toBe(4);
        expect(out.stderr).toMatch(/Failed: .*http-503/);
        expect(server.routeCount('GET', 'limits')).toBe(6);
    });

    it('exits 130 on SIGINT after aborting the session on the server', async () => {
        server.patchDelayMs = 200;
        const path = writeFile('big.bin', 30 * server.limits.chunkSizeBytes);
        const out = await runCli([path, ...target()], (child) => {
            server.onRequest = (r) => {
                if (r.method !== 'PATCH') return;
                server.onRequest = undefined; // one Ctrl-C: a second one leaves without cleaning up
                child.kill('SIGINT');
            };
        });
        expect(out.code).toBe(130);
        expect(server.requests.find((r) => r.method === 'DELETE')?.query.uploadId).toBe('upload-1');
        expect(server.sessions.size).toBe(0);
        expect(server.posted).toHaveLength(0);
    });
});
