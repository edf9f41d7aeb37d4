/**
 * One upload, one message: requests that arrive at the same instant, on one server (one app
 * process, requests interleaving at every await) or on several servers of a cluster sharing one
 * persistence. Each test asserts every answer (status and body) and what the room holds.
 */
import { randomBytes } from 'crypto';

import { describe, expect, it } from '@jest/globals';

import { APP_SETTING_IDS } from '../../lib/settings';
import { createServer, createWorld, type FakeWorld } from '../fakes.cjs';
import { findErrorBodyProblems, findUnseenFields } from '../error-bodies.cjs';
import { chunkCount, chunkOf, type EndpointAnswer, expectError, resumable, seenErrors, sha, single } from './api.cjs';

/** A world whose content check trusts the name, so files can be random bytes. */
function world(): FakeWorld {
    const w = createWorld();
    w.appSettings[APP_SETTING_IDS.contentCheck] = 'off';
    return w;
}

const fileOf = (chunks: number): Buffer => randomBytes(76_608 * (chunks - 1) + 1_000);

async function createFile(w: FakeWorld, file: Buffer, name = 'data.bin'): Promise<string> {
    const created = await resumable.create(w, file, { name, type: 'application/octet-stream', sha256: sha(file) });
    expect(created.status).toBe(201);
    return created.content.uploadId;
}

async function sendAllButLast(w: FakeWorld, uploadId: string, file: Buffer): Promise<void> {
    for (let i = 0; i < chunkCount(file) - 1; i += 1) {
        expect((await resumable.send(w, uploadId, chunkOf(file, i), i)).status).toBe(200);
    }
}

/** The sha256 of the stored bytes of every message of the room that carries a file. */
function postedFiles(w: FakeWorld): string[] {
    return w.messages.filter((m) => m.file).map((m) => sha(w.files.find((f) => f.id === m.file._id)!.bytes));
}

function expectOneMessage(w: FakeWorld, file: Buffer, answers: EndpointAnswer[]): void {
    expect(postedFiles(w)).toEqual([sha(file)]);
    expect(w.uploadCalls).toBe(1);
    for (const answer of answers) {
        expect(answer.status).toBe(200);
        expect(answer.content).toMatchObject({ success: true, complete: true, _id: w.messages[0].id, file: { name: 'data.bin' } });
    }
}

