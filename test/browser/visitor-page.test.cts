/// <reference lib="dom" />
// The visitor page (.client/page/) end to end in Debian's Chromium: the packaged app in the local
// host (real Apps-Engine runtime), the page served from another origin so every request is a CORS
// request, files picked through the real file input. Screenshots land in test/output/ (git-ignored; under test/ the packager leaves them out of the zip).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page, type Request } from 'playwright-core';
import sharp from 'sharp';

import { type HostProcess, spawnHost, ZIP } from '../host-process.cjs';

const ROOT = path.resolve(__dirname, '../..');
const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'test', 'output');

// The words the page must show, from the client library's table (.client/src/errors.ts).
const TYPE_NOT_ALLOWED = 'This type of file is not allowed here.';

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
}

let host: HostProcess<HostInfo> | undefined;
let info: HostInfo;
let browser: Browser;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lcu-page-'));

/** Builds the client library when its output is missing or older than its sources. */
function buildClientIfStale(): void {
    const built = path.join(ROOT, '.client/dist/index.js');
    const srcDir = path.join(ROOT, '.client/src');
    const newestSource = Math.max(...fs.readdirSync(srcDir).map((f) => fs.statSync(path.join(srcDir, f)).mtimeMs));
    if (fs.existsSync(built) && fs.statSync(built).mtimeMs >= newestSource) return;
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, '.client')], { stdio: 'inherit' });
}

/** The host as `npm start` runs it, with the visitor page on its own port (another origin). */
async function startHost(): Promise<HostInfo> {
    host = await spawnHost<HostInfo>(['--memory', '--page-port', '0']);
    return host.line;
}

function stopHost(): Promise<void> {
    return host ? host.stop() : Promise.resolve();
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

async function openPage(): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
    const context = await browser.newContext({ viewport: { width: 760, height: 820 } }); // fresh localStorage
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

beforeAll(async () => {
    // Never skipped: without the browser the suite fails and says how to get it.
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`bash .host/scripts/ensure-chromium.sh\` (npm test does)`);
    if (!fs.existsSync(ZIP)) throw new Error(`no app package at ${ZIP}: run \`npx rc-apps package\` (jest's global setup does)`);
    fs.mkdirSync(SHOTS, { recursive: true });
    buildClientIfStale();
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
    it('is served from another origin than the API, with the client library beside it', async () => {
        expect(new URL(info.pageUrl).origin).not.toBe(new URL(info.url).origin);
        const script = await fetch(`${info.pageUrl}dist/index.js`);
        expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
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
});
