import { randomBytes } from 'crypto';

import { beforeAll, describe, expect, it } from '@jest/globals';
import sharp from 'sharp';

import { CompleteUploadEndpoint } from '../../endpoints/complete-endpoint';
import { LimitsEndpoint } from '../../endpoints/limits-endpoint';
import { UploadFileEndpoint } from '../../endpoints/upload-endpoint';
import { UploadSessionsEndpoint } from '../../endpoints/uploads-endpoint';
import { CHUNK_SIZE_BYTES } from '../../lib/requests';
import { EXPIRY_GRACE_MS, removeExpiredSessions } from '../../lib/services/uploads';
import { APP_SETTING_IDS } from '../../lib/settings';
import { asEngineAccessors, createAccessors, createWorld, type FakeWorld } from '../fakes.cjs';
import { findErrorBodyProblems, findUnseenFields } from '../error-bodies.cjs';
import { call, type EndpointAnswer, expectError, seenErrors, sha, single } from './api.cjs';

let png: Buffer;
let bigPng: Buffer;

beforeAll(async () => {
    png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#ff0000' } })
        .png()
        .toBuffer();
    bigPng = await sharp(randomBytes(200 * 200 * 3), { raw: { width: 200, height: 200, channels: 3 } })
        .png()
        .toBuffer();
});

const pngBody = (extra: Record<string, unknown> = {}) => ({
    rid: 'roomA',
    file: { name: 'red.png', type: 'image/png', data: png.toString('base64') },
    ...extra,
});