describe('completion happens once', () => {
    it('answers six completes sent at once on one server with one message', async () => {
        const w = world();
        w.uploadDelayMs = 50;
        const file = fileOf(3);
        const uploadId = await createFile(w, file);
        for (let i = 0; i < 3; i += 1) {
            await resumable.send(w, uploadId, chunkOf(file, i), i).then((a) => i < 2 && expect(a.content.complete).toBe(false));
        }
        // The last chunk completed: every further complete answers the same message.
        const answers = await Promise.all(Array.from({ length: 6 }, () => resumable.complete(w, uploadId)));
        expectOneMessage(w, file, answers);
    });

    it('answers six completes sent at once, before any completed, on three servers with one message', async () => {
        const w = world();
        w.uploadDelayMs = 50;
        const file = fileOf(3);
        const uploadId = await createFile(w, file);
        await sendAllButLast(w, uploadId, file);
        // The last chunk lands on a server whose answer is lost; completes race on three servers.
        const servers = [w.server, createServer(), createServer()];
        const last = resumable.send(w, uploadId, chunkOf(file, 2), 2, { token: 'token-A', server: servers[1] });
        const answers = await Promise.all([
            last,
            ...Array.from({ length: 6 }, (_, i) => resumable.complete(w, uploadId, { token: 'token-A', server: servers[i % 3] })),
        ]);
        expectOneMessage(w, file, answers);
    });

    it('answers the last chunk retried five times while the first is completing, on two servers, with one message', async () => {
        const w = world();
        w.uploadDelayMs = 80;
        const file = fileOf(2);
        const uploadId = await createFile(w, file);
        await sendAllButLast(w, uploadId, file);
        const other = createServer();
        const answers = await Promise.all(
            Array.from({ length: 6 }, (_, i) =>
                resumable.send(w, uploadId, chunkOf(file, 1), 1, { token: 'token-A', server: i % 2 ? other : w.server }),
            ),
        );
        expectOneMessage(w, file, answers);
        expect(w.records.filter((r) => r.data.kind === 'claim')).toEqual([]);
    });

    it('keeps a slow completion alone by renewing its claim: a completion longer than the stale time still posts once', async () => {
        const timing = { waitLimitMs: 5_000, pollMs: 10, claimRenewMs: 50, claimStaleMs: 300, settingsTtlMs: 0 };
        const w2 = world();
        w2.uploadDelayMs = 1_200; // four times the stale time
        const file = fileOf(2);
        const id2 = await createFile(w2, file);
        await sendAllButLast(w2, id2, file);
        const [slow, other] = [createServer(timing), createServer(timing)];
        const first = resumable.send(w2, id2, chunkOf(file, 1), 1, { token: 'token-A', server: slow });
        await new Promise((resolve) => setTimeout(resolve, 600)); // past the stale time, mid-upload
        const second = resumable.complete(w2, id2, { token: 'token-A', server: other });
        expectOneMessage(w2, file, await Promise.all([first, second]));
    });

    it('answers error-upload-in-progress with Retry-After when the winner takes longer than a request may wait', async () => {
        const w = world();
        const patient = createServer({ waitLimitMs: 200, pollMs: 10, claimRenewMs: 50, claimStaleMs: 300, settingsTtlMs: 0 });
        w.uploadDelayMs = 700;
        const file = fileOf(2);
        const uploadId = await createFile(w, file);
        await sendAllButLast(w, uploadId, file);
        const first = resumable.send(w, uploadId, chunkOf(file, 1), 1);
        await new Promise((resolve) => setTimeout(resolve, 50));
        const waiter = await resumable.complete(w, uploadId, { token: 'token-A', server: patient });
        expectError(waiter, 409, 'error-upload-in-progress', { retryAfterMs: 2000 });
        expect(waiter.headers['retry-after']).toBe('2');
        expectOneMessage(w, file, [await first]);
        expectOneMessage(w, file, [await resumable.complete(w, uploadId, { token: 'token-A', server: patient })]);
    });

    it('finds the message of a server that died between posting and recording it, and posts nothing new', async () => {
        const w = world();
        const file = fileOf(2);
        const uploadId = await createFile(w, file);
        await sendAllButLast(w, uploadId, file);
        await resumable.send(w, uploadId, chunkOf(file, 1), 1);
        // Rewind what the dying server had written: the message is in the room, the session's last
        // version the one with its posting attempt, and its claim left behind, no longer renewed.
        await w.server.whenIdle();
        w.records = w.records.filter((r) => !(r.data.kind === 'session' && r.data.state === 'done') && r.data.kind !== 'end');
        expect(w.records.filter((r) => r.data.kind === 'session').map((r) => [r.data.state, Boolean(r.data.posting)])).toEqual([
            ['open', false],
            ['open', true],
        ]);
        const message = w.messages[0];
        w.records.push({
            id: 'dead-claim',
            data: { kind: 'claim', key: `complete:${uploadId}`, claimId: 'dead', sinceMs: Date.now() - 1_000, renewedAtMs: Date.now() - 1_000 },
            keys: [`misc:livechat-upload:claims:complete:${uploadId}`, 'misc:livechat-upload:claim:dead', `misc:livechat-upload:upload:${uploadId}`],
        });
        w.records.push(...chunkBytesRecords(uploadId, file));
        const other = createServer();
        const answer = await resumable.complete(w, uploadId, { token: 'token-A', server: other });
        expect(answer.status).toBe(200);
        expect(answer.content).toMatchObject({ success: true, complete: true, _id: message.id });
        expect(w.uploadCalls).toBe(1);
        expect(postedFiles(w)).toEqual([sha(file)]);
        // The chunk bytes go right after the answer; the session, its small marks and its end mark stay until the lifetime ends.
        await other.whenIdle();
        expect(w.records.map((r) => r.data.kind).sort()).toEqual(['end', 'mark', 'mark', 'session', 'session', 'session']);
    });

    it('finds the message of a completion whose upload call failed after posting (a runtime timeout), and posts nothing new', async () => {
        const w = world();
        const file = fileOf(2);
        const uploadId = await createFile(w, file);
        await sendAllButLast(w, uploadId, file);
        w.failAfterUpload = 'runtime timeout';
        const failed = await resumable.send(w, uploadId, chunkOf(file, 1), 1);
        expectError(failed, 500, 'error-server');
        delete w.failAfterUpload;
        const retried = await resumable.complete(w, uploadId);
        expectOneMessage(w, file, [retried]);
    });
});

