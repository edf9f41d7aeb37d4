/// <reference lib="dom" />
// The visitor page (.client/page/) end to end in Debian's Chromium: the packaged app in the local
// host (real Apps-Engine runtime), the page served from another origin so every request is a CORS
// request, files picked through the real file input. The page is built as a widget developer
// builds theirs: its source imports 'livechat-upload-client', bundled by esbuild from the packed
// tarball installed outside the repository (test/global-setup.cjs), not from .client/dist.
// Screenshots land in test/output/ (git-ignored; under test/ the packager leaves them out of the zip).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page, type Request } from 'playwright-core';
import sharp from 'sharp';

import { startVisitorPage, type VisitorPageServer } from '../../.host/src/visitor-page';
import { type HostProcess, spawnHost, ZIP } from '../host-process.cjs';
import { packedClient } from '../packed-client.cjs';
import { displayedSize, gpsBytesIn, gpsFingerprints, hasGpsBlock, IPHONE_PHOTO, PHONE_12MP_PHOTO, readPhoto } from '../photos.cjs';

const ROOT = path.resolve(__dirname, '../..');
const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'test', 'output');

// The words the page must show, from the client library's table (.client/src/words.ts).
const TYPE_NOT_ALLOWED = 'This type of file is not allowed here.';
const TYPE_NOT_ALLOWED_DE = 'Dieser Dateityp ist hier nicht erlaubt.';

/** The library's share of a widget's bundle, minified and gzipped, may not grow past this. */
const BUNDLE_BUDGET_GZIPPED_BYTES = 20 * 1024;

interface HostInfo {
    url: string;
    appId: string;
    visitorToken: string;
    rid: string;
    pageUrl: string;
}

interface HistoryMessage {
    _id: string;
    file?: { _id: string; name: string; type?: string };
    attachments?: Array<{ title?: string; description?: string; title_link?: string; image_preview?: string }>;
}

interface ProgressEvent {
    bytesConfirmed: number;
    totalBytes: number;
    originalBytes: number;
    bytesSaved: number;
    metadataBytesRemoved: number;
    downscaledTo?: { width: number; height: number };
}

let host: HostProcess<HostInfo> | undefined;
let pageServer: VisitorPageServer | undefined;
let info: HostInfo;
let browser: Browser;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lcu-page-'));
const client = packedClient();
const widgetPage = path.join(client.project, 'page');

/**
 * The visitor page as a widget developer would ship it: its files copied into the project that
 * installed the tarball, page.js bundled there by esbuild, 'livechat-upload-client' resolved from
 * that project's node_modules through the package's exports (browser conditions).
 */
async function buildWidgetPage(): Promise<void> {
    fs.mkdirSync(widgetPage, { recursive: true });
    for (const file of ['index.html', 'page.css', 'page.js', 'words.json'])
        fs.copyFileSync(path.join(ROOT, '.client/page', file), path.join(widgetPage, file));
    await build({
        absWorkingDir: client.project,
        entryPoints: [path.join(widgetPage, 'page.js')],
        outfile: path.join(widgetPage, 'page.bundle.js'),
        bundle: true,
        minify: true,
        format: 'esm',
        platform: 'browser',
        logLevel: 'warning',
    });
}

/** The host as `npm start` runs it, and the widget page on its own port (another origin). */
async function startHost(): Promise<HostInfo> {
    host = await spawnHost<HostInfo>(['--memory', '--no-page']);
    pageServer = await startVisitorPage({ port: 0, pageDir: widgetPage, distDir: path.join(client.packageDir, 'dist') });
    return { ...host.line, pageUrl: pageServer.url };
}

async function stopHost(): Promise<void> {
    await pageServer?.close();
    if (host) await host.stop();
}

/** A colourful photo-like image: a gradient under heavy noise, so it stays several MB. */
function photoPixels(width: number, height: number): Buffer {
    const pixels = Buffer.alloc(width * height * 3);
    const noise = randomBytes(width * height * 3);
    const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);
    for (let y = 0, i = 0; y < height; y++) {
        const g = 60 + (150 * y) / height;
        for (let x = 0; x < width; x++, i += 3) {
            pixels[i] = clamp(40 + (180 * x) / width + noise[i] - 128);
            pixels[i + 1] = clamp(g + noise[i + 1] - 128);
            pixels[i + 2] = clamp(200 - (120 * x) / width + noise[i + 2] - 128);
        }
    }
    return pixels;
}

