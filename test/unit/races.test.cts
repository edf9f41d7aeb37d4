/**
 * Races the exactly-once promises (docs/API.md, "Repeated and concurrent requests") must survive,
 * each driven call by call: test/unit/gated.cts holds, fails or cuts off chosen bridge calls of one
 * request, so two requests' calls interleave in exactly the order that once broke a promise.
 */

import { describe, expect, it } from '@jest/globals';

import { EXPIRY_GRACE_MS, removeExpiredSessions } from '../../lib/services/uploads';
import { asEngineAccessors, createAccessors, createServer, FAST_TIMING, type FakeWorld } from '../fakes.cjs';
import { chunkOf, expectError, isDocumentedRefusal, resumable, sha, single } from './api.cjs';
import { calls, Controller, fileOf, gated, gatedAccessors, lateChunk, plainWorld } from './gated.cjs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function create(w: FakeWorld, file: Buffer, extra: Record<string, unknown> = {}): Promise<string> {
    const created = await resumable.create(w, file, { name: 'data.bin', type: 'application/octet-stream', ...extra });
    expect(created.status).toBe(201);
    return created.content.uploadId;
}

const fileBytesOf = (w: FakeWorld, messageId: string): Buffer | undefined => {
    const m = w.messages.find((x) => x.id === messageId);
    return m ? w.files.find((f) => f.id === m.file._id)?.bytes : undefined;
};

describe('a completion retried after its server died before posting', () => {
    it('posts its own photo and leaves a later same-named photo of the visitor and its description alone', async () => {
        const w = plainWorld();
        const photo1 = fileOf(2, 1_000);
        const photo2 = fileOf(2, 2_000); // another photo, another size: iOS names both "image.jpg"
        const meta = (description: string) => ({ name: 'image.jpg', type: 'image/jpeg', description });
        const u1 = await create(w, photo1, { ...meta('first photo'), sha256: sha(photo1) });
        const u2 = await create(w, photo2, { ...meta('second photo'), sha256: sha(photo2) });
        expect((await resumable.send(w, u1, chunkOf(photo1, 0), 0)).status).toBe(200);

        // U1's last chunk completes on server S1, which records its posting attempt and dies before the upload call.
        const s1 = createServer();
        const ctl1 = new Controller();
        const dies = ctl1.hold('upload.uploadBuffer', () => true);
        const lost = gated.send(w, u1, chunkOf(photo1, 1), 1, s1, ctl1);
        await dies.reached;
        ctl1.dead = true; // no more calls from S1: its claim is no longer renewed

        // Meanwhile U2 completes normally.
        for (const i of [0, 1]) await resumable.send(w, u2, chunkOf(photo2, i), i);
        const msg2 = w.messages.find((m) => sha(fileBytesOf(w, m.id)!) === sha(photo2))!;
        expect(msg2.attachments[0].description).toBe('second photo');

        // The visitor's widget retries U1 once S1's claim is stale.
        await sleep(FAST_TIMING.claimStaleMs + 100);
        const retried = await resumable.complete(w, u1);

        dies.release();
        await lost; // S1's request ends (its calls fail)

        expect(retried.status).toBe(200);
        const report = {
            answeredOwnFile: sha(fileBytesOf(w, retried.content._id) ?? Buffer.alloc(0)) === sha(photo1),
            photo1InRoom: w.messages.some((m) => sha(fileBytesOf(w, m.id)!) === sha(photo1)),
            msg2Description: w.messages.find((m) => m.id === msg2.id)!.attachments[0].description,
        };
        expect(report).toEqual({ answeredOwnFile: true, photo1InRoom: true, msg2Description: 'second photo' });
    });
});