/** Chunk byte records as the store writes them, to put back what a finished completion removed. */
function chunkBytesRecords(uploadId: string, file: Buffer): FakeWorld['records'] {
    const key = (...parts: Array<string | number>) => `misc:livechat-upload:${parts.join(':')}`;
    return Array.from({ length: chunkCount(file) }, (_, index) => {
        const bytes = chunkOf(file, index);
        const hash = sha(bytes);
        return {
            id: `c${index}`,
            data: { kind: 'chunk', index, sha256: hash, data: bytes.toString('base64') },
            keys: [
                key('chunk', uploadId, index, hash),
                key('chunk', uploadId, index),
                key('chunk-group', uploadId, 0),
                key('chunks', uploadId),
                key('upload', uploadId),
            ],
        };
    });
}

describe('a chunk marked but without its bytes', () => {
    it('makes completion answer error-upload-incomplete at its offset, fails nothing, and completes once the chunk is sent again', async () => {
        const w = world();
        const file = fileOf(3);
        const uploadId = await createFile(w, file);
        await sendAllButLast(w, uploadId, file);
        // The bytes of chunk 1 are gone (a write still in flight on another server, or lost); its mark is there.
        w.records = w.records.filter((r) => !(r.data.kind === 'chunk' && r.data.index === 1));
        const last = await resumable.send(w, uploadId, chunkOf(file, 2), 2);
        expectError(last, 409, 'error-upload-incomplete', { offset: 76_608 });
        expect(w.uploadCalls).toBe(0);
        expect((await resumable.status(w, uploadId)).content).toMatchObject({ success: true, offset: 76_608, complete: false });
        expect((await resumable.send(w, uploadId, chunkOf(file, 1), 1)).status).toBe(200);
        expectOneMessage(w, file, [await resumable.complete(w, uploadId)]);
    });
});

describe('one content per chunk', () => {
    it('answers two different chunks sent at once at one offset on one server with one 200 and one error-chunk-conflict', async () => {
        const w = world();
        const file = fileOf(3);
        const uploadId = await createFile(w, file);
        const other = Buffer.from(chunkOf(file, 0)).fill(7);
        const [a, b] = await Promise.all([resumable.send(w, uploadId, chunkOf(file, 0), 0), resumable.send(w, uploadId, other, 0)]);
        expect(a.status).toBe(200);
        expect(a.content).toMatchObject({ success: true, offset: 76_608 });
        expectError(b, 409, 'error-chunk-conflict', { offset: 0 });
        expect(w.records.filter((r) => r.data.kind === 'mark').map((r) => r.data.sha256)).toEqual([sha(chunkOf(file, 0))]);
    });

    it('never keeps two contents at one offset sent at once on two servers; the file posted is the one accepted', async () => {
        const w = world();
        const file = fileOf(2);
        const uploadId = await createFile(w, file, 'data.bin');
        const variants = [chunkOf(file, 0), Buffer.from(chunkOf(file, 0)).fill(9)];
        const other = createServer();
        const answers = await Promise.all(
            variants.map((bytes, i) => resumable.send(w, uploadId, bytes, 0, { token: 'token-A', server: i ? other : w.server })),
        );
        const accepted = answers.map((a, i) => (a.status === 200 ? i : -1)).filter((i) => i >= 0);
        expect(accepted.length).toBeLessThanOrEqual(1);
        answers.filter((a) => a.status !== 200).forEach((a) => expectError(a, 409, 'error-chunk-conflict', { offset: 0 }));
        const marks = w.records.filter((r) => r.data.kind === 'mark');
        expect(marks.map((r) => r.data.sha256)).toEqual(accepted.map((i) => sha(variants[i])));
    });
});

