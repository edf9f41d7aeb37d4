import { randomBytes } from 'crypto';
import { join } from 'path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { ERRORS } from '../../lib/errors';
import { findErrorBodyProblems, findUnseenFields, type SeenError } from '../error-bodies.cjs';
import { makePhoto, makePng } from './files.cjs';
import {
    callApp,
    closeRoom,
    history,
    installApp,
    newVisitor,
    removeApp,
    type Reply,
    setAppSetting,
    setServerSetting,
    sha256,
    startTarget,
    type Target,
    type Visitor,
} from './harness.cjs';

jest.setTimeout(120_000);

let target: Target;
let visitor: Visitor;
let png: Buffer;

beforeAll(async () => {
    target = await startTarget();
    visitor = await newVisitor(target);
    png = (await makePng()).bytes;
});

afterAll(async () => {
    await target?.stop();
});

const MIB = 1024 * 1024;

/** Every error answer of this file, checked against the error table by the last test. */
const seenErrors: SeenError[] = [];

/** The documented error body: both fields carry the code, a message, and the code's extra fields. */
function expectDocumented(reply: Reply, code: keyof typeof ERRORS, extra: Record<string, unknown> = {}): void {
    seenErrors.push({ status: reply.status, body: reply.body });
    expect({ status: reply.status, body: reply.body }).toEqual({
        status: ERRORS[code].status,
        body: { success: false, error: code, reason: code, message: ERRORS[code].message, ...extra },
    });
    expect(reply.headers.get('access-control-allow-origin')).toBe('*');
}

const single = (body: unknown, token: string | undefined = visitor.token) => callApp(target, 'POST', 'upload', { token, body });
const create = (body: Record<string, unknown>, token = visitor.token) =>
    callApp(target, 'POST', 'uploads', { token, body: { rid: visitor.rid, ...body } });
const chunk = (body: Record<string, unknown>, token = visitor.token) => callApp(target, 'PATCH', 'uploads', { token, body });

async function withSetting<T>(set: (value: unknown) => Promise<void>, value: unknown, restore: unknown, run: () => Promise<T>): Promise<T> {
    await set(value);
    try {
        return await run();
    } finally {
        await set(restore);
    }
}