async function makeImage(name: string, format: 'jpeg' | 'png', width: number, height: number): Promise<string> {
    const raw = sharp(photoPixels(width, height), { raw: { width, height, channels: 3 } });
    // sharp writes no metadata unless asked (no Exif, no PNG text chunks): the app has nothing to strip.
    const bytes = format === 'jpeg' ? await raw.jpeg({ quality: 95 }).toBuffer() : await raw.png({ compressionLevel: 1 }).toBuffer();
    const file = path.join(tmp, name);
    fs.writeFileSync(file, bytes);
    return file;
}

async function roomMessages(): Promise<HistoryMessage[]> {
    const answer = await fetch(`${info.url}/api/v1/livechat/messages.history/${info.rid}?token=${encodeURIComponent(info.visitorToken)}&limit=100`);
    expect(answer.status).toBe(200);
    return ((await answer.json()) as { messages: HistoryMessage[] }).messages;
}

async function messagesNamed(name: string): Promise<HistoryMessage[]> {
    return (await roomMessages()).filter((m) => m.file?.name === name);
}

async function openPage(locale = 'en-US'): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
    const context = await browser.newContext({ viewport: { width: 760, height: 820 }, locale }); // fresh localStorage
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    const query = new URLSearchParams({ server: info.url, app: info.appId, token: info.visitorToken, rid: info.rid });
    await page.goto(`${info.pageUrl}?${query}`);
    await page.waitForSelector('body[data-ready="true"]');
    return { context, page, errors };
}

const state = (page: Page) => page.getAttribute('body', 'data-state');
const progressEvents = (page: Page) => page.evaluate(() => (window as unknown as { __progress: ProgressEvent[] }).__progress);
const waitForState = (page: Page, states: string[], timeout = 60_000) =>
    page.waitForFunction((s) => s.includes(document.body.dataset.state ?? ''), states, { timeout });
const screenshot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `visitor-page-${name}.png`), fullPage: true });

/** Waits until the page has reported some progress but not all of it. */
const waitForProgressPast = (page: Page, fraction: number) =>
    page.waitForFunction(
        (f) =>
            (window as unknown as { __progress: ProgressEvent[] }).__progress.some(
                (p) => p.bytesConfirmed >= p.totalBytes * f && p.bytesConfirmed < p.totalBytes,
            ),
        fraction,
        { timeout: 30_000, polling: 50 },
    );

function expectSteadyProgress(events: ProgressEvent[], size: number): void {
    expect(events.length).toBeGreaterThan(5);
    const bytes = events.map((e) => e.bytesConfirmed);
    for (let i = 1; i < bytes.length; i++) expect(bytes[i]).toBeGreaterThan(bytes[i - 1]);
    expect(events.every((e) => e.totalBytes === size)).toBe(true);
    expect(bytes[bytes.length - 1]).toBe(size);
}

/** The file behind the page's link (what a visitor's click downloads). */
async function downloadLinked(page: Page): Promise<Buffer> {
    const href = await page.getAttribute('[data-testid="message"] >> nth=0 >> [data-testid="message-link"]', 'href');
    expect(href).toContain(`${info.url}/file-upload/`);
    const answer = await fetch(href!);
    expect(answer.status).toBe(200);
    return Buffer.from(await answer.arrayBuffer());
}

/**
 * Collects the file data of every request the page sends from now on (the `data` fields of
 * `POST upload` and `PATCH uploads`, base64-decoded), in the order sent, retries included.
 */
function recordSentData(page: Page): () => Buffer {
    const parts: Buffer[] = [];
    page.on('request', (r: Request) => {
        const body = r.postData();
        if (!body) return;
        const json = JSON.parse(body);
        const data = json.file?.data ?? json.data;
        if (typeof data === 'string') parts.push(Buffer.from(data, 'base64'));
    });
    return () => Buffer.concat(parts);
}

