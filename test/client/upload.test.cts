import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
    describeUploadError,
    localStorageResumeStore,
    memoryResumeStore,
    uploadFile,
    UploadAbortedError,
    UploadFileError,
    UploadHttpError,
    UploadNetworkError,
    type UploadOptions,
    type UploadProgress,
    type ResumeStore,
} from '../../.client/src/index';
import { parseRetryAfter } from '../../.client/src/http';
import { encodeBase64 } from '../../.client/src/source';
import { exifOrientation, gpsFingerprints, gpsBytesIn, hasGpsBlock, IPHONE_PHOTO, PHONE_12MP_PHOTO, readPhoto } from '../photos.cjs';
import { APP_ID, FakeServer } from './fakeServer.cjs';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let server: FakeServer;
let delays: number[];

beforeEach(async () => {
    server = await new FakeServer().start();
    delays = [];
});
afterEach(() => server.close());

/** Options against the fake; retries wait no real time and record how long they would have. */
function options(file: UploadOptions['file'], extra: Partial<UploadOptions> = {}): UploadOptions {
    return {
        serverUrl: server.url,
        appId: APP_ID,
        visitorToken: server.token,
        rid: server.rid,
        file,
        name: typeof file === 'string' ? undefined : 'data.bin',
        sleep: async (ms) => void delays.push(ms),
        ...extra,
    };
}

/** Sessions on the fake that no message finished (aborted ones are gone from it). */
const unfinished = (): string[] => [...server.sessions.values()].filter((s) => !s.message).map((s) => s.uploadId);

const patchOffsets = () => server.requests.filter((r) => r.method === 'PATCH').map((r) => r.body.offset as number);

describe('uploadFile: choosing the path', () => {
    it('sends a file at or under singleRequestMaxBytes in one POST upload and resolves to the posted message', async () => {
        const bytes = randomBytes(server.limits.singleRequestMaxBytes);
        const message = await uploadFile(options(bytes, { name: 'photo.jpg', description: 'hello' }));
        expect(server.requests.map((r) => `${r.method} ${r.route}`)).toEqual(['GET limits', 'POST upload']);
        expect(server.posted).toHaveLength(1);
        expect(server.posted[0].bytes.equals(bytes)).toBe(true);
        expect(message).toMatchObject({ _id: server.posted[0].messageId, rid: server.rid, file: { name: 'photo.jpg' } });
        expect(message.attachments?.[0]).toMatchObject({ description: 'hello' });
        expect(message).not.toHaveProperty('success');
    });

    it('uploads a file over singleRequestMaxBytes in chunks that the server reassembles byte for byte', async () => {
        const bytes = randomBytes(5 * server.limits.chunkSizeBytes + 1234);
        const message = await uploadFile(options(bytes));
        expect(server.routeCount('POST', 'uploads')).toBe(1);
        expect(server.routeCount('POST', 'upload')).toBe(0);
        expect(server.posted[0].bytes.equals(bytes)).toBe(true);
        expect(message._id).toBe(server.posted[0].messageId);
        for (const key of ['complete', 'uploadId', 'offset', 'size', 'success']) expect(message).not.toHaveProperty(key);
    });

    it('sends every chunk with its own sha256 and within the 100 KB body limit of Rocket.Chat', async () => {
        await uploadFile(options(randomBytes(3 * server.limits.chunkSizeBytes)));
        const patches = server.requests.filter((r) => r.method === 'PATCH');
        expect(patches).toHaveLength(3);
        for (const p of patches) expect(p.body.sha256).toBe(sha256(Buffer.from(p.body.data, 'base64')));
        expect(server.largestBodyBytes).toBeGreaterThan(100_000);
        expect(server.largestBodyBytes).toBeLessThanOrEqual(102_400);
    });

    it('reads a path in Node lazily, names the file after it and sends the whole-file sha256', async () => {
        const path = join(mkdtempSync(join(tmpdir(), 'lcu-')), 'report.pdf');
        const bytes = randomBytes(4 * server.limits.chunkSizeBytes - 7);
        writeFileSync(path, bytes);
        await uploadFile(options(path));
        const created = server.requests.find((r) => r.method === 'POST' && r.route === 'uploads')!;
        expect(created.body).toMatchObject({ name: 'report.pdf', size: bytes.length, sha256: sha256(bytes) });
        expect(server.posted[0].bytes.equals(bytes)).toBe(true);
    });

    it('takes name and type from a File and sends its whole-file sha256 when it is small', async () => {
        const bytes = randomBytes(2 * server.limits.chunkSizeBytes);
        const file = new File([bytes], 'picture.png', { type: 'image/png', lastModified: 1_700_000_000_000 });
        await uploadFile(options(file, { name: undefined }));
        const created = server.requests.find((r) => r.method === 'POST' && r.route === 'uploads')!;
        expect(created.body).toMatchObject({ name: 'picture.png', type: 'image/png', sha256: sha256(bytes) });
        expect(server.posted[0].bytes.equals(bytes)).toBe(true);
    });
});