describe('a completion retried after a read failed once its file was posted', () => {
    it('answers the message it posted, not a later same-named one of the visitor', async () => {
        const w = plainWorld();
        const photo1 = fileOf(2, 1_000);
        const photo2 = fileOf(2, 2_000);
        const meta = (description: string) => ({ name: 'image.jpg', type: 'image/jpeg', description });
        const u1 = await create(w, photo1, { ...meta('first photo'), sha256: sha(photo1) });
        const u2 = await create(w, photo2, { ...meta('second photo'), sha256: sha(photo2) });
        expect((await resumable.send(w, u1, chunkOf(photo1, 0), 0)).status).toBe(200);
        w.failAfterUpload = 'bridge error'; // U1 posts, then its read of the room fails: 500, posting attempt left
        expectError(await resumable.send(w, u1, chunkOf(photo1, 1), 1), 500, 'error-server');
        delete w.failAfterUpload;
        const msg1 = w.messages[0];
        for (const i of [0, 1]) await resumable.send(w, u2, chunkOf(photo2, i), i); // the visitor's next photo
        const msg2 = w.messages[1];

        const retried = await resumable.complete(w, u1); // the widget retries U1
        expect({ answered: retried.content._id, msg2Description: w.messages[1].attachments[0].description }).toEqual({
            answered: msg1.id,
            msg2Description: 'second photo',
        });
        expect(msg2.id).not.toBe(msg1.id);
    });
});

describe('a chunk sent again while a completion on the same server ends the upload', () => {
    it('is answered complete:true only with the message', async () => {
        const w = plainWorld();
        const file = fileOf(2);
        const id = await create(w, file);
        expect((await resumable.send(w, id, chunkOf(file, 0), 0)).status).toBe(200);

        const ctlDup = new Controller();
        const dupSlotRead = ctlDup.hold('reader.readByAssociation', calls.readSlot(id, 0)); // a slow read
        const dup = gated.send(w, id, chunkOf(file, 0), 0, w.server, ctlDup);
        await dupSlotRead.reached;

        const ctlLast = new Controller();
        const endMark = ctlLast.hold('persis.createWithAssociations', calls.insert('end'));
        const last = gated.send(w, id, chunkOf(file, 1), 1, w.server, ctlLast);
        await endMark.reached; // done saved and cached, end mark not yet written

        dupSlotRead.release();
        const dupAnswer = await dup;
        endMark.release();
        const lastAnswer = await last;

        expect(lastAnswer.content).toMatchObject({ success: true, complete: true });
        // A chunk answer says complete:true only with the message (docs/API.md, PATCH uploads).
        expect({ complete: dupAnswer.content.complete, _id: dupAnswer.content._id }).toEqual(
            dupAnswer.content.complete ? { complete: true, _id: lastAnswer.content._id } : { complete: false, _id: undefined },
        );
    });
});

describe('a claim renewal still in flight when its completion ends', () => {
    it('lands before the claim is removed: no claim stays, and a DELETE on another server is not held off', async () => {
        const w = plainWorld();
        w.uploadDelayMs = 150; // longer than one renewal period (50 ms)
        const file = fileOf(2);
        const id = await create(w, file);
        expect((await resumable.send(w, id, chunkOf(file, 0), 0)).status).toBe(200);

        const ctl = new Controller();
        const renewalLook = ctl.hold('reader.readByAssociation', calls.claimLook(), 'after'); // a slow renewal
        const released = ctl.watch('persis.removeByAssociation', calls.claimRemoval());
        const last = gated.send(w, id, chunkOf(file, 1), 1, w.server, ctl);
        await renewalLook.reached;
        await Promise.race([released, sleep(400)]); // the completion removed its claim (or, fixed, waits for the renewal)...
        renewalLook.release(); // ...and the renewal that had seen it inserts it again
        expect((await last).content).toMatchObject({ success: true, complete: true });
        await sleep(5);

        const claimsLeft = w.records.filter((r) => r.data.kind === 'claim').length;
        const impatient = createServer({ ...FAST_TIMING, waitLimitMs: 100 }); // waits less than the stale time, as 20 s < 30 s by default
        const abort = await resumable.abort(w, id, { token: 'token-A', server: impatient });
        expect({ claimsLeft, abortStatus: abort.status }).toEqual({ claimsLeft: 0, abortStatus: 200 });
    });
});

