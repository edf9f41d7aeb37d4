/**
 * The resumable protocol against a simple model, with fast-check: random batches of chunk sends
 * (right bytes, other bytes, repeats, any order), completes, aborts and status reads, sent at the
 * same instant to either of two servers by the owner or by another visitor. Whatever arrives,
 * - every answer is a success or a documented refusal (a code of the table, with its status);
 * - a chunk offset never has two contents accepted;
 * - an upload posts at most one message, and its bytes are exactly the chunks accepted;
 * - another visitor gets `unauthorized` and changes nothing;
 * - once an abort was answered, every request for the upload answers `error-upload-not-found`, and
 *   once its message was answered, every chunk, complete and status answers that message, on either
 *   server (one may still hold the upload as open);
 * - an upload that ended (done, failed, aborted) keeps no chunk bytes once the servers are idle.
 */
import { createHash } from 'crypto';

import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import { CHUNK_SIZE_BYTES } from '../../lib/requests';
import { APP_SETTING_IDS } from '../../lib/settings';
import { createServer, createWorld, type FakeWorld } from '../fakes.cjs';
import { type EndpointAnswer, isDocumentedRefusal, resumable } from './api.cjs';

type Variant = 'right' | 'other';
type Op =
    | { kind: 'chunk'; upload: number; index: number; variant: Variant; server: number; stranger: boolean }
    | { kind: 'complete'; upload: number; server: number; stranger: boolean }
    | { kind: 'abort'; upload: number; server: number }
    | { kind: 'status'; upload: number; server: number };

/** Two uploads: three chunks with a whole-file sha256, two chunks without one. */
const SHAPES = [
    { chunks: 3, lastBytes: 1_000, declareSha: true },
    { chunks: 2, lastBytes: 5, declareSha: false },
];

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
    {
        weight: 6,
        arbitrary: fc.record({
            kind: fc.constant('chunk' as const),
            upload: fc.nat(1),
            index: fc.nat(2),
            variant: fc.constantFrom<Variant>('right', 'right', 'other'),
            server: fc.nat(1),
            stranger: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
        }),
    },
    {
        weight: 2,
        arbitrary: fc.record({ kind: fc.constant('complete' as const), upload: fc.nat(1), server: fc.nat(1), stranger: fc.constant(false) }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), upload: fc.nat(1), server: fc.nat(1) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('status' as const), upload: fc.nat(1), server: fc.nat(1) }) },
);

const hash = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function chunkBytes(upload: number, index: number, variant: Variant): Buffer {
    const shape = SHAPES[upload];
    const length = index === shape.chunks - 1 ? shape.lastBytes : CHUNK_SIZE_BYTES;
    return Buffer.alloc(length, variant === 'right' ? 10 + upload * 10 + index : 200 + index);
}

interface ModelUpload {
    id: string;
    name: string;
    accepted: Map<number, Variant>;
    messageIds: Set<string>;
    aborted: boolean;
    /** The refusal the upload failed with for good (its whole file checked), once an answer said so. */
    failure?: string;
}

/** Refusals that end an upload for good in this model (a whole-file sha256 that does not match). */
const FINAL_CODES = ['error-checksum-mismatch'];

async function runBatches(batches: Op[][]): Promise<void> {
    const w: FakeWorld = createWorld();
    w.appSettings[APP_SETTING_IDS.contentCheck] = 'off';
    w.visitors.push({ id: 'visitor2', token: 'token-B', username: 'guest-2', name: 'Bo' });
    const servers = [w.server, createServer()];
    const uploads: ModelUpload[] = [];
    for (const [n, shape] of SHAPES.entries()) {
        const whole = Buffer.concat(Array.from({ length: shape.chunks }, (_, i) => chunkBytes(n, i, 'right')));
        const name = `upload-${n}.bin`;
        const created = await resumable.create(w, whole, {
            name,
            type: 'application/octet-stream',
            ...(shape.declareSha && { sha256: hash(whole) }),
        });
        expect(created.status).toBe(201);
        uploads.push({ id: created.content.uploadId, name, accepted: new Map(), messageIds: new Set(), aborted: false, failure: undefined });
    }

    for (const batch of batches) {
        const before = JSON.stringify(w.records);
        const ended = uploads.map((u) => ({ aborted: u.aborted, messageId: [...u.messageIds][0], failure: u.failure }));
        const answers = await Promise.all(batch.map((op) => send(w, servers, uploads, op)));
        batch.forEach((op, i) => checkAfterEnd(op, answers[i], ended[op.upload]));
        batch.forEach((op, i) => check(op, answers[i], uploads[op.upload], before, w, batch));
        // An upload ends one way: aborted, posted or failed, never two of them (whatever the answers' order).
        for (const u of uploads) {
            const ends = [u.aborted, u.messageIds.size > 0, u.failure !== undefined].filter(Boolean).length;
            expect({ upload: u.name, ends }).toEqual({ upload: u.name, ends: Math.min(ends, 1) });
        }
    }

    await Promise.all(servers.map((server) => server.whenIdle()));
    for (const upload of uploads) {
        const sessionStates = w.records.filter((r) => r.data.kind === 'session' && r.data.id === upload.id).map((r) => String(r.data.state));
        if (sessionStates.some((state) => ['done', 'failed', 'aborted'].includes(state))) {
            const left = w.records.filter((r) => r.data.kind === 'chunk' && r.keys.includes(`misc:livechat-upload:upload:${upload.id}`));
            expect({ upload: upload.name, sessionStates, chunksLeft: left.length }).toEqual({ upload: upload.name, sessionStates, chunksLeft: 0 });
        }
    }

    for (const [n, upload] of uploads.entries()) {
        const messages = w.messages.filter((m) => m.file?.name === upload.name);
        expect(messages.length).toBeLessThanOrEqual(1);
        for (const message of messages) {
            const stored = w.files.find((f) => f.id === message.file._id)!.bytes;
            const expected = Buffer.concat(Array.from({ length: SHAPES[n].chunks }, (_, i) => chunkBytes(n, i, upload.accepted.get(i) ?? 'right')));
            expect(Array.from({ length: SHAPES[n].chunks }, (_, i) => upload.accepted.has(i))).not.toContain(false);
            expect(hash(stored)).toBe(hash(expected));
            if (upload.messageIds.size > 0) {
                expect([...upload.messageIds]).toEqual([message.id]);
            }
        }
    }
    expect(w.uploadCalls).toBe(w.messages.filter((m) => m.file).length);
}