describe('uploadFile: progress', () => {
    it('reports bytes confirmed by the server, never decreasing, from 0 to the file size', async () => {
        server.patchDelayMs = 5;
        const bytes = randomBytes(9 * server.limits.chunkSizeBytes + 10);
        const seen: UploadProgress[] = [];
        await uploadFile(options(bytes, { onProgress: (p) => seen.push(p) }));
        const confirmed = seen.map((p) => p.bytesConfirmed);
        expect(confirmed[0]).toBe(0);
        expect(confirmed[confirmed.length - 1]).toBe(bytes.length);
        expect(confirmed).toEqual([...confirmed].sort((a, b) => a - b));
        expect(new Set(confirmed).size).toBe(confirmed.length);
        expect(confirmed.every((c) => c % server.limits.chunkSizeBytes === 0 || c === bytes.length)).toBe(true);
        expect(seen.every((p) => p.totalBytes === bytes.length)).toBe(true);
    });
});

describe('uploadFile: parallel chunks', () => {
    it('never has more chunks in flight than maxParallelChunks, nor any beyond the server window', async () => {
        server.limits.maxParallelChunks = 3;
        server.patchDelayMs = 20; // answers come back out of order
        const bytes = randomBytes(12 * server.limits.chunkSizeBytes);
        await uploadFile(options(bytes, { parallel: 8 }));
        expect(server.maxPatchesInFlight).toBe(3);
        expect(server.maxChunksAhead).toBeLessThan(3);
        expect(server.routeCount('GET', 'uploads')).toBe(0); // no offset-mismatch recovery was needed
        expect(server.posted[0].bytes.equals(bytes)).toBe(true);
    });

    it('sends one chunk at a time when parallel is 1', async () => {
        server.patchDelayMs = 5;
        await uploadFile(options(randomBytes(5 * server.limits.chunkSizeBytes), { parallel: 1 }));
        expect(server.maxPatchesInFlight).toBe(1);
    });
});

describe('uploadFile: retries and recovery', () => {
    it('waits the Retry-After of a 503, in seconds or as an HTTP date, before trying again', async () => {
        server.faults = [
            { method: 'GET', route: 'limits', fault: { status: 503, headers: { 'retry-after': '7' } } },
            { method: 'PATCH', route: 'uploads', fault: { status: 503, headers: { 'retry-after': new Date(Date.now() + 60_000).toUTCString() } } },
        ];
        const bytes = randomBytes(3 * server.limits.chunkSizeBytes);
        await uploadFile(options(bytes, { parallel: 1 }));
        expect(delays[0]).toBe(7000);
        expect(delays[1]).toBeGreaterThan(55_000);
        expect(delays[1]).toBeLessThanOrEqual(60_000);
        expect(server.posted[0].bytes.equals(bytes)).toBe(true);
    });

    it('parses Retry-After as seconds or an HTTP date and ignores garbage', () => {
        expect(parseRetryAfter('3')).toBe(3000);
        expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(10_000);
        expect(parseRetryAfter('soon')).toBeUndefined();
        expect(parseRetryAfter(null)).toBeUndefined();
    });

    it('retries a 429 with a jittered backoff within the policy', async () => {
        server.faults = [
            { method: 'POST', route: 'uploads', times: 2, fault: { status: 429, body: { success: false, error: 'error-too-many-uploads' } } },
        ];
        const retry = { retries: 3, minDelayMs: 100, maxDelayMs: 150 };
        await uploadFile(options(randomBytes(2 * server.limits.chunkSizeBytes), { retry }));
        expect(server.routeCount('POST', 'uploads')).toBe(3);
        expect(delays).toHaveLength(2);
        expect(delays[0]).toBeLessThanOrEqual(100);
        expect(delays[1]).toBeLessThanOrEqual(150);
    });

    it('after a dropped connection asks the server its offset and continues from there', async () => {
        const chunk = server.limits.chunkSizeBytes;
        server.faults = [{ method: 'PATCH', route: 'uploads', when: (r) => r.body.offset === 2 * chunk, fault: 'drop' }];
        const bytes = randomBytes(5 * chunk);
        await uploadFile(options(bytes, { parallel: 1 }));
        expect(server.routeCount('GET', 'uploads')).toBe(1);
        expect(patchOffsets()).toEqual([0, 1, 2, 2, 3, 4].map((i) => i * chunk));
        expect(server.posted[0].bytes.equals(bytes)).toBe(true);
    });

    it('does not send again a chunk the server stored before the connection dropped', async () => {
        const chunk = server.limits.chunkSizeBytes;
        server.faults = [{ method: 'PATCH', route: 'uploads', when: (r) => r.body.offset === chunk, fault: 'drop-after' }];
        const bytes = randomBytes(4 * chunk);
        await uploadFile(options(bytes, { parallel: 1 }));
        expect(patchOffsets()).toEqual([0, 1, 2, 3].map((i) => i * chunk));
        expect(server.posted[0].bytes.equals(bytes)).toBe(true);
    });

    it('recovers from error-offset-mismatch by reading the server offset, without a backoff', async () => {
        const chunk = server.limits.chunkSizeBytes;
        server.faults = [
            {
                method: 'PATCH',
                route: 'uploads',
                when: (r) => r.body.offset === 2 * chunk,
                fault: { status: 409, body: { success: false, error: 'error-offset-mismatch', offset: 2 * chunk } },
            },
        ];
        const bytes = randomBytes(4 * chunk);
        await uploadFile(options(bytes, { parallel: 1 }));
        expect(server.routeCount('GET', 'uploads')).toBe(1);
        expect(delays).toEqual([0]);
        expect(server.posted[0].bytes.equals(bytes)).toBe(true);
    });

    it('sends a chunk refused as error-chunk-conflict again after a backoff, and the upload goes on', async () => {
        const chunk = server.limits.chunkSizeBytes;
        server.faults = [
            {
                method: 'PATCH',
                route: 'uploads',
                when: (r) => r.body.offset === chunk,
                fault: { status: 409, body: { success: false, error: 'error-chunk-conflict', offset: chunk } },
            },
        ];
        const bytes = randomBytes(3 * chunk);
        const message = await uploadFile(options(bytes, { parallel: 1 }));
        expect(patchOffsets()).toEqual([0, chunk, chunk, 2 * chunk]);
        expect(delays).toHaveLength(1);
        expect(delays[0]).toBeGreaterThan(0);
        expect(server.routeCount('DELETE', 'uploads')).toBe(0);
        expect(server.posted).toHaveLength(1);
        expect(message._id).toBe(server.posted[0].messageId);
        expect(server.posted[0].bytes.equals(bytes)).toBe(true);
    });

    it('rejects with error-chunk-conflict and ends the upload once the retries are spent on a slot that keeps refusing', async () => {
        const chunk = server.limits.chunkSizeBytes;
        server.faults = [
            {
                method: 'PATCH',
                route: 'uploads',
                times: Infinity,
                when: (r) => r.body.offset === chunk,
                fault: { status: 409, body: { success: false, error: 'error-chunk-conflict', offset: chunk } },
            },
        ];
        const err = await uploadFile(options(randomBytes(3 * chunk), { parallel: 1, retry: { retries: 2 } })).catch((e) => e);
        expect(err).toBeInstanceOf(UploadHttpError);
        expect(err).toMatchObject({ status: 409, code: 'error-chunk-conflict' });
        expect(patchOffsets()).toEqual([0, chunk, chunk, chunk]);
        expect(server.routeCount('DELETE', 'uploads')).toBe(1);
        expect(server.posted).toHaveLength(0);
    });

    it('resolves to the message when the completing chunk answer is lost but the server finished', async () => {
        const chunk = server.limits.chunkSizeBytes;
        server.faults = [{ method: 'PATCH', route: 'uploads', when: (r) => r.body.offset === 2 * chunk, fault: 'drop-after' }];
        const message = await uploadFile(options(randomBytes(3 * chunk), { parallel: 1 }));
        expect(server.posted).toHaveLength(1);
        expect(message._id).toBe(server.posted[0].messageId);
    });

    it('rejects with UploadNetworkError once the retries are spent on an unreachable server', async () => {
        const url = server.url;
        await server.close();
        const err = await uploadFile({ ...options(randomBytes(10)), serverUrl: url, retry: { retries: 2 } }).catch((e) => e);
        expect(err).toBeInstanceOf(UploadNetworkError);
        expect(delays).toHaveLength(2);
        expect(describeUploadError(err)).toMatch(/could not be reached/);
    });

    it('rejects with the last 5xx UploadHttpError once the retries are spent', async () => {
        server.faults = [
            { method: 'GET', route: 'limits', times: Infinity, fault: { status: 503, body: { success: false, error: 'error-server' } } },
        ];
        const err = await uploadFile(options(randomBytes(10), { retry: { retries: 3 } })).catch((e) => e);
        expect(err).toBeInstanceOf(UploadHttpError);
        expect(err).toMatchObject({ status: 503, code: 'error-server' });
        expect(server.routeCount('GET', 'limits')).toBe(4);
    });
});