describe('a chunk sent again', () => {
    const chunkRecords = (w: FakeWorld, kind: 'chunk' | 'mark', index: number): Array<Record<string, unknown>> =>
        w.records.filter((r) => r.data.kind === kind && r.data.index === index).map((r) => r.data);

    it('keeps one copy however often one server is sent the same chunk', async () => {
        const w = world();
        const file = fileOf(2);
        const uploadId = await createFile(w, file);
        for (let i = 0; i < 10; i += 1) {
            expect((await resumable.send(w, uploadId, chunkOf(file, 0), 0)).content).toMatchObject({
                success: true,
                offset: 76_608,
                complete: false,
            });
        }
        expect(chunkRecords(w, 'chunk', 0)).toHaveLength(1);
        expect(chunkRecords(w, 'mark', 0)).toHaveLength(1);
    });

    it('keeps the accepted bytes when a repeat of them meets different bytes sent at once, on three servers', async () => {
        for (let round = 0; round < 20; round += 1) {
            const w = world();
            const file = fileOf(2);
            const uploadId = await createFile(w, file);
            expect((await resumable.send(w, uploadId, chunkOf(file, 0), 0)).status).toBe(200);
            const other = Buffer.from(chunkOf(file, 0)).fill(5);
            const [second, third] = [createServer(), createServer()];
            const [again, elsewhere, conflicting] = await Promise.all([
                resumable.send(w, uploadId, chunkOf(file, 0), 0),
                resumable.send(w, uploadId, chunkOf(file, 0), 0, { token: 'token-A', server: second }),
                resumable.send(w, uploadId, other, 0, { token: 'token-A', server: third }),
            ]);
            // The server that took the bytes answers 200 again; one that has not seen them may see the
            // conflicting write still in the slot and refuse too; the different bytes are refused.
            expect(again.content).toMatchObject({ success: true, offset: 76_608 });
            if (elsewhere.status !== 200) expectError(elsewhere, 409, 'error-chunk-conflict', { offset: 0 });
            expectError(conflicting, 409, 'error-chunk-conflict', { offset: 0 });
            expect(new Set(chunkRecords(w, 'mark', 0).map((m) => m.sha256))).toEqual(new Set([sha(chunkOf(file, 0))]));
            expect(new Set(chunkRecords(w, 'chunk', 0).map((m) => m.sha256))).toEqual(new Set([sha(chunkOf(file, 0))]));
            for (const server of [w.server, second, third]) {
                expect((await resumable.status(w, uploadId, { token: 'token-A', server })).content).toMatchObject({ offset: 76_608 });
            }
            expectOneMessage(w, file, [await resumable.send(w, uploadId, chunkOf(file, 1), 1, { token: 'token-A', server: third })]);
        }
    });
});