describe('a chunk in flight when the expiry job runs', () => {
    it('leaves nothing behind once the job has run again after the grace', async () => {
        const w = plainWorld();
        const file = fileOf(3);
        const id = await create(w, file);
        const b = createServer(FAST_TIMING, () => Date.now() + w.clockOffsetMs);
        expect((await resumable.send(w, id, chunkOf(file, 0), 0, { token: 'token-A', server: b })).status).toBe(200);
        const expiresAt = Date.parse((await resumable.status(w, id)).content.expiresAt);

        w.clockOffsetMs = expiresAt - Date.now() - 1_000; // one second before the end of the lifetime, on B's clock
        const ctl = new Controller();
        const write = ctl.hold('persis.createWithAssociations', calls.insert('chunk'));
        const late = gated.send(w, id, chunkOf(file, 1), 1, b, ctl);
        await write.reached;
        // The expiry job runs on another server (its clock a second or two ahead, or simply a moment later).
        const { read, persis } = asEngineAccessors(createAccessors(w));
        await removeExpiredSessions(read, persis, expiresAt + 1_000);
        write.release();
        const answer = await late;
        await removeExpiredSessions(read, persis, expiresAt + EXPIRY_GRACE_MS + 1_000); // the next run after the grace

        const left = w.records.filter((r) => r.keys.includes(`misc:livechat-upload:upload:${id}`)).map((r) => r.data.kind);
        // Whatever the late chunk is answered (200 before the end, error-upload-expired after), nothing of it may stay.
        expect({ answerOk: answer.status === 200 || isDocumentedRefusal(answer), left }).toEqual({ answerOk: true, left: [] });
    });
});

describe('an outcome saved without its end mark', () => {
    // The client library recovers from a 5xx with GET uploads; a widget may send POST uploads/complete.
    it.each([
        ['POST uploads/complete', (w: FakeWorld, id: string) => resumable.complete(w, id)],
        ['GET uploads', (w: FakeWorld, id: string) => resumable.status(w, id)],
    ])('gets it from the next %s: a late chunk is answered the message and its bytes go', async (_route, repeat) => {
        const w = plainWorld();
        const file = fileOf(3);
        const id = await create(w, file);
        const late = createServer();
        expect((await resumable.send(w, id, chunkOf(file, 0), 0, { token: 'token-A', server: late })).status).toBe(200);
        expect((await resumable.send(w, id, chunkOf(file, 1), 1)).status).toBe(200);

        // The completing call that writes the end mark fails (a bridge error, or the server dies right there).
        const ctl = new Controller();
        ctl.fail('persis.createWithAssociations', calls.insert('end'));
        expectError(await gated.send(w, id, chunkOf(file, 2), 2, w.server, ctl), 500, 'error-server');
        const repeated = await repeat(w, id);
        expect(repeated.content).toMatchObject({ success: true, complete: true });
        expect(await lateChunk(w, id, file, 1, late)).toEqual({ status: 200, complete: true, _id: repeated.content._id, chunksLeft: 0 });
    });
});

describe('a keyed POST upload repeated after the room closed', () => {
    it("answers the first request's message", async () => {
        const w = plainWorld();
        const body = { rid: 'roomA', file: { name: 'note.txt', type: 'text/plain', data: Buffer.from('hello').toString('base64') } };
        const keyed = { token: 'token-A', headers: { 'idempotency-key': '"k-1"' } };
        const first = await single(w, body, keyed);
        expect(first.status).toBe(200);
        // The answer was lost; before the widget's retry the agent (or the auto-close) closes the chat.
        w.rooms.find((r) => r.id === 'roomA')!.isOpen = false;
        const again = await single(w, body, keyed);
        expect({ status: again.status, _id: again.content._id }).toEqual({ status: 200, _id: first.content._id });
    });
});