describe('uploadFile: typed errors', () => {
    it('rejects an oversized file with error-size-not-allowed carrying sizeAllowed, without retrying', async () => {
        server.limits.maxFileSizeBytes = 100_000;
        const err = await uploadFile(options(randomBytes(100_001))).catch((e) => e);
        expect(err).toBeInstanceOf(UploadHttpError);
        expect(err).toMatchObject({ status: 400, code: 'error-size-not-allowed', details: { sizeAllowed: 100_000 } });
        expect(server.routeCount('POST', 'uploads')).toBe(1);
        expect(describeUploadError(err)).toBe('This file is too large. The limit is 98 kB.');
    });

    it('rejects a blocked type with error-type-not-allowed and words a widget can show', async () => {
        const err = await uploadFile(options(Buffer.from('<svg/>'), { name: 'logo.svg' })).catch((e) => e);
        expect(err).toMatchObject({ status: 400, code: 'error-type-not-allowed' });
        expect(describeUploadError(err)).toBe('This type of file is not allowed here.');
        expect(delays).toEqual([]);
    });

    it('rejects an unknown visitor token with unauthorized (403)', async () => {
        const err = await uploadFile({ ...options(randomBytes(10)), visitorToken: 'nope' }).catch((e) => e);
        expect(err).toMatchObject({ status: 403, code: 'unauthorized' });
    });

    it('turns a non-JSON 413 into code http-413', async () => {
        server.faults = [{ method: 'POST', route: 'upload', fault: { status: 413 } }];
        const err = await uploadFile(options(randomBytes(10))).catch((e) => e);
        expect(err).toMatchObject({ status: 413, code: 'http-413' });
        expect(describeUploadError(err)).toMatch(/too large/);
    });

    // Express's json() parser answers a body that is not JSON before the app runs, with an HTML page.
    const EXPRESS_400 =
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n</head>\n<body>\n<pre>Bad Request</pre>\n</body>\n</html>\n';

    it.each([
        [
            "Express's HTML 400 Bad Request",
            400,
            'text/html; charset=utf-8',
            EXPRESS_400,
            'http-400',
            'The file could not be sent. Please send it again.',
        ],
        [
            'an HTML 413 from a proxy',
            413,
            'text/html',
            '<html><body>413 Request Entity Too Large</body></html>',
            'http-413',
            'This file is too large for the server.',
        ],
        ['a JSON array', 400, 'application/json', '["no"]', 'http-400', 'The file could not be sent. Please send it again.'],
        ['an empty 404', 404, 'text/plain', '', 'http-404', 'The file could not be sent.'],
    ])('rejects %s with a typed error, not a JSON parse failure, and does not retry', async (_what, status, type, raw, code, words) => {
        server.faults = [{ method: 'POST', route: 'upload', fault: { status, headers: { 'content-type': type }, raw } }];
        const err = await uploadFile(options(randomBytes(10))).catch((e) => e);
        expect(err).toBeInstanceOf(UploadHttpError);
        expect(err).toMatchObject({ status, code, details: {} });
        expect(err.message).toContain(`HTTP ${status}`);
        expect(describeUploadError(err)).toBe(words);
        expect(server.routeCount('POST', 'upload')).toBe(1);
        expect(server.posted).toHaveLength(0);
    });

    it('retries an HTML 502 from a proxy and rejects with http-502 once the retries are spent', async () => {
        server.faults = [
            {
                method: 'GET',
                route: 'limits',
                times: Infinity,
                fault: { status: 502, headers: { 'content-type': 'text/html' }, raw: '<h1>502 Bad Gateway</h1>' },
            },
        ];
        const err = await uploadFile(options(randomBytes(10), { retry: { retries: 2 } })).catch((e) => e);
        expect(err).toMatchObject({ status: 502, code: 'http-502' });
        expect(server.routeCount('GET', 'limits')).toBe(3);
        expect(describeUploadError(err, 'de')).toBe('Der Server kann die Datei gerade nicht annehmen. Bitte versuchen Sie es später erneut.');
    });

    it('aborts the server session after a fatal chunk error', async () => {
        server.faults = [{ method: 'PATCH', route: 'uploads', fault: { status: 400, body: { success: false, error: 'error-checksum-mismatch' } } }];
        const err = await uploadFile(options(randomBytes(3 * server.limits.chunkSizeBytes))).catch((e) => e);
        expect(err).toMatchObject({ code: 'error-checksum-mismatch' });
        expect(server.routeCount('DELETE', 'uploads')).toBe(1);
        expect(server.sessions.size).toBe(0);
    });
});