describe('a chunk that reaches a server after the upload ended on another', () => {
    /** An upload whose first chunk `late` has taken (so `late` holds the upload as open), all its chunks stored. */
    async function uploadSeenBy(w: FakeWorld, file: Buffer, late: ReturnType<typeof createServer>): Promise<string> {
        const uploadId = await createFile(w, file);
        expect((await resumable.send(w, uploadId, chunkOf(file, 0), 0, { token: 'token-A', server: late })).status).toBe(200);
        return uploadId;
    }
    const bytesLeft = (w: FakeWorld): number => w.records.filter((r) => r.data.kind === 'chunk').length;

    it('answers the finished message and keeps none of its bytes', async () => {
        const w = world();
        const file = fileOf(3);
        const late = createServer();
        const uploadId = await uploadSeenBy(w, file, late);
        for (let i = 1; i < 3; i += 1) await resumable.send(w, uploadId, chunkOf(file, i), i);
        expectOneMessage(w, file, []);
        await w.server.whenIdle();
        for (const index of [0, 1]) {
            const answer = await resumable.send(w, uploadId, chunkOf(file, index), index, { token: 'token-A', server: late });
            expect(answer.status).toBe(200);
            expect(answer.content).toMatchObject({ success: true, complete: true, _id: w.messages[0].id, offset: file.length });
        }
        expect(bytesLeft(w)).toBe(0);
        expectOneMessage(w, file, []);
    });

    it('answers error-upload-not-found after an abort and keeps none of its bytes', async () => {
        const w = world();
        const file = fileOf(3);
        const late = createServer();
        const uploadId = await uploadSeenBy(w, file, late);
        expect((await resumable.abort(w, uploadId)).content).toEqual({ success: true, uploadId });
        await w.server.whenIdle();
        for (const index of [0, 1, 1]) {
            expectError(
                await resumable.send(w, uploadId, chunkOf(file, index), index, { token: 'token-A', server: late }),
                404,
                'error-upload-not-found',
            );
        }
        expect(bytesLeft(w)).toBe(0);
        expect(w.messages).toHaveLength(0);
    });

    it('answers the refusal that failed the upload and keeps none of its bytes', async () => {
        const w = world();
        const file = fileOf(2);
        const late = createServer();
        const created = await resumable.create(w, file, { name: 'data.bin', type: 'application/octet-stream', sha256: 'c'.repeat(64) });
        const uploadId = created.content.uploadId;
        expect((await resumable.send(w, uploadId, chunkOf(file, 0), 0, { token: 'token-A', server: late })).status).toBe(200);
        expectError(await resumable.send(w, uploadId, chunkOf(file, 1), 1), 400, 'error-checksum-mismatch', { field: 'sha256' });
        await w.server.whenIdle();
        expectError(await resumable.send(w, uploadId, chunkOf(file, 0), 0, { token: 'token-A', server: late }), 400, 'error-checksum-mismatch', {
            field: 'sha256',
        });
        expect(bytesLeft(w)).toBe(0);
        expect(w.messages).toHaveLength(0);
    });
});

describe('completion meeting two contents at one offset', () => {
    /** Adds a mark for other bytes at chunk 0, as a write refused as a conflict leaves it until its server takes it back. */
    function addOtherMark(w: FakeWorld, uploadId: string): FakeWorld['records'][number] {
        const sha256 = 'e'.repeat(64);
        const stray = {
            id: 'stray-mark',
            data: { kind: 'mark', index: 0, length: 76_608, sha256, copyId: 'stray' },
            keys: [`mark:${uploadId}:0:${sha256}`, `mark:${uploadId}:0`, `marks:${uploadId}`, `copy:${uploadId}:stray`, `upload:${uploadId}`].map(
                (k) => `misc:livechat-upload:${k}`,
            ),
        };
        w.records.push(stray);
        return stray;
    }

    it('looks again while the refused write is taken back, and completes with the accepted bytes', async () => {
        const w = world();
        const file = fileOf(2);
        const uploadId = await createFile(w, file);
        expect((await resumable.send(w, uploadId, chunkOf(file, 0), 0)).status).toBe(200);
        const stray = addOtherMark(w, uploadId);
        setTimeout(() => (w.records = w.records.filter((r) => r !== stray)), 60);
        expectOneMessage(w, file, [await resumable.send(w, uploadId, chunkOf(file, 1), 1)]);
    });

    it('empties the offset when the other content stays, answers error-chunk-conflict, and completes once the chunk is sent again', async () => {
        const w = world();
        const file = fileOf(2);
        const uploadId = await createFile(w, file);
        expect((await resumable.send(w, uploadId, chunkOf(file, 0), 0)).status).toBe(200);
        addOtherMark(w, uploadId);
        expectError(await resumable.send(w, uploadId, chunkOf(file, 1), 1), 409, 'error-chunk-conflict', { offset: 0 });
        expect(w.records.filter((r) => r.data.kind === 'mark' && r.data.index === 0)).toEqual([]);
        expect(w.messages).toHaveLength(0);
        expect((await resumable.send(w, uploadId, chunkOf(file, 0), 0)).content).toMatchObject({ success: true, offset: file.length });
        expectOneMessage(w, file, [await resumable.complete(w, uploadId)]);
    });
});

