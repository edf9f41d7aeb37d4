/**
 * The client library giving up or cancelled: what DELETE answers (docs/API.md, step 5), and a
 * resume store that fails.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';

import { localStorageResumeStore, memoryResumeStore, uploadFile, type ResumeStore, type UploadOptions } from '../../.client/src/index';
import { APP_ID, FakeServer } from './fakeServer.cjs';

let server: FakeServer;
beforeEach(async () => {
    server = await new FakeServer().start();
});
afterEach(() => server.close());

function options(file: Uint8Array, extra: Partial<UploadOptions> = {}): UploadOptions {
    return {
        serverUrl: server.url,
        appId: APP_ID,
        visitorToken: server.token,
        rid: server.rid,
        file,
        name: 'data.bin',
        sleep: async () => undefined,
        ...extra,
    };
}
const unfinished = (): string[] => [...server.sessions.values()].filter((s) => !s.message).map((s) => s.uploadId);
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

describe('the create key kept in the resume store', () => {
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