describe('uploadFile: cancel', () => {
    it('aborting mid-upload sends DELETE uploads and rejects with UploadAbortedError', async () => {
        server.patchDelayMs = 30;
        const controller = new AbortController();
        const store = memoryResumeStore();
        const upload = uploadFile(
            options(randomBytes(10 * server.limits.chunkSizeBytes), {
                signal: controller.signal,
                resume: store,
                onProgress: (p) => p.bytesConfirmed > 0 && controller.abort(),
            }),
        );
        await expect(upload).rejects.toBeInstanceOf(UploadAbortedError);
        const deleted = server.requests.find((r) => r.method === 'DELETE');
        expect(deleted?.query.uploadId).toBe('upload-1');
        expect(server.sessions.size).toBe(0);
        expect(server.posted).toHaveLength(0);
        expect(await store.get(`livechat-upload:${server.rid}:data.bin:${10 * server.limits.chunkSizeBytes}:`)).toBeUndefined();
    });

    it('rejects at once without a request when the signal is already aborted', async () => {
        const controller = new AbortController();
        controller.abort();
        await expect(uploadFile(options(randomBytes(10), { signal: controller.signal }))).rejects.toBeInstanceOf(UploadAbortedError);
        expect(server.requests).toHaveLength(0);
    });
});

describe('uploadFile: resume', () => {
    it('continues a stored session after a reload without resending confirmed chunks', async () => {
        const chunk = server.limits.chunkSizeBytes;
        const bytes = randomBytes(6 * chunk + 99);
        const store = memoryResumeStore();
        // First page: the network goes away after three chunks.
        server.faults = [{ method: 'PATCH', route: 'uploads', when: (r) => r.body.offset >= 3 * chunk, times: Infinity, fault: 'drop' }];
        const first = await uploadFile(options(bytes, { resume: store, parallel: 1, retry: { retries: 1 } })).catch((e) => e);
        expect(first).toBeInstanceOf(UploadNetworkError);
        expect(server.sessions.get('upload-1')?.offset).toBe(3 * chunk);

        // Reloaded page: a new call with the same store and file.
        server.faults = [];
        server.requests.length = 0;
        const seen: number[] = [];
        await uploadFile(options(bytes, { resume: store, parallel: 1, onProgress: (p) => seen.push(p.bytesConfirmed) }));
        expect(server.routeCount('POST', 'uploads')).toBe(0);
        expect(patchOffsets()).toEqual([3, 4, 5, 6].map((i) => i * chunk));
        expect(seen[0]).toBe(3 * chunk);
        expect(server.posted[0].bytes.equals(bytes)).toBe(true);
        expect(await store.get(`livechat-upload:${server.rid}:data.bin:${bytes.length}:`)).toBeUndefined();
    });

    it('starts a new session when the stored one is gone', async () => {
        const store = memoryResumeStore();
        const bytes = randomBytes(2 * server.limits.chunkSizeBytes);
        await store.set(`livechat-upload:${server.rid}:data.bin:${bytes.length}:`, 'upload-expired');
        await uploadFile(options(bytes, { resume: store }));
        expect(server.routeCount('POST', 'uploads')).toBe(1);
        expect(server.posted[0].bytes.equals(bytes)).toBe(true);
    });

    it('resolves to the already posted message when the stored session completed before the reload', async () => {
        const store = memoryResumeStore();
        const bytes = randomBytes(2 * server.limits.chunkSizeBytes);
        const key = `livechat-upload:${server.rid}:data.bin:${bytes.length}:`;
        const original = await uploadFile(options(bytes));
        await store.set(key, 'upload-1');
        const again = await uploadFile(options(bytes, { resume: store }));
        expect(again._id).toBe(original._id);
        expect(server.posted).toHaveLength(1);
        expect(await store.get(key)).toBeUndefined();
    });

    it('keeps session ids in localStorage and survives a storage that throws', () => {
        const items = new Map<string, string>();
        const storage = {
            getItem: (k: string) => items.get(k) ?? null,
            setItem: (k: string, v: string) => void items.set(k, v),
            removeItem: (k: string) => void items.delete(k),
        } as unknown as Storage;
        const store = localStorageResumeStore(storage);
        store.set('k', 'upload-9');
        expect(store.get('k')).toBe('upload-9');
        store.delete('k');
        expect(store.get('k')).toBeNull();
        const broken = localStorageResumeStore({
            setItem: () => {
                throw new Error('quota');
            },
        } as unknown as Storage);
        expect(() => broken.set('k', 'v')).not.toThrow();
    });
});

