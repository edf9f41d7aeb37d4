/** DELETE against a completion, and a keyed POST uploads against the quota and expiry, on two servers of one store. */
import { describe, expect, it } from '@jest/globals';

import { UploadSessionsEndpoint } from '../../endpoints/uploads-endpoint';
import { EXPIRY_GRACE_MS, removeExpiredSessions } from '../../lib/services/uploads';
import { APP_SETTING_IDS } from '../../lib/settings';
import { asEngineAccessors, createAccessors, createServer, type FakeWorld } from '../fakes.cjs';
import { call, chunkOf, resumable } from './api.cjs';
import { calls, Controller, fileOf, gated, gatedAccessors, plainWorld } from './gated.cjs';

const create = (w: FakeWorld, file: Buffer, key?: string, options: Record<string, unknown> = {}) =>
    resumable.create(
        w,
        file,
        { name: 'data.bin', type: 'application/octet-stream' },
        { token: 'token-A', ...(key && { headers: { 'idempotency-key': key } }), ...options },
    );

describe('DELETE and a completion on two servers', () => {
    it('DELETE arriving while the completion holds the claim answers its message', async () => {
        const w = plainWorld();
        const file = fileOf(2);
        const id = (await create(w, file)).content.uploadId;
        await resumable.send(w, id, chunkOf(file, 0), 0);
        const ctl = new Controller();
        const posting = ctl.hold('upload.uploadBuffer', () => true);
        const last = gated.send(w, id, chunkOf(file, 1), 1, w.server, ctl);
        await posting.reached;
        const del = resumable.abort(w, id, { token: 'token-A', server: createServer() });
        await new Promise((r) => setTimeout(r, 50));
        posting.release();
        const [a, d] = await Promise.all([last, del]);
        expect({ d: d.status, same: d.content._id === a.content._id, complete: d.content.complete, messages: w.messages.length }).toEqual({
            d: 200,
            same: true,
            complete: true,
            messages: 1,
        });
    });
    it('a completion arriving while DELETE holds the claim answers 404 and posts nothing', async () => {
        const w = plainWorld();
        const file = fileOf(2);
        const id = (await create(w, file)).content.uploadId;
        await resumable.send(w, id, chunkOf(file, 0), 0);
        const ctl = new Controller();
        const saving = ctl.hold(
            'persis.createWithAssociations',
            calls.insert('session', (d) => d.state === 'aborted'),
        );
        const del = call(w, UploadSessionsEndpoint, 'delete', {}, { token: 'token-A', query: { uploadId: id }, accessors: gatedAccessors(w, ctl) });
        await saving.reached;
        const last = resumable.send(w, id, chunkOf(file, 1), 1, { token: 'token-A', server: createServer() });
        await new Promise((r) => setTimeout(r, 50));
        saving.release();
        const [d, l] = await Promise.all([del, last]);
        expect({ d: d.status, l: l.status, error: l.content.error, messages: w.messages.length }).toEqual({
            d: 200,
            l: 404,
            error: 'error-upload-not-found',
            messages: 0,
        });
    });
});

describe('a keyed POST uploads on two servers with the quota at its limit', () => {
    it('creates one session; both answer it', async () => {
        const w = plainWorld();
        w.appSettings[APP_SETTING_IDS.maxOpenSessions] = 2;
        await create(w, fileOf(2));
        const ctl = new Controller();
        const inserting = ctl.hold('persis.createWithAssociations', calls.insert('session'));
        const body = { rid: 'roomA', name: 'data.bin', type: 'application/octet-stream', size: fileOf(2).length };
        const first = call(w, UploadSessionsEndpoint, 'post', body, {
            token: 'token-A',
            headers: { 'idempotency-key': '"k"' },
            accessors: gatedAccessors(w, ctl),
        });
        await inserting.reached;
        const second = call(w, UploadSessionsEndpoint, 'post', body, {
            token: 'token-A',
            headers: { 'idempotency-key': '"k"' },
            server: createServer(),
        });
        await new Promise((r) => setTimeout(r, 50));
        inserting.release();
        const [a, b] = await Promise.all([first, second]);
        const sessions = new Set(w.records.filter((r) => r.data.kind === 'session').map((r) => r.data.id));
        expect({ a: a.status, b: b.status, same: a.content.uploadId === b.content.uploadId, sessions: sessions.size }).toEqual({
            a: 201,
            b: 201,
            same: true,
            sessions: 2,
        });
    });
});

describe('a keyed POST uploads and expiry', () => {
    it('a repeat after the lifetime creates a new session; the job leaves no record of either behind', async () => {
        const w = plainWorld();
        const file = fileOf(2);
        const first = await create(w, file, '"k"');
        const expiresAt = Date.parse(first.content.expiresAt);
        const { read, persis } = asEngineAccessors(createAccessors(w));
        await removeExpiredSessions(read, persis, expiresAt + 1);
        w.clockOffsetMs = expiresAt + 2 - Date.now();
        const again = await create(w, file, '"k"');
        expect(again.status).toBe(201);
        expect(again.content.uploadId).not.toBe(first.content.uploadId);
        const end = Date.parse(again.content.expiresAt) + EXPIRY_GRACE_MS + 1;
        await removeExpiredSessions(read, persis, end);
        await removeExpiredSessions(read, persis, end);
        expect(w.records.map((r) => r.data.kind)).toEqual([]);
    });
});
