/**
 * What an upload that ended answers on every route, also when a call around its end failed, each
 * interleaving driven call by call (test/unit/gated.cts).
 */

import { describe, expect, it } from '@jest/globals';

import { type FakeWorld } from '../fakes.cjs';
import { chunkOf, expectError, resumable, sha } from './api.cjs';
import { calls, Controller, fileOf, gated, plainWorld } from './gated.cjs';

async function create(w: FakeWorld, file: Buffer, extra: Record<string, unknown> = {}, key?: string) {
    return resumable.create(
        w,
        file,
        { name: 'data.bin', type: 'application/octet-stream', ...extra },
        { token: 'token-A', ...(key && { headers: { 'idempotency-key': key } }) },
    );
}

describe('DELETE after a completion posted the file but could not write its outcome', () => {
    it('answers the message (as POST uploads/complete would), not an abort of a file that is in the room', async () => {
        const w = plainWorld();
        const file = fileOf(2);
        const id = (await create(w, file, { sha256: sha(file) })).content.uploadId;
        expect((await resumable.send(w, id, chunkOf(file, 0), 0)).status).toBe(200);
        w.failAfterUpload = 'bridge error'; // posts, then its read of the room fails: 500, posting attempt left
        expectError(await resumable.send(w, id, chunkOf(file, 1), 1), 500, 'error-server');
        delete w.failAfterUpload;
        expect(w.messages).toHaveLength(1);

        // The client library gives up (its retries spent) and, without a resume store, aborts; or the visitor cancels.
        const cancelled = await resumable.abort(w, id);
        expect({ status: cancelled.status, complete: cancelled.content.complete, _id: cancelled.content._id }).toEqual({
            status: 200,
            complete: true,
            _id: w.messages[0].id,
        });
    });
});

describe('a keyed POST uploads repeated after its upload ended', () => {
    it('after it was posted: answers the message, as every other route of the upload does', async () => {
        const w = plainWorld();
        const file = fileOf(2);
        const first = await create(w, file, {}, '"k-done"');
        const id = first.content.uploadId;
        await resumable.send(w, id, chunkOf(file, 0), 0);
        const done = await resumable.send(w, id, chunkOf(file, 1), 1);
        expect(done.content).toMatchObject({ complete: true });
        const again = await create(w, file, {}, '"k-done"');
        expect({ status: again.status, complete: again.content.complete, _id: again.content._id }).toEqual({
            status: 200,
            complete: true,
            _id: done.content._id,
        });
    });

    it('after it failed for good: answers its refusal, not an open session at its offset', async () => {
        const w = plainWorld();
        const file = fileOf(2);
        const first = await create(w, file, { sha256: sha(Buffer.from('another file')) }, '"k-failed"');
        const id = first.content.uploadId;
        await resumable.send(w, id, chunkOf(file, 0), 0);
        expectError(await resumable.send(w, id, chunkOf(file, 1), 1), 400, 'error-checksum-mismatch', { field: 'sha256' });
        const again = await create(w, file, { sha256: sha(Buffer.from('another file')) }, '"k-failed"');
        expect({ status: again.status, error: again.content.error }).toEqual({ status: 400, error: 'error-checksum-mismatch' });
    });

    it('after it was aborted: answers 404 error-upload-not-found, as its other routes do', async () => {
        const w = plainWorld();
        const file = fileOf(2);
        const first = await create(w, file, {}, '"k-aborted"');
        expect((await resumable.abort(w, first.content.uploadId)).status).toBe(200);
        const again = await create(w, file, {}, '"k-aborted"');
        // Shows the current answer; docs/API.md lists no 404 for POST uploads.
        expect({ status: again.status, error: again.content.error }).toEqual({ status: 404, error: 'error-upload-not-found' });
    });
});

describe('a repeated completion of a finished upload while the expiry job removes it', () => {
    it('leaves no record behind', async () => {
        const { removeExpiredSessions, EXPIRY_GRACE_MS } = await import('../../lib/services/uploads');
        const { asEngineAccessors, createAccessors } = await import('../fakes.cjs');
        const w = plainWorld();
        const file = fileOf(2);
        const id = (await create(w, file)).content.uploadId;
        await resumable.send(w, id, chunkOf(file, 0), 0);
        const done = await resumable.send(w, id, chunkOf(file, 1), 1);
        expect(done.content).toMatchObject({ complete: true });
        await w.server.whenIdle();
        const expiresAt = Date.parse(done.content.expiresAt);
        w.clockOffsetMs = expiresAt + EXPIRY_GRACE_MS + 1 - Date.now(); // the request comes when the job removes the upload

        const ctl = new Controller();
        const look = ctl.hold('reader.readByAssociation', calls.readSlot(id, 0)); // loadEndedSession's look for the end mark
        const repeated = gated.complete(w, id, w.server, ctl);
        await Promise.race([look.reached, new Promise((r) => setTimeout(r, 100))]); // (a fixed app may not look at all)
        const { read, persis } = asEngineAccessors(createAccessors(w));
        await removeExpiredSessions(read, persis, expiresAt + EXPIRY_GRACE_MS + 1); // removes everything of the upload
        look.release();
        await repeated;
        await w.server.whenIdle();
        const left = w.records.filter((r) => r.keys.includes(`misc:livechat-upload:upload:${id}`)).map((r) => r.data.kind);
        expect(left).toEqual([]);
    });
});

describe('a keyed POST uploads whose idempotency record could not be written', () => {
    it('leaves one session, not two, once the client repeats it with the same key', async () => {
        const w = plainWorld();
        const file = fileOf(2);
        const { call } = await import('./api.cjs');
        const { UploadSessionsEndpoint } = await import('../../endpoints/uploads-endpoint');
        const { gatedAccessors } = await import('./gated.cjs');
        const ctl = new Controller();
        ctl.fail('persis.createWithAssociations', calls.insert('idempotency'));
        const body = { rid: 'roomA', name: 'data.bin', type: 'application/octet-stream', size: file.length };
        const keyed = { token: 'token-A', headers: { 'idempotency-key': '"k"' } };
        expectError(await call(w, UploadSessionsEndpoint, 'post', body, { ...keyed, accessors: gatedAccessors(w, ctl) }), 500, 'error-server');
        const again = await call(w, UploadSessionsEndpoint, 'post', body, keyed);
        expect(again.status).toBe(201);
        const open = new Set(w.records.filter((r) => r.data.kind === 'session' && r.data.state === 'open').map((r) => r.data.id));
        expect(open.size).toBe(1);
    });
});