const UUID_KEY = /^"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"$/;
const uploadPosts = () => server.requests.filter((r) => r.method === 'POST' && r.route === 'upload');

describe('uploadFile: Idempotency-Key on POST upload', () => {
    it('sends a random UUID as a structured-field string, a new one for each upload', async () => {
        await uploadFile(options(randomBytes(100)));
        await uploadFile(options(randomBytes(100)));
        const keys = uploadPosts().map((r) => r.idempotencyKey);
        expect(keys).toHaveLength(2);
        for (const key of keys) expect(key).toMatch(UUID_KEY);
        expect(keys[0]).not.toBe(keys[1]);
        expect(server.posted).toHaveLength(2);
    });

    it('repeats the same key when the answer is lost, and the server answers the first message without posting again', async () => {
        server.faults = [{ method: 'POST', route: 'upload', fault: 'drop-after' }];
        const bytes = randomBytes(1000);
        const message = await uploadFile(options(bytes));
        const posts = uploadPosts();
        expect(posts).toHaveLength(2);
        expect(posts[1].idempotencyKey).toBe(posts[0].idempotencyKey);
        expect(posts[1].body).toEqual(posts[0].body);
        expect(server.posted).toHaveLength(1);
        expect(message._id).toBe(server.posted[0].messageId);
    });

    it('waits retryAfterMs on error-upload-in-progress and repeats the same request, without using up the retries', async () => {
        const inProgress = {
            status: 409,
            headers: { 'retry-after': '2' },
            body: { success: false, error: 'error-upload-in-progress', retryAfterMs: 700 },
        };
        server.faults = [{ method: 'POST', route: 'upload', times: 3, fault: inProgress }];
        const message = await uploadFile(options(randomBytes(1000), { retry: { retries: 0 } }));
        const posts = uploadPosts();
        expect(posts).toHaveLength(4);
        expect(new Set(posts.map((r) => r.idempotencyKey)).size).toBe(1);
        expect(new Set(posts.map((r) => JSON.stringify(r.body))).size).toBe(1);
        expect(delays).toEqual([700, 700, 700]); // the body's milliseconds win over Retry-After's seconds
        expect(message._id).toBe(server.posted[0].messageId);
    });

    it('falls back to Retry-After seconds when the answer has no retryAfterMs', async () => {
        server.faults = [
            {
                method: 'POST',
                route: 'upload',
                fault: { status: 409, headers: { 'retry-after': '3' }, body: { success: false, error: 'error-upload-in-progress' } },
            },
        ];
        await uploadFile(options(randomBytes(1000)));
        expect(delays).toEqual([3000]);
        expect(server.posted).toHaveLength(1);
    });

    it('gives up on error-upload-in-progress after inProgressMaxWaitMs, then after the retries', async () => {
        const inProgress = { status: 409, body: { success: false, error: 'error-upload-in-progress', retryAfterMs: 1000 } };
        server.faults = [{ method: 'POST', route: 'upload', times: Infinity, fault: inProgress }];
        const err = await uploadFile(options(randomBytes(1000), { retry: { retries: 1, inProgressMaxWaitMs: 3000 } })).catch((e) => e);
        expect(err).toMatchObject({ status: 409, code: 'error-upload-in-progress' });
        expect(delays).toEqual([1000, 1000, 1000, 1000]);
        expect(describeUploadError(err)).toBe('The file is still being processed. Please wait a moment.');
    });

    it.each([
        ['error-idempotency-key-reused', 422],
        ['error-invalid-idempotency-key', 400],
    ])('treats %s as final', async (code, status) => {
        server.faults = [{ method: 'POST', route: 'upload', fault: { status, body: { success: false, error: code } } }];
        const err = await uploadFile(options(randomBytes(1000))).catch((e) => e);
        expect(err).toMatchObject({ status, code });
        expect(uploadPosts()).toHaveLength(1);
        expect(describeUploadError(err)).toBe('The file could not be sent. Please send it again.');
    });

    it('waits when completing chunk or POST uploads/complete answer error-upload-in-progress, then gets the message once', async () => {
        const chunk = server.limits.chunkSizeBytes;
        const inProgress = { status: 409, body: { success: false, error: 'error-upload-in-progress', retryAfterMs: 400 } };
        server.faults = [
            { method: 'PATCH', route: 'uploads', when: (r) => r.body.offset === 2 * chunk, times: 2, fault: inProgress },
            { method: 'GET', route: 'uploads', times: 1, fault: inProgress },
        ];
        const bytes = randomBytes(3 * chunk);
        const message = await uploadFile(options(bytes, { parallel: 1, retry: { retries: 0 } }));
        expect(delays.filter((d) => d === 400).length).toBeGreaterThanOrEqual(2);
        expect(server.posted).toHaveLength(1);
        expect(server.posted[0].bytes.equals(bytes)).toBe(true);
        expect(message._id).toBe(server.posted[0].messageId);
    });
});