beforeAll(async () => {
    // Never skipped: without the browser the suite fails and says how to get it.
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`bash .host/scripts/ensure-chromium.sh\` (npm test does)`);
    if (!fs.existsSync(ZIP)) throw new Error(`no app package at ${ZIP}: run \`npx rc-apps package\` (jest's global setup does)`);
    fs.mkdirSync(SHOTS, { recursive: true });
    await buildWidgetPage();
    [info, browser] = await Promise.all([
        startHost(),
        chromium.launch({
            executablePath: CHROMIUM,
            args: [
                '--headless',
                '--no-sandbox',
                '--disable-gpu',
                '--disable-quic',
                '--no-first-run',
                '--disable-background-networking',
                '--disable-component-update',
                '--disable-sync',
            ],
        }),
    ]);
}, 90_000);

afterAll(async () => {
    await browser?.close();
    await stopHost();
    fs.rmSync(tmp, { recursive: true, force: true });
}, 30_000);

describe('the visitor page, in Chromium, against the packaged app', () => {
    it('is served from another origin than the API, with the library bundled from the installed tarball', async () => {
        expect(new URL(info.pageUrl).origin).not.toBe(new URL(info.url).origin);
        const script = await fetch(`${info.pageUrl}page.bundle.js`);
        expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
        const bundle = await script.text();
        expect(bundle).toContain('error-content-malformed'); // lib/metadata.ts's caller, from the package
        expect(bundle).not.toMatch(/["']node:|#node/); // the package's browser conditions kept Node's modules out
        for (const escape of ['../package.json', 'dist/../../package.json', '%2e%2e/package.json', 'dist/%2e%2e%2f%2e%2e%2fapp.json']) {
            expect((await fetch(`${info.pageUrl}${escape}`)).status).toBe(404);
        }
    });

    it('says what is missing when opened without its settings', async () => {
        const page = await browser.newPage();
        await page.goto(`${info.pageUrl}?server=${encodeURIComponent(info.url)}`);
        await page.waitForSelector('body[data-state="unconfigured"]');
        expect(await page.textContent('[data-testid="config-error"]')).toContain('?server=');
        expect(await page.isDisabled('[data-testid="file-input"]')).toBe(true);
        await page.close();
    }, 30_000);

    it('uploads a photo of several MB with progress, then shows the message with its preview; the message is in the room', async () => {
        const file = await makeImage('gradient-photo.jpg', 'jpeg', 2400, 1800);
        const size = fs.statSync(file).size;
        expect(size).toBeGreaterThan(3 * 1024 * 1024); // well past singleRequestMaxBytes: the resumable path
        const { context, page, errors } = await openPage();
        await screenshot(page, '1-ready');

        await page.fill('[data-testid="description"]', 'A photo from the visitor page');
        await page.setInputFiles('[data-testid="file-input"]', file);
        await waitForProgressPast(page, 0.3);
        await screenshot(page, '2-progress');
        expect(await page.isVisible('[data-testid="cancel"]')).toBe(true);
        await waitForState(page, ['done', 'error']);
        expect(await page.textContent('[data-testid="error"]')).toBe('');
        expect(await state(page)).toBe('done');

        expectSteadyProgress(await progressEvents(page), size);
        expect(await page.locator('[data-testid="progress-log"] li').count()).toBe((await progressEvents(page)).length);

        const item = page.locator('[data-testid="message"]').first();
        expect(await item.locator('[data-testid="message-link"]').textContent()).toBe('gradient-photo.jpg');
        expect(await item.locator('[data-testid="message-description"]').textContent()).toBe('A photo from the visitor page');
        expect(await item.locator('[data-testid="message-type"]').textContent()).toBe('image/jpeg');
        expect(await item.locator('[data-testid="message-dimensions"]').textContent()).toBe('2400 × 1800');
        const preview = item.locator('[data-testid="message-preview"]');
        expect(await preview.getAttribute('src')).toMatch(/^data:image\/jpeg;base64,[A-Za-z0-9+/]+=*$/);
        expect(await preview.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
        // the full image, read cross-origin from /file-upload with the visitor's token and room
        await page.waitForSelector('[data-testid="message-image"].is-loaded', { timeout: 10_000 });
        await screenshot(page, '3-sent');

        const inRoom = await messagesNamed('gradient-photo.jpg');
        expect(inRoom).toHaveLength(1);
        expect(inRoom[0]._id).toBe(await item.getAttribute('data-message-id'));
        expect(inRoom[0].attachments?.[0]).toMatchObject({ title: 'gradient-photo.jpg', description: 'A photo from the visitor page' });
        const downloaded = await downloadLinked(page);
        expect((await sharp(downloaded).metadata()).width).toBe(2400);
        expect(errors).toEqual([]);
        await context.close();
    }, 90_000);

    it('resumes when the connection drops in the middle, and the room gets the exact bytes once', async () => {
        const file = await makeImage('interrupted.png', 'png', 1200, 900);
        const sent = fs.readFileSync(file);
        expect(sent.length).toBeGreaterThan(3 * 1024 * 1024);
        const { context, page, errors } = await openPage();

        // Chunks go as PATCH /uploads; let 5 through, drop the 6th and the 12th as a flaky network would.
        let patches = 0;
        const dropped: number[] = [];
        await page.route('**/uploads', async (route) => {
            if (route.request().method() !== 'PATCH') return route.continue();
            patches++;
            if (patches === 6 || patches === 12) {
                dropped.push(JSON.parse(route.request().postData() ?? '{}').offset);
                return route.abort('connectionreset');
            }
            return route.continue();
        });
        const statusChecks: string[] = [];
        page.on('request', (r: Request) => r.method() === 'GET' && /\/uploads\?uploadId=/.test(r.url()) && statusChecks.push(r.url()));

        await page.setInputFiles('[data-testid="file-input"]', file);
        await waitForState(page, ['done', 'error']);
        expect(await page.textContent('[data-testid="error"]')).toBe('');
        await screenshot(page, '4-resumed');

        expect(dropped).toHaveLength(2);
        expect(statusChecks.length).toBeGreaterThanOrEqual(1); // asked the server where it stood, then went on from there
        expectSteadyProgress(await progressEvents(page), sent.length);

        const inRoom = await messagesNamed('interrupted.png');
        expect(inRoom).toHaveLength(1);
        expect(inRoom[0]._id).toBe(await page.locator('[data-testid="message"]').first().getAttribute('data-message-id'));
        expect((await downloadLinked(page)).equals(sent)).toBe(true);
        expect(errors.filter((e) => !/ERR_CONNECTION_RESET|Failed to load resource/.test(e))).toEqual([]);
        await context.close();
    }, 90_000);

    it('continues an upload after a page reload when the visitor picks the same file again', async () => {
        const file = await makeImage('reloaded.png', 'png', 1200, 900);
        const sent = fs.readFileSync(file);
        const { context, page } = await openPage();

        await page.setInputFiles('[data-testid="file-input"]', file);
        await waitForProgressPast(page, 0.3);
        await page.reload();
        await page.waitForSelector('body[data-ready="true"]');
        expect(await page.isVisible('[data-testid="resume-notice"]')).toBe(true);
        expect(await page.textContent('[data-testid="resume-notice"]')).toContain('reloaded.png');
        await screenshot(page, '5-after-reload');

        await page.setInputFiles('[data-testid="file-input"]', file);
        await waitForState(page, ['done', 'error']);
        expect(await page.textContent('[data-testid="error"]')).toBe('');
        const events = await progressEvents(page);
        expect(events[0].bytesConfirmed).toBeGreaterThan(0); // went on from the server's offset, not from 0
        expectSteadyProgress(events, sent.length);
        expect(await page.isHidden('[data-testid="resume-notice"]')).toBe(true);

        expect(await messagesNamed('reloaded.png')).toHaveLength(1);
        expect((await downloadLinked(page)).equals(sent)).toBe(true);
        expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('livechat-upload:')))).toEqual([]);
        await context.close();
    }, 90_000);

    it('cancels: nothing is posted and nothing is kept for resuming', async () => {
        const file = await makeImage('cancelled.png', 'png', 1200, 900);
        const { context, page } = await openPage();

        await page.setInputFiles('[data-testid="file-input"]', file);
        await waitForProgressPast(page, 0.1);
        await page.click('[data-testid="cancel"]');
        await waitForState(page, ['cancelled', 'done', 'error'], 15_000);
        expect(await state(page)).toBe('cancelled');
        expect(await page.textContent('[data-testid="status"]')).toBe('The upload was cancelled.');
        expect(await page.isHidden('[data-testid="progress"]')).toBe(true);
        expect(await page.isHidden('[data-testid="resume-notice"]')).toBe(true);
        expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('livechat-upload:')))).toEqual([]);
        expect(await messagesNamed('cancelled.png')).toHaveLength(0);
        await context.close();
    }, 60_000);

    it('takes a small file dropped on the zone in one request', async () => {
        const { context, page, errors } = await openPage();
        const text = 'Order 4711: the parcel arrived damaged.\n';
        const dataTransfer = await page.evaluateHandle((t) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([t], 'notes.txt', { type: 'text/plain' }));
            return transfer;
        }, text);
        const posts: string[] = [];
        page.on('request', (r: Request) => r.method() === 'POST' && posts.push(new URL(r.url()).pathname.split('/').pop()!));

        await page.dispatchEvent('[data-testid="drop-zone"]', 'drop', { dataTransfer });
        await waitForState(page, ['done', 'error'], 20_000);
        expect(await page.textContent('[data-testid="error"]')).toBe('');
        expect(posts).toEqual(['upload']); // the single-request route, no session
        const item = page.locator('[data-testid="message"]').first();
        expect(await item.locator('[data-testid="message-badge"]').textContent()).toBe('TXT');
        expect(await item.locator('[data-testid="message-preview"]').isHidden()).toBe(true);
        expect((await downloadLinked(page)).toString()).toBe(text);
        expect(await messagesNamed('notes.txt')).toHaveLength(1);
        await screenshot(page, '7-dropped-text');
        expect(errors).toEqual([]);
        await context.close();
    }, 30_000);

    it.each([
        [
            'an SVG image',
            'drawing.svg',
            'image/svg+xml',
            '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>',
        ],
        ['an HTML page', 'page.html', 'text/html', '<!doctype html><html><body><script>alert(1)</script></body></html>'],
    ])(
        'refuses %s and says so in plain words',
        async (_what, name, mimeType, text) => {
            const { context, page } = await openPage();
            await page.setInputFiles('[data-testid="file-input"]', { name, mimeType, buffer: Buffer.from(text) });
            await waitForState(page, ['done', 'error'], 20_000);
            expect(await state(page)).toBe('error');
            expect(await page.textContent('[data-testid="error"]')).toBe(TYPE_NOT_ALLOWED);
            expect(await page.getAttribute('[data-testid="error"]', 'data-code')).toBe('error-type-not-allowed');
            if (name.endsWith('.svg')) await screenshot(page, '6-blocked-type');
            expect(await messagesNamed(name)).toHaveLength(0);
            await context.close();
        },
        30_000,
    );
    it('keeps the library small in a browser bundle: its whole API minified and gzipped within the budget', () => {
        const size = JSON.parse(
            execFileSync(process.execPath, [path.join(ROOT, '.client/scripts/size.mjs'), client.packageDir], { encoding: 'utf8' }),
        );
        console.log(
            `livechat-upload-client (installed from ${path.basename(client.tarball)}) in a browser bundle: ` +
                `${size.minifiedBytes} bytes minified, ${size.gzippedBytes} bytes minified + gzipped (budget ${BUNDLE_BUDGET_GZIPPED_BYTES})`,
        );
        expect(size.gzippedBytes).toBeLessThanOrEqual(BUNDLE_BUDGET_GZIPPED_BYTES);
        expect(Object.keys(size.inputs)).toContain('dist/no-node.js');
        expect(Object.keys(size.inputs)).not.toContain('dist/node.js');
    });

    it('removes the GPS block of a 13-megapixel phone photo on the device: no request carries it, the stored photo keeps its size', async () => {
        const photo = readPhoto(PHONE_12MP_PHOTO);
        expect(gpsFingerprints(photo).length).toBeGreaterThan(0);
        const { context, page, errors } = await openPage();
        const sent = recordSentData(page);

        await page.setInputFiles('[data-testid="file-input"]', PHONE_12MP_PHOTO);
        await waitForState(page, ['done', 'error']);
        expect(await page.textContent('[data-testid="error"]')).toBe('');

        const events = await progressEvents(page);
        const removed = events[0].metadataBytesRemoved;
        expect(removed).toBeGreaterThan(10_000);
        expect(events[0]).toMatchObject({ originalBytes: photo.length, totalBytes: photo.length - removed, bytesSaved: removed });
        expect(await page.textContent('[data-testid="savings"]')).toMatch(
            /^Photo: location and camera data removed \([\d.]+ KB\), [\d.]+ KB of 872 KB saved\.$/,
        );
        expect(sent().length).toBeGreaterThanOrEqual(photo.length - removed); // every chunk, retries included
        expect(gpsBytesIn(sent(), photo)).toEqual([]);

        const stored = await downloadLinked(page);
        expect(stored.length).toBe(photo.length - removed);
        expect(hasGpsBlock(stored)).toBe(false);
        expect(stored.includes(Buffer.from('XIAOMI'))).toBe(false);
        expect(await displayedSize(stored)).toEqual({ width: 4208, height: 3120 });
        console.log(
            `${path.basename(PHONE_12MP_PHOTO)}: ${photo.length} bytes; metadata removed on the device: ${removed} bytes; sent ${photo.length - removed} bytes`,
        );
        expect(errors).toEqual([]);
        await context.close();
    }, 90_000);

    it('keeps the position of an iPhone photo on the device and the stored photo upright', async () => {
        const photo = readPhoto(IPHONE_PHOTO);
        const { context, page, errors } = await openPage();
        const sent = recordSentData(page);

        await page.setInputFiles('[data-testid="file-input"]', IPHONE_PHOTO);
        await waitForState(page, ['done', 'error'], 20_000);
        expect(await page.textContent('[data-testid="error"]')).toBe('');
        expect(gpsFingerprints(photo).length).toBeGreaterThan(2); // the latitude, longitude and altitude among them
        expect(gpsBytesIn(sent(), photo)).toEqual([]);
        expect(sent().includes(Buffer.from('iPhone 4S'))).toBe(false);

        const stored = await downloadLinked(page);
        expect(hasGpsBlock(stored)).toBe(false);
        expect(await displayedSize(stored)).toEqual({ width: 102, height: 205 }); // as the phone showed it
        expect(await page.textContent('[data-testid="message-dimensions"]')).toMatch(/^(102 × 205|205 × 102)$/);
        expect(errors).toEqual([]);
        await context.close();
    }, 30_000);

    it('sends a smaller photo when asked: the 13-megapixel photo leaves the device at 2048 pixels, and the page says what it saved', async () => {
        const photo = readPhoto(PHONE_12MP_PHOTO);
        const { context, page, errors } = await openPage();
        const sent = recordSentData(page);

        await page.check('[data-testid="smaller-photo"]');
        await page.setInputFiles('[data-testid="file-input"]', PHONE_12MP_PHOTO);
        await waitForState(page, ['done', 'error']);
        expect(await page.textContent('[data-testid="error"]')).toBe('');
        await screenshot(page, '8-smaller-photo');

        const [first] = await progressEvents(page);
        expect(first.downscaledTo).toEqual({ width: 2048, height: 1518 }); // 3120 × 2048 / 4208 = 1518.4
        expect(first.originalBytes).toBe(photo.length);
        expect(first.bytesSaved).toBe(photo.length - first.totalBytes);
        expect(first.totalBytes).toBeLessThan((photo.length - first.metadataBytesRemoved) / 2);
        expect(await page.textContent('[data-testid="savings"]')).toContain('sent at 2048 × 1518');
        expect(gpsBytesIn(sent(), photo)).toEqual([]);

        const stored = await downloadLinked(page);
        expect(stored.length).toBe(first.totalBytes);
        const meta = await sharp(stored).metadata();
        expect(meta).toMatchObject({ format: 'jpeg', width: 2048, height: 1518 });
        expect(meta.exif).toBeUndefined();
        const stripped = photo.length - first.metadataBytesRemoved;
        console.log(
            `${path.basename(PHONE_12MP_PHOTO)} (4208 × 3120, ${photo.length} bytes): metadata removal saves ${first.metadataBytesRemoved} bytes ` +
                `(${stripped} left); "send a smaller photo" (2048 px, JPEG quality 0.85, Chromium) sends ${first.totalBytes} bytes, ` +
                `${stripped - first.totalBytes} bytes fewer than the stripped photo, ${first.bytesSaved} bytes (${Math.round((100 * first.bytesSaved) / photo.length)} %) fewer than the original`,
        );
        expect(errors).toEqual([]);
        await context.close();
    }, 90_000);

    it('downscales a rotated photo upright: the pixels are turned as its Exif orientation says, and no orientation is left to apply', async () => {
        // Stored 3000 × 2000 with orientation 6 (turn 90° clockwise to show): the stored left half,
        // red, is the top of the photo as shown; the right half, blue, its bottom.
        const raw = Buffer.alloc(3000 * 2000 * 3);
        for (let i = 0; i < raw.length; i += 3) raw.set((i / 3) % 3000 < 1500 ? [220, 30, 30] : [30, 30, 220], i);
        const file = path.join(tmp, 'rotated-photo.jpg');
        fs.writeFileSync(
            file,
            await sharp(raw, { raw: { width: 3000, height: 2000, channels: 3 } })
                .withMetadata({ orientation: 6 })
                .jpeg()
                .toBuffer(),
        );
        const { context, page } = await openPage();

        await page.check('[data-testid="smaller-photo"]');
        await page.setInputFiles('[data-testid="file-input"]', file);
        await waitForState(page, ['done', 'error']);
        expect(await page.textContent('[data-testid="error"]')).toBe('');
        expect((await progressEvents(page))[0].downscaledTo).toEqual({ width: 1365, height: 2048 });

        const stored = await downloadLinked(page);
        const meta = await sharp(stored).metadata();
        expect(meta).toMatchObject({ width: 1365, height: 2048 });
        expect(meta.orientation ?? 1).toBe(1);
        const pixels = await sharp(stored).raw().toBuffer();
        const at = (x: number, y: number) => Array.from(pixels.subarray((y * 1365 + x) * 3, (y * 1365 + x) * 3 + 3));
        const isRed = ([r, , b]: number[]) => r > 180 && b < 80;
        const isBlue = ([r, , b]: number[]) => b > 180 && r < 80;
        expect(isRed(at(680, 200))).toBe(true);
        expect(isBlue(at(680, 1850))).toBe(true);
        await context.close();
    }, 90_000);

    it("speaks the visitor's language (navigator.language), errors included", async () => {
        const { context, page } = await openPage('de-DE');
        expect(await page.evaluate(() => navigator.language)).toBe('de-DE');
        expect(await page.getAttribute('html', 'lang')).toBe('de');
        expect(await page.textContent('h1')).toBe('Datei senden');
        expect(await page.getAttribute('[data-testid="description"]', 'placeholder')).toBe('Was ist das für eine Datei?');
        // Over singleRequestMaxBytes: refused when the upload session is created, before any byte is sent.
        const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><!-- ${'x'.repeat(120_000)} --></svg>`;
        await page.setInputFiles('[data-testid="file-input"]', { name: 'zeichnung.svg', mimeType: 'image/svg+xml', buffer: Buffer.from(svg) });
        await waitForState(page, ['done', 'error'], 20_000);
        expect(await page.textContent('[data-testid="error"]')).toBe(TYPE_NOT_ALLOWED_DE);
        expect(await page.getAttribute('[data-testid="error"]', 'data-code')).toBe('error-type-not-allowed');
        await screenshot(page, '9-error-in-german');
        await context.close();
    }, 30_000);
});