describe('a slot emptied by a completion', () => {
    it('takes the chunk sent again on the server that stored the content removed, even when the bytes are other ones', async () => {
        const w = world();
        const file = fileOf(2);
        const uploadId = await createFile(w, file);
        const wrong = Buffer.from(chunkOf(file, 0)).fill(3);
        expect((await resumable.send(w, uploadId, wrong, 0)).status).toBe(200);
        // Another server's completion found this slot with two contents (a server died between
        // writing and checking) and emptied it; this server still remembers its content.
        w.records = w.records.filter((r) => !((r.data.kind === 'chunk' || r.data.kind === 'mark') && r.data.index === 0));
        expect((await resumable.send(w, uploadId, chunkOf(file, 0), 0)).content).toMatchObject({ success: true, offset: 76_608 });
        expectOneMessage(w, file, [await resumable.send(w, uploadId, chunkOf(file, 1), 1)]);
    });
});

describe('the visitor quota holds under concurrency', () => {
    it('creates exactly five of ten sessions sent at once on one server; the others get error-too-many-uploads', async () => {
        const w = world();
        const file = fileOf(2);
        const answers = await Promise.all(Array.from({ length: 10 }, () => resumable.create(w, file)));
        expect(answers.filter((a) => a.status === 201)).toHaveLength(5);
        answers
            .filter((a) => a.status !== 201)
            .forEach((a) => expectError(a, 429, 'error-too-many-uploads', { maxOpenSessions: 5, maxStagedBytes: 100 * 1024 * 1024 }));
        expect(w.records.filter((r) => r.data.kind === 'session')).toHaveLength(5);
    });

    it('never creates more than five of ten sessions sent at once across three servers', async () => {
        const w = world();
        const file = fileOf(2);
        const servers = [w.server, createServer(), createServer()];
        const answers = await Promise.all(
            Array.from({ length: 10 }, (_, i) => resumable.create(w, file, {}, { token: 'token-A', server: servers[i % 3] })),
        );
        const created = answers.filter((a) => a.status === 201);
        expect(created.length).toBeLessThanOrEqual(5);
        answers
            .filter((a) => a.status !== 201)
            .forEach((a) => expectError(a, 429, 'error-too-many-uploads', { maxOpenSessions: 5, maxStagedBytes: 100 * 1024 * 1024 }));
        expect(
            w.records
                .filter((r) => r.data.kind === 'session')
                .map((r) => r.data.id)
                .sort(),
        ).toEqual(created.map((a) => a.content.uploadId).sort());
    });
});

describe('what the app asks of app persistence', () => {
    it('only inserts, reads and removes: a finished, an aborted and a keyed upload, a retried chunk, a wait for a completion', async () => {
        const w = world();
        w.uploadDelayMs = 30;
        const file = fileOf(3);
        const uploadId = await createFile(w, file);
        await sendAllButLast(w, uploadId, file);
        await resumable.send(w, uploadId, chunkOf(file, 1), 1);
        const answers = await Promise.all([
            resumable.send(w, uploadId, chunkOf(file, 2), 2),
            resumable.complete(w, uploadId, { token: 'token-A', server: createServer() }),
        ]);
        expectOneMessage(w, file, answers);
        const aborted = await createFile(w, fileOf(2), 'other.bin');
        expect((await resumable.abort(w, aborted)).status).toBe(200);
        const keyed = { token: 'token-A', headers: { 'idempotency-key': 'k' } };
        const note = { rid: 'roomA', file: { name: 'note.txt', type: 'text/plain', data: Buffer.from('hi').toString('base64') } };
        expect([(await single(w, note, keyed)).status, (await single(w, note, keyed)).status]).toEqual([200, 200]);
        await w.server.whenIdle();
        const calls = [...new Set(w.bridgeCalls.filter((c) => c.startsWith('persistence.')))].sort();
        expect(calls).toEqual([
            'persistence.createWithAssociations',
            'persistence.readByAssociation',
            'persistence.readByAssociations',
            'persistence.removeByAssociation',
        ]);
    });
});