describe('uploadFile: photo metadata removed on the device', () => {
    /** Every byte the client sent as file data, chunk by chunk, retries included. */
    const wireBytes = () =>
        Buffer.concat(
            server.requests.flatMap((r) => {
                const data = r.body?.file?.data ?? r.body?.data;
                return typeof data === 'string' ? [Buffer.from(data, 'base64')] : [];
            }),
        );

    it('sends a phone photo without its GPS block in one request, keeping the orientation, and reports the bytes saved', async () => {
        const photo = readPhoto(IPHONE_PHOTO);
        expect(gpsFingerprints(photo).length).toBeGreaterThan(1);
        const events: UploadProgress[] = [];
        await uploadFile(options(IPHONE_PHOTO, { onProgress: (p) => events.push(p) }));
        const sent = server.posted[0].bytes;
        expect(gpsBytesIn(wireBytes(), photo)).toEqual([]);
        expect(hasGpsBlock(sent)).toBe(false);
        expect(sent.includes(Buffer.from('iPhone 4S'))).toBe(false);
        expect(exifOrientation(sent)).toBe(6);
        expect(sent.length).toBeLessThan(photo.length);
        expect(events[0]).toEqual({
            bytesConfirmed: 0,
            totalBytes: sent.length,
            originalBytes: photo.length,
            bytesSaved: photo.length - sent.length,
            metadataBytesRemoved: photo.length - sent.length,
        });
    });

    it('strips the 13-megapixel photo before its chunks go out, so no chunk carries the GPS block', async () => {
        const photo = readPhoto(PHONE_12MP_PHOTO);
        await uploadFile(options(PHONE_12MP_PHOTO));
        expect(server.routeCount('PATCH', 'uploads')).toBeGreaterThan(5);
        expect(gpsBytesIn(wireBytes(), photo)).toEqual([]);
        expect(hasGpsBlock(server.posted[0].bytes)).toBe(false);
        expect(server.sessions.get('upload-1')?.size).toBe(server.posted[0].bytes.length);
        // the pixels are copied, not re-encoded: the scan data is the original's
        const sent = server.posted[0].bytes;
        const scan = sent.subarray(sent.indexOf(Buffer.from([0xff, 0xda])));
        expect(scan.length).toBeGreaterThan(800_000);
        expect(photo.subarray(-scan.length).equals(scan)).toBe(true);
    });

    it('sends the photo as it is with stripMetadata: false', async () => {
        const photo = readPhoto(IPHONE_PHOTO);
        await uploadFile(options(photo, { name: 'photo.jpg', stripMetadata: false }));
        expect(server.posted[0].bytes.equals(photo)).toBe(true);
    });

    it('leaves files that are not JPEG, PNG or WebP untouched, whatever their name', async () => {
        const bytes = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(2000)]);
        const events: UploadProgress[] = [];
        await uploadFile(options(bytes, { name: 'scan.jpg', onProgress: (p) => events.push(p) }));
        expect(server.posted[0].bytes.equals(bytes)).toBe(true);
        expect(events[0]).toMatchObject({ totalBytes: bytes.length, originalBytes: bytes.length, bytesSaved: 0, metadataBytesRemoved: 0 });
    });

    it('refuses a damaged photo on the device with error-content-malformed, before any request', async () => {
        const photo = readPhoto(IPHONE_PHOTO);
        const damaged = photo.subarray(0, 400); // cut inside the Exif segment
        const err = await uploadFile(options(damaged, { name: 'photo.jpg' })).catch((e) => e);
        expect(err).toBeInstanceOf(UploadFileError);
        expect(err.code).toBe('error-content-malformed');
        expect(server.requests).toHaveLength(0);
        expect(describeUploadError(err, 'fr')).toBe(
            'Cette image est endommagée et ne peut pas être envoyée en toute sécurité. Essayez une autre copie.',
        );
    });

    it('ignores maxImageDimension where there is no createImageBitmap (Node) and still strips', async () => {
        const photo = readPhoto(PHONE_12MP_PHOTO);
        const events: UploadProgress[] = [];
        await uploadFile(options(photo, { name: 'big.jpg', maxImageDimension: 1024, onProgress: (p) => events.push(p) }));
        expect(events[0].downscaledTo).toBeUndefined();
        expect(events[0].metadataBytesRemoved).toBe(photo.length - server.posted[0].bytes.length);
    });
});

