/**
 * What one request costs the server: the bridge calls a middle chunk makes (each a round trip
 * through the runtime), the settings read once per lifetime rather than per request, and how many
 * completions (each holding its file in memory several times over) one server runs at once.
 */
import { randomBytes } from 'crypto';

import { describe, expect, it } from '@jest/globals';

import { APP_SETTING_IDS } from '../../lib/settings';
import { createServer, createWorld, FAST_TIMING, type FakeWorld } from '../fakes.cjs';
import { chunkCount, chunkOf, expectError, resumable, sha } from './api.cjs';

function world(): FakeWorld {
    const w = createWorld();
    w.appSettings[APP_SETTING_IDS.contentCheck] = 'off';
    return w;
}

const fileOf = (chunks: number): Buffer => randomBytes(76_608 * (chunks - 1) + 1_000);

async function createFile(w: FakeWorld, file: Buffer, options = { token: 'token-A', server: w.server }): Promise<string> {
    const created = await resumable.create(
        w,
        file,
        { name: `f-${sha(file).slice(0, 8)}.bin`, type: 'application/octet-stream', sha256: sha(file) },
        options,
    );
    expect(created.status).toBe(201);
    return created.content.uploadId;
}

describe('a middle chunk', () => {
    it('costs three bridge calls on a server that has seen its upload: its bytes, its mark, its slot read back', async () => {
        const w = world();
        const file = fileOf(4);
        const uploadId = await createFile(w, file);
        await resumable.send(w, uploadId, chunkOf(file, 0), 0);
        w.bridgeCalls = [];
        const answer = await resumable.send(w, uploadId, chunkOf(file, 1), 1);
        expect(answer.content).toMatchObject({ success: true, offset: 2 * 76_608, complete: false });
        expect(w.bridgeCalls).toEqual(['persistence.createWithAssociations', 'persistence.createWithAssociations', 'persistence.readByAssociation']);
    });

    it('costs one more read on a server that has not seen the upload: the session', async () => {
        const w = world();
        const file = fileOf(4);
        const uploadId = await createFile(w, file);
        w.bridgeCalls = [];
        await resumable.send(w, uploadId, chunkOf(file, 0), 0, { token: 'token-A', server: createServer() });
        expect(w.bridgeCalls).toEqual([
            'persistence.readByAssociation',
            'persistence.createWithAssociations',
            'persistence.createWithAssociations',
            'persistence.readByAssociation',
        ]);
    });

    it('still refuses another visitor with 403 and writes nothing, without a bridge call for the check', async () => {
        const w = world();
        const file = fileOf(4);
        const uploadId = await createFile(w, file);
        const before = JSON.stringify(w.records);
        w.bridgeCalls = [];
        expectError(await resumable.send(w, uploadId, chunkOf(file, 0), 0, { token: 'token-B' }), 403, 'unauthorized');
        expect(w.bridgeCalls).toEqual([]);
        expect(JSON.stringify(w.records)).toBe(before);
    });
});

describe('settings', () => {
    const cachingServer = (w: FakeWorld) => createServer({ ...FAST_TIMING, settingsTtlMs: 10_000 }, () => Date.now() + w.clockOffsetMs);

    it('are read once per lifetime on a server, not per request', async () => {
        const w = world();
        const server = cachingServer(w);
        const file = fileOf(4);
        const uploadId = await createFile(w, file, { token: 'token-A', server });
        await resumable.send(w, uploadId, chunkOf(file, 0), 0, { token: 'token-A', server });
        w.settingReads = [];
        await resumable.send(w, uploadId, chunkOf(file, 1), 1, { token: 'token-A', server });
        await resumable.status(w, uploadId, { token: 'token-A', server });
        expect(w.settingReads).toEqual([]);
    });

    it("apply an admin's change to the server's settings once their lifetime has passed", async () => {
        const w = world();
        const server = cachingServer(w);
        const file = fileOf(2);
        await createFile(w, file, { token: 'token-A', server });
        w.serverSettings.FileUpload_Enabled = false;
        expect((await resumable.create(w, file, {}, { token: 'token-A', server })).status).toBe(201);
        w.clockOffsetMs = 10_000;
        expectError(await resumable.create(w, file, {}, { token: 'token-A', server }), 400, 'error-file-upload-disabled');
    });

    it("apply an admin's change to the app's settings at once: the app is told", async () => {
        const w = world();
        const server = cachingServer(w);
        const file = fileOf(2);
        await createFile(w, file, { token: 'token-A', server });
        w.appSettings[APP_SETTING_IDS.enabled] = false;
        server.settings.forgetAppSettings(); // what LivechatUploadApp.onSettingUpdated does
        expectError(await resumable.create(w, file, {}, { token: 'token-A', server }), 400, 'error-file-upload-disabled');
    });
});