describe('POST uploads with an Idempotency-Key', () => {
    const file = Buffer.alloc(3 * 76_608 + 10, 7);
    const withKey = (key: string, server?: ReturnType<typeof createServer>) => ({ token: 'token-A', headers: { 'idempotency-key': key }, server });
    const unfinished = (w: FakeWorld): string[] => [...new Set(w.records.filter((r) => r.data.kind === 'session').map((r) => String(r.data.id)))];

    it('answers six repeats sent at once on three servers with one session, created once', async () => {
        const w = world();
        const servers = [w.server, createServer(), createServer()];
        const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => resumable.create(w, file, {}, withKey('"create-1"', servers[i % 3]))));
        const ids = new Set(answers.map((a) => a.content.uploadId));
        expect(ids.size).toBe(1);
        answers.forEach((a) => expect({ status: a.status, offset: a.content.offset }).toEqual({ status: 201, offset: 0 }));
        expect(unfinished(w)).toEqual([...ids]);
    });

    it('answers a repeat after chunks were stored with the same session at its offset, so the client goes on from there', async () => {
        const w = world();
        const first = await resumable.create(w, file, {}, withKey('create-2'));
        await resumable.send(w, first.content.uploadId, chunkOf(file, 0), 0);
        const again = await resumable.create(w, file, {}, withKey('create-2'));
        expect({ status: again.status, uploadId: again.content.uploadId, offset: again.content.offset }).toEqual({
            status: 201,
            uploadId: first.content.uploadId,
            offset: 76_608,
        });
        expect(unfinished(w)).toHaveLength(1);
    });

    it('refuses the key used again for another file, or one used for POST upload, with error-idempotency-key-reused', async () => {
        const w = world();
        await resumable.create(w, file, {}, withKey('create-3'));
        expectError(await resumable.create(w, Buffer.alloc(5), {}, withKey('create-3')), 422, 'error-idempotency-key-reused');
        await single(w, { rid: 'roomA', file: { name: 'a.txt', type: 'text/plain', data: 'aGk=' } }, withKey('create-4'));
        expectError(await resumable.create(w, file, {}, withKey('create-4')), 422, 'error-idempotency-key-reused');
        expect(unfinished(w)).toHaveLength(1);
    });

    it('checks a refused request again on a repeat: the quota freed meanwhile admits it', async () => {
        const w = world();
        w.appSettings[APP_SETTING_IDS.maxOpenSessions] = 1;
        const other = await resumable.create(w, file, { name: 'other.png' });
        expectError(await resumable.create(w, file, {}, withKey('create-5')), 429, 'error-too-many-uploads', {
            maxOpenSessions: 1,
            maxStagedBytes: expect.any(Number),
        });
        await resumable.abort(w, other.content.uploadId);
        const again = await resumable.create(w, file, {}, withKey('create-5'));
        expect(again.status).toBe(201);
    });
});