describe('describeUploadError', () => {
    it.each([
        ['error-type-not-allowed', 400, 'This type of file is not allowed here.'],
        ['error-file-upload-disabled', 400, 'Sending files is turned off for this chat.'],
        ['error-empty-file', 400, 'This file is empty.'],
        ['error-upload-expired', 410, 'The upload was interrupted for too long. Please send the file again.'],
        ['something-new', 502, 'The server could not take the file right now. Please try again later.'],
        ['something-new', 400, 'The file could not be sent.'],
    ])('words %s (%i) for a visitor', (code, status, words) => {
        expect(describeUploadError(new UploadHttpError(status, code))).toBe(words);
    });

    it('words a cancel', () => {
        expect(describeUploadError(new UploadAbortedError())).toBe('The upload was cancelled.');
    });

    it.each([
        ['de-AT', 'Diese Datei ist zu groß. Die Grenze liegt bei 16 MB.'],
        [['xx', 'pt-PT'], 'Este arquivo é grande demais. O limite é 16 MB.'],
        ['zh-TW', '此文件太大。上限为 16 MB。'],
        ['ja-JP', 'このファイルは大きすぎます。上限は 16 MB です。'],
        ['en-GB', 'This file is too large. The limit is 16 MB.'],
        ['ko', 'This file is too large. The limit is 16 MB.'],
        [undefined, 'This file is too large. The limit is 16 MB.'],
    ])('speaks %j, with the limit in its number format', (locale, words) => {
        const err = new UploadHttpError(400, 'error-size-not-allowed', { sizeAllowed: 16 * 1024 * 1024 });
        expect(describeUploadError(err, locale)).toBe(words);
    });

    it('formats a fractional limit the way the language writes numbers', () => {
        const err = new UploadHttpError(400, 'error-size-not-allowed', { sizeAllowed: 1.5 * 1024 * 1024 });
        expect(describeUploadError(err, 'de')).toBe('Diese Datei ist zu groß. Die Grenze liegt bei 1,5 MB.');
        expect(describeUploadError(err, 'en')).toBe('This file is too large. The limit is 1.5 MB.');
    });
});

describe('runtimes without Node globals', () => {
    /** Runs `fn` with a global hidden, as in a browser (no Buffer) or Node 18 (no global crypto). */
    async function without<T>(name: 'Buffer' | 'crypto', fn: () => Promise<T> | T): Promise<T> {
        const saved = Object.getOwnPropertyDescriptor(globalThis, name)!;
        Object.defineProperty(globalThis, name, { value: undefined, configurable: true, writable: true });
        try {
            return await fn();
        } finally {
            Object.defineProperty(globalThis, name, saved);
        }
    }

    it('encodes base64 with btoa, in slices, exactly as Buffer does', async () => {
        for (const size of [0, 1, 2, 24_576, 24_577, 100_000]) {
            const bytes = randomBytes(size);
            expect(await without('Buffer', () => encodeBase64(bytes))).toBe(bytes.toString('base64'));
        }
    });

    it('makes the Idempotency-Key with node:crypto when there is no global crypto (Node 18)', async () => {
        await without('crypto', () => uploadFile(options(randomBytes(100))));
        expect(uploadPosts()[0].idempotencyKey).toMatch(UUID_KEY);
    });

    it('makes a version 4 UUID from getRandomValues where randomUUID is missing (pages served over plain http)', async () => {
        const saved = Object.getOwnPropertyDescriptor(globalThis, 'crypto')!;
        const webCrypto = globalThis.crypto;
        const insecure = { getRandomValues: (a: Uint8Array) => webCrypto.getRandomValues(a), subtle: webCrypto.subtle };
        Object.defineProperty(globalThis, 'crypto', { value: insecure, configurable: true, writable: true });
        try {
            await uploadFile(options(randomBytes(100)));
            await uploadFile(options(randomBytes(100)));
        } finally {
            Object.defineProperty(globalThis, 'crypto', saved);
        }
        const [first, second] = uploadPosts().map((r) => r.idempotencyKey);
        expect(first).toMatch(UUID_KEY);
        expect(second).toMatch(UUID_KEY);
        expect(first).not.toBe(second);
    });

    it('hashes chunks with node:crypto when there is no global crypto (Node 18)', async () => {
        const bytes = randomBytes(3 * server.limits.chunkSizeBytes);
        await without('crypto', () => uploadFile(options(bytes)));
        for (const p of server.requests.filter((r) => r.method === 'PATCH')) {
            expect(p.body.sha256).toBe(sha256(Buffer.from(p.body.data, 'base64')));
        }
        expect(server.posted[0].bytes.equals(bytes)).toBe(true);
    });
});

describe('uploadFile: sessions nobody can continue', () => {
    it('creates one session when the answer to POST uploads is lost: the retry carries the same Idempotency-Key', async () => {
        server.faults = [{ method: 'POST', route: 'uploads', fault: 'drop-after' }]; // created, answer lost
        await uploadFile(options(randomBytes(3 * server.limits.chunkSizeBytes)));
        expect({ creates: server.routeCount('POST', 'uploads'), unfinished: unfinished() }).toEqual({ creates: 2, unfinished: [] });
        const keys = server.requests.filter((r) => r.method === 'POST' && r.route === 'uploads').map((r) => r.idempotencyKey);
        expect(keys[0]).toMatch(/^"[0-9a-f-]{36}"$/);
        expect(keys[1]).toBe(keys[0]);
        expect(server.sessions.size).toBe(1);
    });

    it('aborts the session when it gives up after transient errors without a resume store to continue it from', async () => {
        server.faults = [
            { method: 'PATCH', route: 'uploads', times: Infinity, fault: { status: 503, body: { success: false, error: 'error-server' } } },
        ];
        const err = await uploadFile(options(randomBytes(3 * server.limits.chunkSizeBytes), { retry: { retries: 1 } })).catch((e) => e);
        expect(err).toMatchObject({ status: 503 });
        expect({ deletes: server.routeCount('DELETE', 'uploads'), unfinished: unfinished() }).toEqual({ deletes: 1, unfinished: [] });
    });
});