describe('an abort whose end mark was not written', () => {
    it('gets it from the repeated DELETE: a late chunk on a server that held the upload open is 404 and leaves nothing', async () => {
        const w = plainWorld();
        const file = fileOf(3);
        const id = await create(w, file);
        const b = createServer();
        expect((await resumable.send(w, id, chunkOf(file, 0), 0, { token: 'token-A', server: b })).status).toBe(200);

        // DELETE: the aborted version is saved, then the end mark insert fails (bridge error, or the server dies there).
        const ctl = new Controller();
        ctl.fail('persis.createWithAssociations', calls.insert('end'));
        expectError(await resumable.abort(w, id, { token: 'token-A', accessors: gatedAccessors(w, ctl) }), 500, 'error-server');
        // The widget (or the client library's best-effort abort) asks again: already aborted.
        expectError(await resumable.abort(w, id), 404, 'error-upload-not-found');
        // A chunk still on its way reaches B, which holds the upload as open: 404 (aborted), nothing of it kept.
        expect(await lateChunk(w, id, file, 1, b)).toEqual({
            status: 404,
            error: 'error-upload-not-found',
            chunksLeft: 0,
        });
    });
});

describe('DELETE of an upload that ended', () => {
    it('answers the refusal of one that failed for good and keeps it: every later request answers the same error', async () => {
        const w = plainWorld();
        const file = fileOf(2);
        const id = await create(w, file, { sha256: sha(Buffer.from('another file')) });
        expect((await resumable.send(w, id, chunkOf(file, 0), 0)).status).toBe(200);
        expectError(await resumable.send(w, id, chunkOf(file, 1), 1), 400, 'error-checksum-mismatch', { field: 'sha256' });
        // The client library sends DELETE after every refusal (abortOnServer): it is answered the refusal.
        expectError(await resumable.abort(w, id), 400, 'error-checksum-mismatch', { field: 'sha256' });
        const again = await resumable.complete(w, id);
        expect({ status: again.status, error: again.content.error }).toEqual({ status: 400, error: 'error-checksum-mismatch' });
    });
    it('answers the message of one that was posted, which stays posted: a cancel that lands after the completion', async () => {
        const w = plainWorld();
        const file = fileOf(2);
        const id = await create(w, file);
        expect((await resumable.send(w, id, chunkOf(file, 0), 0)).status).toBe(200);
        const done = await resumable.send(w, id, chunkOf(file, 1), 1);
        expect(done.content).toMatchObject({ success: true, complete: true });
        const cancelled = await resumable.abort(w, id);
        expect({ status: cancelled.status, complete: cancelled.content.complete, _id: cancelled.content._id }).toEqual({
            status: 200,
            complete: true,
            _id: done.content._id,
        });
        expect((await resumable.status(w, id)).content).toMatchObject({ complete: true, _id: done.content._id });
        expect(w.messages).toHaveLength(1);
    });
});

describe('a finished upload whose message was deleted from the room', () => {
    it('answers error-upload-not-found, so a client resuming it starts over instead of failing until it expires', async () => {
        const w = plainWorld();
        const file = fileOf(2);
        const id = await create(w, file);
        await resumable.send(w, id, chunkOf(file, 0), 0);
        expect((await resumable.send(w, id, chunkOf(file, 1), 1)).content).toMatchObject({ complete: true });
        w.messages.length = 0; // an agent deletes it
        expectError(await resumable.status(w, id), 404, 'error-upload-not-found');
        expectError(await resumable.complete(w, id), 404, 'error-upload-not-found');
    });
});

describe('a claim that cannot be removed after its outcome is written', () => {
    it('leaves the answer as it is; the claim goes stale and the next request is answered the outcome', async () => {
        const w = plainWorld();
        const file = fileOf(2);
        const id = await create(w, file);
        await resumable.send(w, id, chunkOf(file, 0), 0);
        const ctl = new Controller();
        ctl.fail('persis.removeByAssociation', calls.claimRemoval());
        const done = await resumable.send(w, id, chunkOf(file, 1), 1, { token: 'token-A', accessors: gatedAccessors(w, ctl) });
        expect(done.content).toMatchObject({ success: true, complete: true, _id: expect.any(String) });
        await sleep(FAST_TIMING.claimStaleMs + 100);
        expect((await resumable.complete(w, id)).content).toMatchObject({ complete: true, _id: done.content._id });
        expect(w.messages).toHaveLength(1);
    });
});