describe('POST upload with an Idempotency-Key', () => {
    const body = (data: Buffer, name = 'note.txt') => ({ rid: 'roomA', file: { name, type: 'text/plain', data: data.toString('base64') } });
    const withKey = (key: string, server?: ReturnType<typeof createServer>) => ({ token: 'token-A', headers: { 'idempotency-key': key }, server });

    it('answers a repeat with the first message and posts nothing', async () => {
        const w = world();
        const bytes = Buffer.from('hello');
        const first = await single(w, body(bytes), withKey('"key-1"'));
        const again = await single(w, body(bytes), withKey('key-1'));
        expect(first.status).toBe(200);
        expect(again.status).toBe(200);
        expect(again.content).toEqual(first.content);
        expect(postedFiles(w)).toEqual([sha(bytes)]);
    });

    it('answers five repeats sent at once on three servers with one message', async () => {
        const w = world();
        w.uploadDelayMs = 50;
        const bytes = Buffer.from('hello');
        const servers = [w.server, createServer(), createServer()];
        const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => single(w, body(bytes), withKey('key-2', servers[i % 3]))));
        answers.forEach((a) => {
            expect(a.status).toBe(200);
            expect(a.content).toMatchObject({ success: true, _id: w.messages[0].id });
        });
        expect(postedFiles(w)).toEqual([sha(bytes)]);
    });

    it('refuses the key used again for another file with error-idempotency-key-reused, posting nothing', async () => {
        const w = world();
        await single(w, body(Buffer.from('one')), withKey('key-3'));
        expectError(await single(w, body(Buffer.from('two')), withKey('key-3')), 422, 'error-idempotency-key-reused');
        expect(postedFiles(w)).toEqual([sha(Buffer.from('one'))]);
    });

    it('keeps keys apart per visitor', async () => {
        const w = world();
        w.visitors.push({ id: 'visitor2', token: 'token-B', username: 'guest-2', name: 'Bo' });
        await single(w, body(Buffer.from('one')), withKey('shared'));
        const other = await single(w, { ...body(Buffer.from('two')), rid: 'roomB' }, { token: 'token-B', headers: { 'idempotency-key': 'shared' } });
        expect(other.status).toBe(200);
        expect(postedFiles(w)).toEqual([sha(Buffer.from('one')), sha(Buffer.from('two'))]);
    });

    it('answers a repeat of a refused request with the same refusal', async () => {
        const w = world();
        w.serverSettings.FileUpload_MaxFileSize = 3;
        expectError(await single(w, body(Buffer.from('hello')), withKey('key-4')), 400, 'error-size-not-allowed', { sizeAllowed: 3 });
        w.serverSettings.FileUpload_MaxFileSize = 100;
        expectError(await single(w, body(Buffer.from('hello')), withKey('key-4')), 400, 'error-size-not-allowed', { sizeAllowed: 3 });
        expect(postedFiles(w)).toEqual([]);
    });

    it.each([['""'], ['a'.repeat(256)], ['tab\there'], ['ünïcode']])(
        'refuses the malformed key %j with error-invalid-idempotency-key',
        async (key) => {
            const w = world();
            expectError(await single(w, body(Buffer.from('x')), withKey(key)), 400, 'error-invalid-idempotency-key');
            expect(postedFiles(w)).toEqual([]);
        },
    );

    it('finds the message of an attempt whose upload call failed after posting, and posts nothing new', async () => {
        const w = world();
        w.failAfterUpload = 'runtime timeout';
        expectError(await single(w, body(Buffer.from('hello')), withKey('key-5')), 500, 'error-server');
        delete w.failAfterUpload;
        const again = await single(w, body(Buffer.from('hello')), withKey('key-5'));
        expect(again.status).toBe(200);
        expect(again.content).toMatchObject({ _id: w.messages[0].id });
        expect(postedFiles(w)).toEqual([sha(Buffer.from('hello'))]);
    });
});

// Runs last: jest runs the tests of a file in order, so every error answer above has been seen.
describe('every error answer the tests above received', () => {
    it('has the status and exactly the extra fields lib/errors.ts declares for its code', () => {
        expect(seenErrors.length).toBeGreaterThan(0);
        expect(seenErrors.flatMap(findErrorBodyProblems)).toEqual([]);
        expect(findUnseenFields(seenErrors)).toEqual([]);
    });
});