describe('completions on one server', () => {
    it('run at most as many at once as the setting says; the others wait their turn and post once each', async () => {
        const w = world();
        w.appSettings[APP_SETTING_IDS.maxConcurrentCompletions] = 1;
        w.uploadDelayMs = 60;
        const files = [fileOf(2), fileOf(2), fileOf(2)];
        const ids = await Promise.all(files.map((f) => createFile(w, f)));
        for (const [n, file] of files.entries()) {
            await resumable.send(w, ids[n], chunkOf(file, 0), 0);
        }
        const answers = await Promise.all(files.map((file, n) => resumable.send(w, ids[n], chunkOf(file, 1), 1)));
        answers.forEach((a) => expect(a.content).toMatchObject({ success: true, complete: true }));
        expect(w.peakConcurrentUploads).toBe(1);
        expect(w.messages.map((m) => sha(w.files.find((f) => f.id === m.file!._id)!.bytes)).sort()).toEqual(files.map(sha).sort());
    });

    it('tell a visitor whose turn does not come in time to ask again, and post once when asked', async () => {
        const w = world();
        w.appSettings[APP_SETTING_IDS.maxConcurrentCompletions] = 1;
        w.uploadDelayMs = 400;
        const impatient = createServer({ ...FAST_TIMING, waitLimitMs: 150 });
        const files = [fileOf(2), fileOf(2)];
        const ids = await Promise.all(files.map((f) => createFile(w, f, { token: 'token-A', server: impatient })));
        for (const [n, file] of files.entries()) {
            await resumable.send(w, ids[n], chunkOf(file, 0), 0, { token: 'token-A', server: impatient });
        }
        const first = resumable.send(w, ids[0], chunkOf(files[0], 1), 1, { token: 'token-A', server: impatient });
        await new Promise((resolve) => setTimeout(resolve, 20));
        const second = await resumable.send(w, ids[1], chunkOf(files[1], 1), 1, { token: 'token-A', server: impatient });
        expectError(second, 409, 'error-upload-in-progress', { retryAfterMs: 2000 });
        expect((await first).content).toMatchObject({ complete: true });
        const retried = await resumable.complete(w, ids[1], { token: 'token-A', server: impatient });
        expect(retried.content).toMatchObject({ success: true, complete: true });
        expect(w.uploadCalls).toBe(2);
    });

    it('check the room again after a long wait for a turn: a room closed meanwhile is refused before anything is posted', async () => {
        const w = world();
        w.appSettings[APP_SETTING_IDS.maxConcurrentCompletions] = 1;
        w.uploadDelayMs = 1_200; // the first completion holds the only slot longer than a second
        const files = [fileOf(2), fileOf(2)];
        const ids = await Promise.all(files.map((f) => createFile(w, f)));
        for (const [n, file] of files.entries()) {
            await resumable.send(w, ids[n], chunkOf(file, 0), 0);
        }
        const first = resumable.send(w, ids[0], chunkOf(files[0], 1), 1);
        await new Promise((resolve) => setTimeout(resolve, 20));
        const second = resumable.send(w, ids[1], chunkOf(files[1], 1), 1);
        await new Promise((resolve) => setTimeout(resolve, 100));
        w.rooms.find((r) => r.id === 'roomA')!.isOpen = false; // an agent closes the chat while the second waits
        expect((await first).content).toMatchObject({ success: true, complete: true });
        expectError(await second, 403, 'unauthorized');
        expect(w.uploadCalls).toBe(1);
        expect(w.messages.map((m) => sha(w.files.find((f) => f.id === m.file!._id)!.bytes))).toEqual([sha(files[0])]);
    });

    it('read the chunks back in one call per 64 chunks, whatever the size of the file', async () => {
        const readsToComplete = async (chunks: number): Promise<number> => {
            const w = world();
            const file = fileOf(chunks);
            const uploadId = await createFile(w, file);
            for (let i = 0; i < chunks - 1; i += 1) {
                await resumable.send(w, uploadId, chunkOf(file, i), i);
            }
            w.bridgeCalls = [];
            expect((await resumable.send(w, uploadId, chunkOf(file, chunks - 1), chunks - 1)).content).toMatchObject({
                success: true,
                complete: true,
            });
            expect(sha(w.files[0].bytes)).toBe(sha(file));
            return w.bridgeCalls.filter((c) => c === 'persistence.readByAssociation').length;
        };
        const [one, two, three] = [await readsToComplete(3), await readsToComplete(64), await readsToComplete(130)];
        expect([two - one, three - one]).toEqual([0, 2]);
    });

    it('complete an upload whose chunks an earlier version stored without their group, one read per chunk', async () => {
        const w = world();
        const file = fileOf(3);
        const uploadId = await createFile(w, file);
        await resumable.send(w, uploadId, chunkOf(file, 0), 0);
        await resumable.send(w, uploadId, chunkOf(file, 1), 1);
        w.records.forEach((r) => (r.keys = r.keys.filter((k) => !k.includes(':chunk-group:'))));
        expect((await resumable.send(w, uploadId, chunkOf(file, 2), 2)).content).toMatchObject({ success: true, complete: true });
        expect(sha(w.files[0].bytes)).toBe(sha(file));
    });

    it("remove the chunks' bytes after answering; the session and its marks stay for later answers", async () => {
        const w = world();
        const file = fileOf(3);
        const uploadId = await createFile(w, file);
        for (let i = 0; i < chunkCount(file); i += 1) {
            await resumable.send(w, uploadId, chunkOf(file, i), i);
        }
        expect(w.records.filter((r) => r.data.kind === 'chunk')).toHaveLength(3);
        await w.server.whenIdle();
        // the session as created, posting, done; its marks; its end mark
        expect(w.records.map((r) => r.data.kind).sort()).toEqual(['end', 'mark', 'mark', 'mark', 'session', 'session', 'session']);
        expect((await resumable.status(w, uploadId)).content).toMatchObject({ success: true, complete: true, _id: w.messages[0].id });
    });
});