describe('POST upload', () => {
    it('posts a PNG and answers the message as the room shows it, in core shape', async () => {
        const world = createWorld();
        const response = await single(world, pngBody({ description: 'my red square' }));
        expect(response.status).toBe(200);
        expect(world.files).toHaveLength(1);
        expect(world.files[0].bytes.equals(png)).toBe(true);
        const fileId = world.files[0].id;
        expect(response.content).toMatchObject({
            success: true,
            _id: world.messages[0].id,
            rid: 'roomA',
            msg: '',
            u: { _id: 'visitor1', username: 'guest-1', name: 'Ada Visitor' },
            file: { _id: fileId, name: 'red.png' },
            files: [{ _id: fileId, name: 'red.png' }],
            attachments: [
                {
                    title: 'red.png',
                    title_link: `/file-upload/${fileId}/red.png`,
                    title_link_download: true,
                    type: 'file',
                    description: 'my red square',
                },
            ],
        });
        expect(response.content).not.toHaveProperty('token');
        expect(world.messages[0].attachments[0].description).toBe('my red square');
    });

    it('answers CORS headers on every answer', async () => {
        const response = await single(createWorld(), pngBody());
        expect(response.headers['access-control-allow-origin']).toBe('*');
    });

    it.each([
        ['no token', undefined, 'roomA'],
        ['an unknown token', 'token-X', 'roomA'],
        ["another visitor's room", 'token-A', 'roomB'],
        ['a closed room', 'token-A', 'roomClosed'],
        ['a room that does not exist', 'token-A', 'nope'],
    ])('refuses %s with the same 403 body and stores nothing', async (_what, token, rid) => {
        const world = createWorld();
        const response = await single(world, pngBody({ rid }), { token });
        expectError(response, 403, 'unauthorized');
        expect(world.files).toHaveLength(0);
        expect(world.messages).toHaveLength(0);
    });

    it.each([
        ['FileUpload_Enabled', 'server'],
        ['Livechat_fileupload_enabled', 'server'],
        [APP_SETTING_IDS.enabled, 'app'],
    ])('answers error-file-upload-disabled when %s is off', async (id, where) => {
        const world = createWorld();
        (where === 'server' ? world.serverSettings : world.appSettings)[id] = false;
        expectError(await single(world, pngBody()), 400, 'error-file-upload-disabled');
        expect(world.files).toHaveLength(0);
    });

    it('refuses a file over the server limit with error-size-not-allowed and the allowed size', async () => {
        const world = createWorld();
        world.serverSettings.FileUpload_MaxFileSize = 10;
        expectError(await single(world, pngBody()), 400, 'error-size-not-allowed', { sizeAllowed: 10 });
    });

    it.each([
        ['the server black list', (w: FakeWorld) => (w.serverSettings.FileUpload_MediaTypeBlackList = 'image/*')],
        ['a server white list without it', (w: FakeWorld) => (w.serverSettings.FileUpload_MediaTypeWhiteList = 'application/pdf')],
        ["the app's blocked list", (w: FakeWorld) => (w.appSettings[APP_SETTING_IDS.blockedTypes] = 'image/png')],
        ['an app allowed list without it', (w: FakeWorld) => (w.appSettings[APP_SETTING_IDS.allowedTypes] = 'text/plain')],
    ])('refuses a PNG on %s with error-type-not-allowed', async (_what, configure) => {
        const world = createWorld();
        configure(world);
        expectError(await single(world, pngBody()), 400, 'error-type-not-allowed', { type: 'image/png' });
    });

    it('refuses a PNG whose bytes are HTML with error-content-mismatch', async () => {
        const world = createWorld();
        const html = Buffer.from('<!DOCTYPE html><html><script>alert(1)</script></html>');
        const response = await single(world, pngBody({ file: { name: 'cat.png', type: 'image/png', data: html.toString('base64') } }));
        expectError(response, 400, 'error-content-mismatch');
        expect(world.files).toHaveLength(0);
    });

    it('refuses HTML sent without a type or extension with error-type-not-allowed (active content)', async () => {
        const world = createWorld();
        const html = Buffer.from('<html><body onload="x()"></body></html>');
        const response = await single(world, pngBody({ file: { name: 'notes', data: html.toString('base64') } }));
        expectError(response, 400, 'error-type-not-allowed', { type: 'text/html' });
    });

    it('refuses an empty file with error-empty-file', async () => {
        expectError(await single(createWorld(), pngBody({ file: { name: 'a.txt', data: '' } })), 400, 'error-empty-file');
    });

    it.each([
        ['a body that is not an object', 'hello', 'body'],
        ['an unknown field', { ...pngBodyStatic(), extra: 1 }, 'extra'],
        ['a missing rid', { file: { name: 'a.txt', data: 'aGk=' } }, 'rid'],
        ['a numeric name', { rid: 'roomA', file: { name: 5, data: 'aGk=' } }, 'file.name'],
        ['a file that is an array', { rid: 'roomA', file: [] }, 'file'],
    ])('refuses %s with error-invalid-body naming the field', async (_what, body, field) => {
        expectError(await single(createWorld(), body), 400, 'error-invalid-body', { field });
    });

    it('refuses bad base64 with error-invalid-base64', async () => {
        const body = { rid: 'roomA', file: { name: 'a.txt', data: 'not base64!' } };
        expectError(await single(createWorld(), body), 400, 'error-invalid-base64', { field: 'file.data' });
    });

    it('answers error-upload-rejected when the store refuses and posts nothing', async () => {
        const world = createWorld();
        world.rejectUploads = 'infected';
        expectError(await single(world, pngBody()), 400, 'error-upload-rejected');
        expect(world.messages).toHaveLength(0);
    });

    it('answers error-upload-rejected when the server stores the file but posts no message', async () => {
        const world = createWorld();
        world.storeWithoutPosting = true;
        const started = Date.now();
        expectError(await single(world, pngBody()), 400, 'error-upload-rejected');
        expect([world.messages.length, world.uploadCalls]).toEqual([0, 1]);
        expect(Date.now() - started).toBeLessThan(5_000); // a second of looking for the message, not a runtime timeout
    });

    it('answers 405 error-method-not-allowed to GET', async () => {
        expectError(await call(createWorld(), UploadFileEndpoint, 'get', {}, { token: 'token-A' }), 405, 'error-method-not-allowed');
    });

    it('answers the preflight with 204 and the allowed origin', async () => {
        const world = createWorld();
        world.appSettings[APP_SETTING_IDS.corsOrigins] = 'https://shop.example';
        const allowed = await call(world, UploadFileEndpoint, 'options', {}, { origin: 'https://shop.example' });
        expect(allowed.status).toBe(204);
        expect(allowed.headers).toMatchObject({
            'access-control-allow-origin': 'https://shop.example',
            'access-control-allow-headers': 'content-type, x-visitor-token, idempotency-key',
        });
        const other = await call(world, UploadFileEndpoint, 'options', {}, { origin: 'https://evil.example' });
        expect(other.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('never writes the visitor token into the log', async () => {
        const world = createWorld();
        await single(world, pngBody());
        await single(world, pngBody({ rid: 'roomB' }));
        expect(JSON.stringify(world.logs)).not.toContain('token-A');
    });
});

function pngBodyStatic() {
    return { rid: 'roomA', file: { name: 'a.txt', data: 'aGk=' } };
}

describe('GET limits', () => {
    it('answers the effective limit: the smallest of server, app and engine', async () => {
        const world = createWorld();
        world.appSettings[APP_SETTING_IDS.maxFileSizeMb] = 3;
        const response = await call(world, LimitsEndpoint, 'get', {}, { token: 'token-A' });
        expect(response.status).toBe(200);
        expect(response.content).toMatchObject({ success: true, maxFileSizeBytes: 3 * 1024 * 1024, chunkSizeBytes: CHUNK_SIZE_BYTES });
    });

    it.each([
        ['no token', undefined],
        ['an unknown token', 'token-X'],
    ])('refuses %s with the same 403 body as every route', async (_what, token) => {
        expectError(await call(createWorld(), LimitsEndpoint, 'get', {}, { token }), 403, 'unauthorized');
    });

    it.each<[string, string, string, string, string, string[], string[]]>([
        ['no list anywhere', '', '', 'image/svg+xml', '', [], ['image/svg+xml']],
        ["the server's white list", 'image/*', '', '', '', ['image/*'], []],
        ["the app's list", '', 'application/pdf, image/png', '', '', ['application/pdf', 'image/png'], []],
        ['both lists: what both allow', 'image/*,application/pdf', 'image/png,text/plain', '', '', ['image/png'], []],
        [
            'both black lists, once each',
            '',
            '',
            'image/svg+xml,text/html',
            'text/html, application/zip',
            [],
            ['image/svg+xml', 'text/html', 'application/zip'],
        ],
    ])('reports the effective type lists with %s', async (_what, serverWhite, appAllowed, serverBlack, appBlocked, allowedTypes, blockedTypes) => {
        const world = createWorld();
        world.serverSettings.FileUpload_MediaTypeWhiteList = serverWhite;
        world.serverSettings.FileUpload_MediaTypeBlackList = serverBlack;
        world.appSettings[APP_SETTING_IDS.allowedTypes] = appAllowed;
        world.appSettings[APP_SETTING_IDS.blockedTypes] = appBlocked;
        const response = await call(world, LimitsEndpoint, 'get', {}, { token: 'token-A' });
        expect(response.status).toBe(200);
        expect(response.content).toMatchObject({ success: true, allowedTypes, blockedTypes });
    });
});

describe('resumable upload', () => {
    const sessions = UploadSessionsEndpoint;

    async function create(world: FakeWorld, file: Buffer, extra: Record<string, unknown> = {}, token = 'token-A') {
        return call(world, sessions, 'post', { rid: 'roomA', name: 'noise.png', size: file.length, type: 'image/png', ...extra }, { token });
    }

    const chunkOf = (file: Buffer, index: number) => file.subarray(index * CHUNK_SIZE_BYTES, (index + 1) * CHUNK_SIZE_BYTES);

    async function send(world: FakeWorld, uploadId: string, file: Buffer, index: number, token = 'token-A', extra: Record<string, unknown> = {}) {
        const bytes = chunkOf(file, index);
        return call(
            world,
            sessions,
            'patch',
            { uploadId, offset: index * CHUNK_SIZE_BYTES, data: bytes.toString('base64'), sha256: sha(bytes), ...extra },
            { token },
        );
    }

    it('takes a file in chunks, posts it with the last one and answers the message', async () => {
        const world = createWorld();
        const created = await create(world, bigPng, { sha256: sha(bigPng), description: 'noise' });
        expect(created.status).toBe(201);
        expect(created.content).toMatchObject({ success: true, offset: 0, size: bigPng.length, chunkSizeBytes: CHUNK_SIZE_BYTES });
        const { uploadId } = created.content;
        const chunks = Math.ceil(bigPng.length / CHUNK_SIZE_BYTES);
        for (let i = 0; i < chunks - 1; i += 1) {
            const answer = await send(world, uploadId, bigPng, i);
            expect(answer.content).toMatchObject({ success: true, offset: (i + 1) * CHUNK_SIZE_BYTES, complete: false });
        }
        const last = await send(world, uploadId, bigPng, chunks - 1);
        expect(last.status).toBe(200);
        expect(last.content).toMatchObject({
            success: true,
            complete: true,
            rid: 'roomA',
            file: { name: 'noise.png' },
            attachments: [{ description: 'noise' }],
        });
        expect(world.files).toHaveLength(1);
        expect(world.files[0].bytes.equals(bigPng)).toBe(true);
        await world.server.whenIdle();
        expect(world.records.filter((r) => r.data.kind === 'chunk')).toHaveLength(0);
    });

    it('accepts chunks out of order within the window; when the last overtook another, complete finishes', async () => {
        const world = createWorld();
        const { uploadId } = (await create(world, bigPng)).content;
        const chunks = Math.ceil(bigPng.length / CHUNK_SIZE_BYTES);
        const last = await send(world, uploadId, bigPng, chunks - 1);
        expect(last.content).toMatchObject({ success: true, offset: 0, complete: false });
        for (let i = 0; i < chunks - 1; i += 1) {
            expect((await send(world, uploadId, bigPng, i)).content).toMatchObject({ complete: false });
        }
        expect(world.messages).toHaveLength(0);
        const done = await call(world, CompleteUploadEndpoint, 'post', { uploadId }, { token: 'token-A' });
        expect(done.content).toMatchObject({ success: true, complete: true, file: { name: 'noise.png' } });
        expect(world.files[0].bytes.equals(bigPng)).toBe(true);
    });

    it('reads only the four gate settings for a chunk that completes nothing', async () => {
        const world = createWorld();
        const { uploadId } = (await create(world, bigPng)).content;
        world.settingReads = [];
        await send(world, uploadId, bigPng, 0);
        expect(world.settingReads.sort()).toEqual(
            ['FileUpload_Enabled', 'Livechat_fileupload_enabled', APP_SETTING_IDS.corsOrigins, APP_SETTING_IDS.enabled].sort(),
        );
    });

    it('refuses a chunk off a chunk boundary with 409 and the server offset', async () => {
        const world = createWorld();
        const { uploadId } = (await create(world, bigPng)).content;
        await send(world, uploadId, bigPng, 0);
        const response = await call(world, sessions, 'patch', { uploadId, offset: 5, data: 'aGk=' }, { token: 'token-A' });
        expectError(response, 409, 'error-offset-mismatch', { offset: CHUNK_SIZE_BYTES });
    });

    it('accepts a retried chunk with the same bytes without effect, refuses other bytes', async () => {
        const world = createWorld();
        const { uploadId } = (await create(world, bigPng)).content;
        await send(world, uploadId, bigPng, 0);
        // What is stored, as contents: a retry may add a copy of its chunk, never another content.
        const contents = (): string[] => [...new Set(world.records.map((r) => [r.data.kind, r.data.index, r.data.sha256, r.data.state].join(':')))];
        const before = contents();
        const again = await send(world, uploadId, bigPng, 0);
        expect(again.content).toMatchObject({ success: true, offset: CHUNK_SIZE_BYTES });
        expect(contents()).toEqual(before);
        const other = Buffer.alloc(CHUNK_SIZE_BYTES, 7);
        const conflict = await call(world, sessions, 'patch', { uploadId, offset: 0, data: other.toString('base64') }, { token: 'token-A' });
        expectError(conflict, 409, 'error-chunk-conflict', { offset: 0 });
    });

    it('refuses a chunk of the wrong length with error-invalid-body, naming data and the expected length', async () => {
        const world = createWorld();
        const { uploadId } = (await create(world, bigPng)).content;
        const short = bigPng.subarray(0, 100);
        const response = await call(world, sessions, 'patch', { uploadId, offset: 0, data: short.toString('base64') }, { token: 'token-A' });
        expectError(response, 400, 'error-invalid-body', { field: 'data', expectedBytes: CHUNK_SIZE_BYTES });
        expect(world.records.filter((r) => r.data.kind === 'chunk')).toHaveLength(0);
    });

    it('refuses a chunk whose sha256 does not match its bytes', async () => {
        const world = createWorld();
        const { uploadId } = (await create(world, bigPng)).content;
        const response = await send(world, uploadId, bigPng, 0, 'token-A', { sha256: 'a'.repeat(64) });
        expectError(response, 400, 'error-checksum-mismatch', { field: 'sha256' });
        expect(world.records.filter((r) => r.data.kind === 'chunk')).toHaveLength(0);
    });

    it('completes idempotently: a second complete answers the same message and posts nothing', async () => {
        const world = createWorld();
        const { uploadId } = (await create(world, bigPng)).content;
        const chunks = Math.ceil(bigPng.length / CHUNK_SIZE_BYTES);
        let last: EndpointAnswer | undefined;
        for (let i = 0; i < chunks; i += 1) {
            last = await send(world, uploadId, bigPng, i);
        }
        const again = await call(world, CompleteUploadEndpoint, 'post', { uploadId }, { token: 'token-A' });
        expect(again.status).toBe(200);
        expect(again.content._id).toBe(last?.content._id);
        expect(world.messages).toHaveLength(1);
    });

    it('refuses completion while bytes are missing with the offset', async () => {
        const world = createWorld();
        const { uploadId } = (await create(world, bigPng)).content;
        await send(world, uploadId, bigPng, 0);
        const response = await call(world, CompleteUploadEndpoint, 'post', { uploadId }, { token: 'token-A' });
        expectError(response, 409, 'error-upload-incomplete', { offset: CHUNK_SIZE_BYTES });
    });

    it("answers another visitor's token on a session with the same 403 as a bad token", async () => {
        const world = createWorld();
        world.visitors.push({ id: 'visitor2', token: 'token-B', username: 'guest-2', name: 'Bob' });
        const { uploadId } = (await create(world, bigPng)).content;
        expectError(await send(world, uploadId, bigPng, 0, 'token-B'), 403, 'unauthorized');
        expectError(await call(world, sessions, 'get', {}, { token: 'token-B', query: { uploadId } }), 403, 'unauthorized');
        expectError(await call(world, sessions, 'delete', {}, { token: 'token-B', query: { uploadId } }), 403, 'unauthorized');
    });

    it('refuses a declared size over the limit at creation and stores nothing', async () => {
        const world = createWorld();
        world.appSettings[APP_SETTING_IDS.maxFileSizeMb] = 1;
        const response = await call(world, sessions, 'post', { rid: 'roomA', name: 'big.bin', size: 80 * 1024 * 1024 }, { token: 'token-A' });
        expectError(response, 400, 'error-size-not-allowed', { sizeAllowed: 1024 * 1024 });
        expect(world.records).toHaveLength(0);
    });

    it('refuses a declared blocked type at creation', async () => {
        const world = createWorld();
        const response = await call(world, sessions, 'post', { rid: 'roomA', name: 'logo.svg', size: 100 }, { token: 'token-A' });
        expectError(response, 400, 'error-type-not-allowed', { type: 'image/svg+xml' });
    });

    it('fails the session for good when the whole-file sha256 does not match: chunks removed, the same error again', async () => {
        const world = createWorld();
        const { uploadId } = (await create(world, bigPng, { sha256: 'b'.repeat(64) })).content;
        const chunks = Math.ceil(bigPng.length / CHUNK_SIZE_BYTES);
        let last: EndpointAnswer | undefined;
        for (let i = 0; i < chunks; i += 1) {
            last = await send(world, uploadId, bigPng, i);
        }
        expectError(last!, 400, 'error-checksum-mismatch', { field: 'sha256' });
        await world.server.whenIdle();
        // The session's versions (as created, then failed), the chunks' marks and the end mark; no chunk bytes.
        expect(world.records.map((r) => [r.data.kind, r.data.state ?? null])).toEqual([
            ['session', 'open'],
            ['mark', null],
            ['mark', null],
            ['session', 'failed'],
            ['end', null],
        ]);
        expect(world.messages).toHaveLength(0);
        expectError(await call(world, CompleteUploadEndpoint, 'post', { uploadId }, { token: 'token-A' }), 400, 'error-checksum-mismatch', {
            field: 'sha256',
        });
        expectError(await call(world, sessions, 'get', {}, { token: 'token-A', query: { uploadId } }), 400, 'error-checksum-mismatch', {
            field: 'sha256',
        });
        expect(world.uploadCalls).toBe(0);
    });

    it('limits open sessions per visitor with error-too-many-uploads', async () => {
        const world = createWorld();
        world.appSettings[APP_SETTING_IDS.maxOpenSessions] = 2;
        await create(world, bigPng);
        await create(world, bigPng);
        const third = await create(world, bigPng);
        expect(third.status).toBe(429);
        expect(third.content.error).toBe('error-too-many-uploads');
    });

    it('reports progress with GET and forgets the session after DELETE', async () => {
        const world = createWorld();
        const { uploadId } = (await create(world, bigPng)).content;
        await send(world, uploadId, bigPng, 0);
        const status = await call(world, sessions, 'get', {}, { token: 'token-A', query: { uploadId } });
        expect(status.content).toMatchObject({ success: true, uploadId, offset: CHUNK_SIZE_BYTES, size: bigPng.length, complete: false });
        const aborted = await call(world, sessions, 'delete', {}, { token: 'token-A', query: { uploadId } });
        expect(aborted.content).toEqual({ success: true, uploadId });
        // Chunk bytes go right after the answer; the session's record (aborted), the marks and the end mark stay until its lifetime ends.
        await world.server.whenIdle();
        expect(world.records.map((r) => [r.data.kind, r.data.state ?? null])).toEqual([
            ['session', 'open'],
            ['mark', null],
            ['session', 'aborted'],
            ['end', null],
        ]);
        expectError(await call(world, sessions, 'get', {}, { token: 'token-A', query: { uploadId } }), 404, 'error-upload-not-found');
        expectError(await send(world, uploadId, bigPng, 1), 404, 'error-upload-not-found');
        expectError(await call(world, sessions, 'delete', {}, { token: 'token-A', query: { uploadId } }), 404, 'error-upload-not-found');
    });

    it('answers error-upload-expired after the lifetime, stores nothing more, and the job ends it, then removes everything after the grace', async () => {
        const world = createWorld();
        const { uploadId } = (await create(world, bigPng)).content;
        await send(world, uploadId, bigPng, 0);
        const before = structuredClone(world.records);
        world.clockOffsetMs = 24 * 3600 * 1000 + 1;
        expectError(await send(world, uploadId, bigPng, 1), 410, 'error-upload-expired');
        expectError(await call(world, CompleteUploadEndpoint, 'post', { uploadId }, { token: 'token-A' }), 410, 'error-upload-expired');
        expect(world.records).toEqual(before);

        const { read, persis } = asEngineAccessors(createAccessors(world));
        expect(await removeExpiredSessions(read, persis, Date.now() + world.clockOffsetMs)).toBe(0);
        expect(world.records.map((r) => r.data.kind)).toEqual([...before.map((r) => r.data.kind), 'end']);
        expect(await removeExpiredSessions(read, persis, Date.now() + world.clockOffsetMs + EXPIRY_GRACE_MS)).toBe(1);
        expect(world.records).toHaveLength(0);
    });
});

describe('the app log', () => {
    it('records a refusal with its code, size and type', async () => {
        const world = createWorld();
        world.serverSettings.FileUpload_MaxFileSize = 10;
        await single(world, pngBody());
        const refusal = world.logs.find((l) => l.items[0] === 'upload refused');
        expect(refusal?.items[1]).toMatchObject({
            route: 'upload',
            code: 'error-size-not-allowed',
            size: png.length,
            type: 'image/png',
            sizeAllowed: 10,
        });
    });

    it('records an upload with its size and type', async () => {
        const world = createWorld();
        await single(world, pngBody());
        const stored = world.logs.find((l) => l.items[0] === 'upload stored');
        expect(stored?.items[1]).toMatchObject({ path: 'single', size: png.length, type: 'image/png' });
    });
});

// Runs last: jest runs the tests of a file in order, so every error answer above has been seen.
describe('every error answer the tests above received', () => {
    it('has the status and exactly the extra fields lib/errors.ts declares for its code', () => {
        expect(seenErrors.length).toBeGreaterThan(20);
        expect(seenErrors.flatMap(findErrorBodyProblems)).toEqual([]);
    });

    it('shows every extra field the table declares for those codes at least once', () => {
        expect(findUnseenFields(seenErrors)).toEqual([]);
    });
});