function send(w: FakeWorld, servers: ReturnType<typeof createServer>[], uploads: ModelUpload[], op: Op): Promise<EndpointAnswer> {
    const options = { token: 'stranger' in op && op.stranger ? 'token-B' : 'token-A', server: servers[op.server] };
    const { id } = uploads[op.upload];
    switch (op.kind) {
        case 'chunk':
            return resumable.send(
                w,
                id,
                chunkBytes(op.upload, op.index % SHAPES[op.upload].chunks, op.variant),
                op.index % SHAPES[op.upload].chunks,
                options,
            );
        case 'complete':
            return resumable.complete(w, id, options);
        case 'abort':
            return resumable.abort(w, id, options);
        case 'status':
            return resumable.status(w, id, options);
    }
}

/** The owner's requests for an upload that an earlier batch aborted, or finished with a message. */
function checkAfterEnd(op: Op, answer: EndpointAnswer, before: { aborted: boolean; messageId?: string; failure?: string }): void {
    if ('stranger' in op && op.stranger) {
        return;
    }
    if (before.aborted) {
        expect({ op, status: answer.status, error: answer.content.error }).toEqual({ op, status: 404, error: 'error-upload-not-found' });
    } else if (before.failure) {
        expect({ op, status: answer.status, error: answer.content.error }).toEqual({ op, status: 400, error: before.failure });
    } else if (before.messageId) {
        expect({ op, status: answer.status, complete: answer.content.complete, _id: answer.content._id }).toEqual({
            op,
            status: 200,
            complete: true,
            _id: before.messageId,
        });
    }
}

function check(op: Op, answer: EndpointAnswer, upload: ModelUpload, recordsBefore: string, w: FakeWorld, batch: Op[]): void {
    if ('stranger' in op && op.stranger) {
        expect(answer.status).toBe(403);
        expect(answer.content.error).toBe('unauthorized');
        if (batch.every((o) => 'stranger' in o && o.stranger)) {
            expect(JSON.stringify(w.records)).toBe(recordsBefore);
        }
        return;
    }
    if (answer.status >= 400) {
        expect({ op, answer: answer.content, documented: isDocumentedRefusal(answer) }).toMatchObject({ documented: true });
        if (FINAL_CODES.includes(answer.content.error)) {
            expect({ op, failure: upload.failure ?? answer.content.error }).toEqual({ op, failure: answer.content.error });
            upload.failure = answer.content.error;
        }
        return;
    }
    expect([200, 201]).toContain(answer.status);
    if (answer.content.complete === true) {
        upload.messageIds.add(String(answer.content._id));
        expect(upload.messageIds.size).toBe(1);
    }
    if (op.kind === 'chunk') {
        const index = op.index % SHAPES[op.upload].chunks;
        const earlier = upload.accepted.get(index);
        // A chunk answered 200 after the upload finished changed nothing; before that, one content per offset.
        if (answer.content.complete !== true || earlier === undefined) {
            expect({ index, earlier: earlier ?? op.variant }).toEqual({ index, earlier: op.variant });
        }
        upload.accepted.set(index, earlier ?? op.variant);
    }
    // An abort answered with the message found the upload finished, and left it so.
    if (op.kind === 'abort' && answer.content.complete !== true) {
        upload.aborted = true;
    }
}

describe('the chunk protocol against its model', () => {
    it('keeps every rule whatever arrives, in whatever order, on two servers', async () => {
        await fc.assert(
            fc.asyncProperty(fc.array(fc.array(opArbitrary, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 10 }), (batches) =>
                runBatches(batches),
            ),
            { numRuns: 80 },
        );
    }, 120_000);
});