describe('every documented 4xx, over HTTP, with its documented body', () => {
    it("unauthorized: no token, an unknown token, a closed room, another visitor's room or upload", async () => {
        const file = { name: 'a.png', data: png.toString('base64') };
        expectDocumented(await callApp(target, 'POST', 'upload', { body: { rid: visitor.rid, file } }), 'unauthorized');
        expectDocumented(await single({ rid: visitor.rid, file }, 'no-such-token'), 'unauthorized');
        const other = await newVisitor(target, 'Other');
        expectDocumented(await single({ rid: other.rid, file }), 'unauthorized');
        const { body } = await create({ name: 'x.bin', size: 10 });
        expectDocumented(await callApp(target, 'GET', 'uploads', { token: other.token, query: { uploadId: body.uploadId } }), 'unauthorized');
        const closing = await newVisitor(target, 'Leaving');
        await closeRoom(target, closing);
        expectDocumented(await single({ rid: closing.rid, file }, closing.token), 'unauthorized');
    });

    it.each(['FileUpload_Enabled', 'Livechat_fileupload_enabled'])('error-file-upload-disabled when %s is off', async (id) => {
        const reply = await withSetting(
            (v) => setServerSetting(target, id, v),
            false,
            true,
            () => single({ rid: visitor.rid, file: { name: 'a.png', data: png.toString('base64') } }),
        );
        expectDocumented(reply, 'error-file-upload-disabled');
    });

    it('error-size-not-allowed at creation, with the allowed size', async () => {
        expectDocumented(await create({ name: 'movie.bin', size: 200 * MIB }), 'error-size-not-allowed', { sizeAllowed: 16 * MIB });
        const reply = await withSetting(
            (v) => setServerSetting(target, 'FileUpload_MaxFileSize', v),
            1000,
            104857600,
            () => create({ name: 'a.bin', size: 1001 }),
        );
        expectDocumented(reply, 'error-size-not-allowed', { sizeAllowed: 1000 });
    });

    it('error-type-not-allowed for an SVG (server black list) and an HTML page (active content)', async () => {
        expectDocumented(await create({ name: 'logo.svg', size: 100 }), 'error-type-not-allowed', { type: 'image/svg+xml' });
        const html = Buffer.from('<!doctype html><script>alert(document.cookie)</script>');
        expectDocumented(await single({ rid: visitor.rid, file: { name: 'page', data: html.toString('base64') } }), 'error-type-not-allowed', {
            type: 'text/html',
        });
    });

    it('error-content-mismatch for HTML bytes named .png', async () => {
        const html = Buffer.from('<html><body>not a picture</body></html>');
        expectDocumented(
            await single({ rid: visitor.rid, file: { name: 'cat.png', type: 'image/png', data: html.toString('base64') } }),
            'error-content-mismatch',
        );
    });

    it('error-content-unknown for unrecognised bytes under the strict content check', async () => {
        const reply = await withSetting(
            (v) => setAppSetting(target, 'livechat_upload_content_check', v),
            'strict',
            'standard',
            () => single({ rid: visitor.rid, file: { name: 'blob.bin', data: randomBytes(300).toString('base64') } }),
        );
        expectDocumented(reply, 'error-content-unknown');
    });

    it('error-content-malformed for a cut-off JPEG whose metadata cannot be removed', async () => {
        const cut = (await makePhoto(1)).bytes.subarray(0, 400);
        expectDocumented(await single({ rid: visitor.rid, file: { name: 'cut.jpg', data: cut.toString('base64') } }), 'error-content-malformed');
    });

    it('error-empty-file, error-invalid-file-name, error-invalid-body, error-invalid-base64', async () => {
        expectDocumented(await single({ rid: visitor.rid, file: { name: 'a.txt', data: '' } }), 'error-empty-file');
        expectDocumented(await single({ rid: visitor.rid, file: { name: '..', data: 'aGk=' } }), 'error-invalid-file-name');
        expectDocumented(await single({ rid: visitor.rid, file: { name: 'a.txt', data: 'aGk=' }, owner: 'x' }), 'error-invalid-body', {
            field: 'owner',
        });
        expectDocumented(await create({ name: 'a.txt', size: '12' }), 'error-invalid-body', { field: 'size' });
        expectDocumented(await single({ rid: visitor.rid, file: { name: 'a.txt', data: 'aGk!' } }), 'error-invalid-base64', { field: 'file.data' });
    });

    it('error-invalid-body for a multipart body, which reaches the app as {}', async () => {
        const form = new FormData();
        form.append('file', new Blob([png]), 'a.png');
        const response = await fetch(`${target.url}/api/apps/public/12bafb30-fcbd-4472-9756-77fd8b9ea330/upload`, {
            method: 'POST',
            headers: { 'x-visitor-token': visitor.token },
            body: form,
        });
        expectDocumented({ status: response.status, body: await response.json(), headers: response.headers }, 'error-invalid-body', { field: 'rid' });
    });

    it('the chunk errors: checksum, offset, length, conflict, incomplete, not found', async () => {
        const bytes = randomBytes(100_000);
        const { body } = await create({ name: 'data.bin', size: bytes.length });
        const { uploadId, chunkSizeBytes } = body;
        const first = bytes.subarray(0, chunkSizeBytes);
        expectDocumented(
            await chunk({ uploadId, offset: 0, data: first.toString('base64'), sha256: sha256(Buffer.from('other')) }),
            'error-checksum-mismatch',
            { field: 'sha256' },
        );
        expect((await chunk({ uploadId, offset: 0, data: first.toString('base64'), sha256: sha256(first) })).body).toMatchObject({
            success: true,
            offset: chunkSizeBytes,
        });
        expectDocumented(await chunk({ uploadId, offset: 5, data: 'aGk=' }), 'error-offset-mismatch', { offset: chunkSizeBytes });
        expectDocumented(await chunk({ uploadId, offset: chunkSizeBytes, data: 'aGk=' }), 'error-invalid-body', {
            field: 'data',
            expectedBytes: bytes.length - chunkSizeBytes,
        });
        expectDocumented(await chunk({ uploadId, offset: 0, data: Buffer.alloc(chunkSizeBytes).toString('base64') }), 'error-chunk-conflict', {
            offset: 0,
        });
        expectDocumented(await callApp(target, 'POST', 'uploads/complete', { token: visitor.token, body: { uploadId } }), 'error-upload-incomplete', {
            offset: chunkSizeBytes,
        });
        expectDocumented(
            await callApp(target, 'GET', 'uploads', { token: visitor.token, query: { uploadId: 'no-such-upload' } }),
            'error-upload-not-found',
        );
        expect((await callApp(target, 'DELETE', 'uploads', { token: visitor.token, query: { uploadId } })).body).toEqual({ success: true, uploadId });
        expectDocumented(await callApp(target, 'GET', 'uploads', { token: visitor.token, query: { uploadId } }), 'error-upload-not-found');
    });

    it('error-method-not-allowed for PUT', async () => {
        expectDocumented(await callApp(target, 'PUT', 'upload', { token: visitor.token, body: {} }), 'error-method-not-allowed');
    });

    it('405 for HEAD on every route (the answer to HEAD carries no body)', async () => {
        for (const route of ['limits', 'upload', 'uploads', 'uploads/complete']) {
            const reply = await callApp(target, 'HEAD', route, { token: visitor.token });
            expect({ route, status: reply.status, body: reply.body }).toEqual({ route, status: 405, body: '' });
        }
    });

    it('error-upload-expired once the session lifetime has passed', async () => {
        const reply = await withSetting(
            (v) => setAppSetting(target, 'livechat_upload_session_ttl_hours', v),
            0.0003,
            24,
            async () => {
                const { body } = await create({ name: 'slow.bin', size: 10 });
                await new Promise((resolve) => setTimeout(resolve, 1500));
                return callApp(target, 'GET', 'uploads', { token: visitor.token, query: { uploadId: body.uploadId } });
            },
        );
        expectDocumented(reply, 'error-upload-expired');
    });

    it('error-too-many-uploads past the open sessions a visitor may have', async () => {
        const someone = await newVisitor(target, 'Busy');
        const reply = await withSetting(
            (v) => setAppSetting(target, 'livechat_upload_max_open_sessions', v),
            2,
            5,
            async () => {
                await create({ rid: someone.rid, name: 'a.bin', size: 10 }, someone.token);
                await create({ rid: someone.rid, name: 'b.bin', size: 10 }, someone.token);
                return create({ rid: someone.rid, name: 'c.bin', size: 10 }, someone.token);
            },
        );
        expectDocumented(reply, 'error-too-many-uploads', { maxOpenSessions: 2, maxStagedBytes: 100 * MIB });
    });

    it('error-upload-rejected when a scanning app beside ours refuses the file in IPreFileUpload', async () => {
        const scannerId = await installApp(target, join(__dirname, '..', '..', '.host', 'fixtures', 'scanner-app', 'dist', 'test-scanner_0.0.1.zip'));
        try {
            // The EICAR test string: harmless, and every scanner's agreed "this is a virus" marker.
            const eicar = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*');
            expectDocumented(
                await single({ rid: visitor.rid, file: { name: 'eicar.txt', data: eicar.toString('base64') } }),
                'error-upload-rejected',
            );
            const clean = await single({ rid: visitor.rid, file: { name: 'clean.txt', data: Buffer.from('hello').toString('base64') } });
            expect(clean.status).toBe(200);
        } finally {
            await removeApp(target, scannerId);
        }
    });

    it("a body over 100 KB gets the host's 413 before the app runs", async () => {
        const reply = await single({ rid: visitor.rid, file: { name: 'big.bin', data: randomBytes(90_000).toString('base64') } });
        expect(reply.status).toBe(413);
    });

    it('none of the refused requests left a message in the room', async () => {
        expect((await history(target, visitor)).filter((m) => m.file).map((m) => m.file?.name)).toEqual(['clean.txt']);
    });

    it('answered every refusal above with the status and exactly the extra fields lib/errors.ts declares', () => {
        expect(seenErrors.flatMap(findErrorBodyProblems)).toEqual([]);
        expect(findUnseenFields(seenErrors)).toEqual([]);
    });
});
