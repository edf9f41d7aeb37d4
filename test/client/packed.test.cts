/**
 * The client package as a widget developer gets it: packed with `npm pack`, installed from the
 * tarball into a project outside the repository (test/global-setup.cjs), then used from there
 * against the packaged app in the local host — the CLI from node_modules/.bin and the library
 * imported from Node. Nothing here loads the repository's client sources. (The browser bundles
 * the same install: test/browser/visitor-page.test.cts.)
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'child_process';
import { readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import sharp from 'sharp';

import { APP_ID, download, history, type HistoryMessage, newVisitor, startTarget, type Target, type Visitor } from '../e2e/harness.cjs';
import { packedClient } from '../packed-client.cjs';
import { displayedSize, gpsBytesIn, hasGpsBlock, IPHONE_PHOTO, PHONE_12MP_PHOTO, readPhoto } from '../photos.cjs';

const client = packedClient();
let target: Target;

interface Outcome {
    code: number | null;
    stdout: string;
    stderr: string;
}

/** Runs a command in the widget project, with no path into the repository. */
function run(command: string, args: string[]): Promise<Outcome> {
    return new Promise((done) => {
        const child = spawn(command, args, { cwd: client.project, env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8' } });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => done({ code, stdout, stderr }));
    });
}

/** The file message for `name` in the visitor's room, and the stored bytes behind it. */
async function stored(visitor: Visitor, name: string): Promise<{ messages: HistoryMessage[]; bytes: Buffer }> {
    const messages = (await history(target, visitor)).filter((m) => m.file?.name === name);
    expect(messages).toHaveLength(1);
    return { messages, bytes: await download(target, visitor, messages[0].attachments![0].title_link) };
}

beforeAll(async () => {
    target = await startTarget();
}, 90_000);

afterAll(() => target?.stop(), 30_000);

describe('the packed client package', () => {
    it('holds the built library, its types, the CLI, README and LICENSE, and nothing of the repository', () => {
        const files = client.pack.files.map((f) => f.path).sort();
        expect(files.filter((f) => !f.startsWith('dist/'))).toEqual(['LICENSE', 'README.md', 'package.json']);
        expect(files).toEqual(
            expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'dist/cli.js', 'dist/node.js', 'dist/no-node.js', 'dist/lib/metadata.d.ts']),
        );
        expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
        const manifest = JSON.parse(readFileSync(join(client.packageDir, 'package.json'), 'utf8'));
        expect(manifest).toMatchObject({
            name: 'livechat-upload-client',
            type: 'module',
            license: 'MIT',
            sideEffects: false,
            engines: { node: '>=18' },
            exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' } },
            bin: { 'livechat-upload': './dist/cli.js' },
        });
        expect(manifest.private).toBeUndefined();
        expect(manifest.dependencies).toBeUndefined();
        // what the bundled lib/metadata.ts became: code inside the package, no import out of it
        const code = client.pack.files.filter((f) => f.path.endsWith('.js')).map((f) => readFileSync(join(client.packageDir, f.path), 'utf8'));
        expect(code.join('\n')).not.toMatch(/from\s+["'](\.\.\/)+lib\//);
    });

    it('uploads from Node by import: the message is in the room, the stored photo is upright without its GPS, and no request carried the GPS', async () => {
        const visitor = await newVisitor(target, 'Packed import');
        const script = join(client.project, 'upload.mjs');
        writeFileSync(
            script,
            `import { uploadFile } from 'livechat-upload-client';
import { writeFileSync } from 'node:fs';
const [serverUrl, appId, visitorToken, rid, file, wire] = process.argv.slice(2);
const sent = [];
const events = [];
const message = await uploadFile({
    serverUrl, appId, visitorToken, rid, file,
    fetch: (url, init) => (sent.push({ headers: init.headers, body: init.body ?? null }), fetch(url, init)),
    onProgress: (p) => events.push(p),
});
writeFileSync(wire, JSON.stringify(sent));
process.stdout.write(JSON.stringify({ message, first: events[0] }));
`,
        );
        const wire = join(client.project, 'wire.json');
        const out = await run(process.execPath, [script, target.url, APP_ID, visitor.token, visitor.rid, IPHONE_PHOTO, wire]);
        expect(out.stderr).toBe('');
        expect(out.code).toBe(0);
        const { message, first } = JSON.parse(out.stdout);
        const { messages, bytes } = await stored(visitor, 'iphone-4s-gps-rotated.jpg');
        expect(message._id).toBe(messages[0]._id);

        const photo = readPhoto(IPHONE_PHOTO);
        const sent: Array<{ headers: Record<string, string>; body: string | null }> = JSON.parse(readFileSync(wire, 'utf8'));
        const data = sent.flatMap((r) => (r.body ? [Buffer.from(JSON.parse(r.body).file?.data ?? JSON.parse(r.body).data ?? '', 'base64')] : []));
        expect(gpsBytesIn(Buffer.concat(data), photo)).toEqual([]);
        const post = sent.find((r) => r.body && JSON.parse(r.body).file);
        expect(post?.headers['idempotency-key']).toMatch(/^"[0-9a-f-]{36}"$/);
        expect(first).toMatchObject({ bytesConfirmed: 0, originalBytes: photo.length, metadataBytesRemoved: photo.length - first.totalBytes });

        expect(hasGpsBlock(bytes)).toBe(false);
        expect(bytes.includes(Buffer.from('iPhone 4S'))).toBe(false);
        expect(await displayedSize(bytes)).toEqual({ width: 102, height: 205 }); // upright, as the phone showed it
    }, 60_000);

    it('runs the livechat-upload CLI from node_modules/.bin: a 13-megapixel photo goes through the resumable path without its metadata', async () => {
        const visitor = await newVisitor(target, 'Packed CLI');
        const cli = join(client.project, 'node_modules', '.bin', 'livechat-upload');
        const out = await run(cli, [
            PHONE_12MP_PHOTO,
            '--url',
            target.url,
            '--app',
            APP_ID,
            '--token',
            visitor.token,
            '--rid',
            visitor.rid,
            '--json',
        ]);
        expect(out.code).toBe(0);
        const photo = readPhoto(PHONE_12MP_PHOTO);
        const removed = Number(/^Removed (\d+) bytes of photo metadata before sending\.$/m.exec(out.stderr)?.[1]);
        expect(removed).toBeGreaterThan(10_000);
        expect(out.stderr).toMatch(new RegExp(`^100% ${photo.length - removed}/${photo.length - removed} bytes$`, 'm'));
        const { messages, bytes } = await stored(visitor, 'xiaomi-mi3-13mp.jpg');
        expect(JSON.parse(out.stdout)._id).toBe(messages[0]._id);
        expect(bytes.length).toBe(photo.length - removed);
        expect(gpsBytesIn(bytes, photo)).toEqual([]);
        expect(hasGpsBlock(bytes)).toBe(false);
        expect(await sharp(bytes).metadata()).toMatchObject({ width: 4208, height: 3120 });
    }, 90_000);

    it('answers --help from the install with the exit codes', async () => {
        const out = await run(join(client.project, 'node_modules', '.bin', 'livechat-upload'), ['--help']);
        expect(out.code).toBe(0);
        expect(out.stdout).toMatch(/^Usage: livechat-upload <file>/);
        expect(out.stdout).toMatch(/--keep-metadata/);
    });
});