const error503 = { status: 503, body: { success: false, error: 'error-server' } };

describe('an upload given up or cancelled after its file was posted', () => {
    it('resolves with the message DELETE answers when it gives up after transient errors: the visitor does not send it again', async () => {
        const chunk = server.limits.chunkSizeBytes;
        server.faults = [
            { method: 'PATCH', route: 'uploads', when: (r) => r.body.offset === 2 * chunk, fault: 'drop-after' }, // completes, answer lost
            { method: 'GET', route: 'uploads', times: Infinity, fault: error503 }, // the status reads fail
        ];
        const outcome = await uploadFile(options(randomBytes(3 * chunk), { parallel: 1, retry: { retries: 1 } })).then(
            (m) => ({ resolved: m._id }),
            (e) => ({ rejected: String(e.code) }),
        );
        expect(server.posted).toHaveLength(1);
        expect(server.routeCount('DELETE', 'uploads')).toBe(1); // DELETE answered the message
        expect(outcome).toEqual({ resolved: server.posted[0].messageId });
    });

    it('rejects a cancel that lands after the completion with the posted message attached', async () => {
        const chunk = server.limits.chunkSizeBytes;
        const controller = new AbortController();
        server.onRequest = (r) => {
            if (r.method === 'PATCH' && r.body.offset === 2 * chunk) controller.abort(); // the visitor taps cancel as the last chunk goes
        };
        const outcome = await uploadFile(options(randomBytes(3 * chunk), { parallel: 1, signal: controller.signal })).then(
            (m) => ({ posted: m._id }),
            (e) => ({ posted: (e as { posted?: { _id: string } }).posted?._id, code: String(e.code) }),
        );
        expect(server.posted).toHaveLength(1);
        expect(outcome.posted).toBe(server.posted[0].messageId);
    });
});

describe('a resume store that is present but fails', () => {
    it('localStorage that cannot store: the given-up session is aborted, as nothing could resume it', async () => {
        const items = new Map<string, string>();
        const storage = {
            getItem: (k: string) => items.get(k) ?? null,
            setItem: () => {
                throw new Error('QuotaExceededError');
            },
            removeItem: (k: string) => void items.delete(k),
        } as unknown as Storage;
        server.faults = [{ method: 'PATCH', route: 'uploads', times: Infinity, fault: error503 }];
        const err = await uploadFile(
            options(randomBytes(3 * server.limits.chunkSizeBytes), { resume: localStorageResumeStore(storage), retry: { retries: 1 } }),
        ).catch((e) => e);
        expect(err).toMatchObject({ status: 503 });
        expect({ stored: items.size, deletes: server.routeCount('DELETE', 'uploads'), unfinished: unfinished() }).toEqual({
            stored: 0,
            deletes: 1,
            unfinished: [],
        });
    });

    it('a store whose set() rejects: the upload still goes through and leaves no session', async () => {
        const store: ResumeStore = {
            get: () => undefined,
            set: async () => Promise.reject(new Error('IndexedDB unavailable')),
            delete: () => undefined,
        };
        const outcome = await uploadFile(options(randomBytes(3 * server.limits.chunkSizeBytes), { resume: store })).then(
            () => 'posted',
            (e) => String(e.message),
        );
        expect({ outcome, unfinished: unfinished() }).toEqual({ outcome: 'posted', unfinished: [] });
    });
});

describe('the Idempotency-Key kept in the resume store', () => {
    it('gets the first message back after a reload when every answer to POST upload (a small file) was lost: posted once', async () => {
        const store = memoryResumeStore();
        const bytes = randomBytes(1_000);
        server.faults = [{ method: 'POST', route: 'upload', times: Infinity, fault: 'drop-after' }]; // posted, answers lost
        const first = await uploadFile(options(bytes, { resume: store, retry: { retries: 1 } })).catch((e) => e);
        expect(first).toMatchObject({ code: 'error-network' });
        server.faults = [];
        const message = await uploadFile(options(bytes, { resume: store })); // the reloaded page, same file, same store
        expect(server.posted).toHaveLength(1);
        expect(message._id).toBe(server.posted[0].messageId);
        const keys = server.requests.filter((r) => r.method === 'POST' && r.route === 'upload').map((r) => r.idempotencyKey);
        expect(new Set(keys).size).toBe(1);
    });

    it('gets the first session back after a reload when every answer to POST uploads was lost: one session, none left unfinished', async () => {
        const store = memoryResumeStore();
        const bytes = randomBytes(3 * server.limits.chunkSizeBytes);
        server.faults = [{ method: 'POST', route: 'uploads', times: Infinity, fault: 'drop-after' }]; // created, answers lost
        const first = await uploadFile(options(bytes, { resume: store, retry: { retries: 1 } })).catch((e) => e);
        expect(first).toMatchObject({ code: 'error-network' });
        server.faults = [];
        await uploadFile(options(bytes, { resume: store })); // the reloaded page, same file, same store
        expect({ sessions: server.sessions.size, unfinished: unfinished() }).toEqual({ sessions: 1, unfinished: [] });
    });
});
