import { randomBytes } from 'crypto';

import type { ILogger, IModify, IPersistence, IRead } from '@rocket.chat/apps-engine/definition/accessors';
import type { ILivechatRoom, IVisitor } from '@rocket.chat/apps-engine/definition/livechat';

import { type EffectiveConfig } from '../config';
import { type Answer, UploadError } from '../errors';
import { sha256Hex } from '../hash';
import { type CheckedFile, checkDeclaredFile, checkFileBytes } from '../file-checks';
import { effectiveAllowedTypes } from '../media-types';
import {
    CHUNK_SIZE_BYTES,
    type ChunkRequest,
    type CreateSessionRequest,
    MAX_PARALLEL_CHUNKS,
    SINGLE_REQUEST_MAX_BYTES,
    type SingleUploadRequest,
} from '../requests';
import {
    type ChunkMark,
    checkVisitorQuota,
    contiguousOffset,
    countChunks,
    decideChunk,
    isSessionComplete,
    isSessionExpired,
    isSessionUnfinished,
    judgeChunkSlot,
    type PostingAttempt,
    settleMarks,
    type UploadSession,
} from '../session';
import { inProgressOnTimeout, runExactlyOnce, runLocally } from './exactly-once';
import { postFile, type PostedFile, readPostedMessage, recoverEarlierPost, StoreRejectedError } from './file-poster';
import { type CachedSession, type ServerState } from './server-state';
import { type IdempotencyRecord, SessionStore } from './session-store';
import { authorizeVisitor, authorizeVisitorRoom } from './visitor-access';

/** Everything one request works with. The token is used for checks and the upload, never logged. */
export interface UploadContext {
    read: IRead;
    modify: IModify;
    persis: IPersistence;
    logger: ILogger;
    /** This server's locks and cache (one per app process). */
    state: ServerState;
    /** The full effective configuration, read on first use: a chunk that completes nothing never needs it. */
    config(): Promise<EffectiveConfig>;
    visitorToken: string;
    nowMs: number;
    /** Runs `work` once this request has been answered (`ServerState.afterAnswer`); it must not throw. */
    afterAnswer(work: () => Promise<void>): void;
}

function storeOf(ctx: UploadContext): SessionStore {
    return new SessionStore(ctx.read.getPersistenceReader(), ctx.persis);
}

/** `GET limits`: what this visitor may upload, with the type lists the server and the app enforce. */
export async function describeLimits(ctx: UploadContext): Promise<Answer> {
    await authorizeVisitor(ctx.read, ctx.visitorToken);
    const config = await ctx.config();
    return {
        status: 200,
        content: {
            success: true,
            maxFileSizeBytes: config.maxFileSizeBytes,
            singleRequestMaxBytes: SINGLE_REQUEST_MAX_BYTES,
            chunkSizeBytes: CHUNK_SIZE_BYTES,
            maxParallelChunks: MAX_PARALLEL_CHUNKS,
            sessionTtlMs: config.sessionTtlMs,
            allowedTypes: effectiveAllowedTypes(config.serverWhiteList, config.allowedTypes),
            blockedTypes: [...new Set([...config.serverBlackList, ...config.blockedTypes])],
        },
    };
}

/**
 * `POST upload`: checks, stores and posts a small file in one request. With an `Idempotency-Key`
 * a repeat of the request (same visitor, same key) answers what the first one did and posts
 * nothing, even when both arrive at once on different servers.
 */
export async function uploadSingle(ctx: UploadContext, request: SingleUploadRequest, idempotencyKey?: string): Promise<Answer> {
    if (idempotencyKey === undefined) {
        const { room } = await authorizeVisitorRoom(ctx.read, ctx.visitorToken, request.rid);
        const file = checkFileBytes(request.file.bytes, await checkSingleDeclared(ctx, request), request.file.type, await ctx.config());
        return answerPosted(ctx, await storeAndPost(ctx, room, file, request.description), file);
    }
    const fingerprint = sha256Hex(
        JSON.stringify([request.rid, request.file.name, request.file.type ?? '', request.description ?? '', sha256Hex(request.file.bytes)]),
    );
    return runKeyed(ctx, idempotencyKey, fingerprint, {
        answer: async (record) => {
            if (record.state === 'failed' && record.failure) {
                throw new UploadError(record.failure.code, record.failure.details);
            }
            return record.state === 'done' && record.messageId ? messageAnswer(ctx, record.messageId, {}) : undefined;
        },
        act: async ({ store, visitorKey, keyHash, latest, earlier }) => {
            const { room, visitor } = await authorizeVisitorRoom(ctx.read, ctx.visitorToken, request.rid);
            const config = await ctx.config();
            const record: IdempotencyRecord = {
                visitorKey,
                keyHash,
                fingerprint,
                state: 'posting',
                expiresAt: ctx.nowMs + config.sessionTtlMs,
                revision: latest?.revision,
            };
            const recovered = earlier?.posting
                ? await recoverEarlierPost(ctx.read, ctx.modify, room.id, earlier.posting, request.description, {
                      visitorId: visitor.id,
                      takenMessageIds: await messagesOfOtherUploads(store, visitorKey, { keyHash }),
                  })
                : undefined;
            if (recovered) {
                await store.saveIdempotency({ ...record, state: 'done', messageId: String(recovered._id) });
                return { status: 200, content: { ...recovered, success: true } };
            }
            let file: CheckedFile;
            try {
                file = checkFileBytes(request.file.bytes, await checkSingleDeclared(ctx, request), request.file.type, config);
            } catch (e) {
                await recordFailure(e, (failure) => store.saveIdempotency({ ...record, state: 'failed', failure }));
                throw e;
            }
            const posting = postingOf(file, ctx.state.now());
            await store.saveIdempotency({ ...record, posting });
            try {
                const posted = await storeAndPost(ctx, room, file, request.description);
                await store.saveIdempotency({ ...record, state: 'done', messageId: String(posted.message._id) });
                return answerPosted(ctx, posted, file);
            } catch (e) {
                await recordFailure(e, (failure) => store.saveIdempotency({ ...record, state: 'failed', failure }));
                throw e;
            }
        },
    });
}

/** What a request carrying an `Idempotency-Key` knows of its key when it acts (`runKeyed`). */
interface KeyedRequest {
    store: SessionStore;
    visitorKey: string;
    keyHash: string;
    /** The key's record as last read, whatever its age: the next version counts on from it. */
    latest?: IdempotencyRecord;
    /** The same while its lifetime lasts: one past it (not removed yet) is as good as gone. */
    earlier?: IdempotencyRecord;
}

/**
 * Runs a request carrying an `Idempotency-Key` (IETF httpapi draft) once per visitor and key, even
 * when repeats arrive at once on different servers (`runExactlyOnce`): a repeat is answered what
 * the key's record says (`answer`; undefined lets it act, as when there is no record), the same key
 * with another request (`fingerprint`) is `error-idempotency-key-reused`. Only the visitor is checked
 * first: a repeat answers what the first request got also once the room has closed, so `act`
 * checks the room itself.
 */
async function runKeyed(
    ctx: UploadContext,
    idempotencyKey: string,
    fingerprint: string,
    job: { answer: (record: IdempotencyRecord, store: SessionStore) => Promise<Answer | undefined>; act: (keyed: KeyedRequest) => Promise<Answer> },
): Promise<Answer> {
    await authorizeVisitor(ctx.read, ctx.visitorToken);
    const keyed: KeyedRequest = { store: storeOf(ctx), visitorKey: sha256Hex(ctx.visitorToken), keyHash: sha256Hex(idempotencyKey) };
    const key = `idempotency:${keyed.visitorKey}:${keyed.keyHash}`;
    return runExactlyOnce(ctx.state, keyed.store, ctx.logger, {
        lockKey: key,
        claimKey: key,
        owner: { idempotency: { visitorKey: keyed.visitorKey, keyHash: keyed.keyHash } },
        settled: async () => {
            keyed.latest = await keyed.store.findIdempotency(keyed.visitorKey, keyed.keyHash);
            const record = (keyed.earlier = keyed.latest && keyed.latest.expiresAt > ctx.nowMs ? keyed.latest : undefined);
            if (!record) {
                return undefined;
            }
            if (record.fingerprint !== fingerprint) {
                throw new UploadError('error-idempotency-key-reused');
            }
            return job.answer(record, keyed.store);
        },
        act: () => job.act(keyed),
    });
}

async function checkSingleDeclared(ctx: UploadContext, request: SingleUploadRequest): Promise<string> {
    return checkDeclaredFile({ name: request.file.name, size: request.file.bytes.length, type: request.file.type }, await ctx.config());
}

/** Coded errors a later request can get past: missing bytes (sent again) and a busy server. */
const PASSING_CODES: ReadonlyArray<UploadError['code']> = ['error-upload-incomplete', 'error-upload-in-progress'];

/** Records a final refusal (a coded error but a passing one); anything else may pass on a retry and is not recorded. */
async function recordFailure(
    e: unknown,
    save: (failure: { code: UploadError['code']; details: UploadError['details'] }) => Promise<unknown>,
): Promise<void> {
    if (e instanceof UploadError && !PASSING_CODES.includes(e.code)) {
        await save({ code: e.code, details: e.details });
    }
}

/**
 * The messages the visitor's other uploads (resumable sessions and keyed single uploads, all but
 * `except`) have as their outcome: an earlier attempt's recovery never takes one of them. Read only
 * when an attempt is recovered.
 */
async function messagesOfOtherUploads(
    store: SessionStore,
    visitorKey: string,
    except: { uploadId?: string; keyHash?: string },
): Promise<Set<string>> {
    const [sessions, keyed] = await Promise.all([store.listByVisitor(visitorKey), store.listIdempotency()]);
    return new Set([
        ...sessions.filter((s) => s.id !== except.uploadId && s.messageId).map((s) => String(s.messageId)),
        ...keyed.filter((r) => r.visitorKey === visitorKey && r.keyHash !== except.keyHash && r.messageId).map((r) => String(r.messageId)),
    ]);
}

function postingOf(file: CheckedFile, nowMs: number): PostingAttempt {
    return { name: file.name, size: file.bytes.length, type: file.type, sinceMs: nowMs };
}

function answerPosted(ctx: UploadContext, posted: PostedFile, file: CheckedFile): Answer {
    ctx.logger.info('upload stored', { path: 'single', size: file.bytes.length, type: file.type, removedMetadata: file.removedMetadata });
    return { status: 200, content: { ...posted.message, success: true } };
}

/**
 * `POST uploads`: every check that needs no bytes, then a new session. The visitor's quota is
 * checked after inserting the new session (insert, then count: two servers creating at once can
 * both be refused, never both admitted over the limit); on one server creations of one visitor
 * run one at a time. With an `Idempotency-Key`, a repeat (same visitor, same key) answers the
 * session the first request created, at its current offset, and creates none, even when both arrive
 * at once on different servers: a lost answer retried no longer leaves a session nobody continues,
 * counted against the visitor's unfinished uploads until its lifetime ends.
 */
export async function createSession(ctx: UploadContext, request: CreateSessionRequest, idempotencyKey?: string): Promise<Answer> {
    if (idempotencyKey === undefined) {
        return createdAnswer(await createNow(ctx, request));
    }
    const fingerprint = sha256Hex(
        JSON.stringify(['uploads', request.rid, request.name, request.size, request.type ?? '', request.sha256 ?? '', request.description ?? '']),
    );
    return runKeyed(ctx, idempotencyKey, fingerprint, {
        // An upload that ended answers as it ended, as its other routes do: its message or its refusal.
        answer: async (record, store) => {
            if (!record.uploadId) {
                return undefined;
            }
            const session = await loadSession(ctx, store, record.uploadId);
            return (await finishedAnswer(ctx, session)) ?? createdAnswer(session, contiguousOffset(session, await store.readMarks(session.id)));
        },
        // A refusal is not recorded: a repeat is checked again (the visitor's quota may have freed).
        act: async ({ store, visitorKey, keyHash, latest }) => {
            const session = await createNow(ctx, request);
            try {
                await store.saveIdempotency({
                    visitorKey,
                    keyHash,
                    fingerprint,
                    state: 'done',
                    uploadId: session.id,
                    expiresAt: session.expiresAt,
                    revision: latest?.revision,
                });
            } catch (e) {
                // Nobody learns this session's id: a repeat of the request would create another one beside it.
                ctx.state.sessions.forget(session.id);
                await store.remove(session.id).catch(() => undefined);
                throw e;
            }
            return createdAnswer(session);
        },
    });
}

function createdAnswer(session: UploadSession, offset = 0): Answer {
    return { status: 201, content: { success: true, ...progressOf(session, offset), maxParallelChunks: MAX_PARALLEL_CHUNKS } };
}

/** Creates a session for `request` within the visitor's quota. */
async function createNow(ctx: UploadContext, request: CreateSessionRequest): Promise<UploadSession> {
    await authorizeVisitorRoom(ctx.read, ctx.visitorToken, request.rid);
    const config = await ctx.config();
    const name = checkDeclaredFile({ name: request.name, size: request.size, type: request.type }, config);
    const store = storeOf(ctx);
    const visitorKey = sha256Hex(ctx.visitorToken);
    const session: UploadSession = {
        id: randomBytes(16).toString('hex'),
        rid: request.rid,
        visitorKey,
        name,
        size: request.size,
        declaredType: request.type,
        sha256: request.sha256,
        description: request.description,
        chunkSizeBytes: CHUNK_SIZE_BYTES,
        createdAt: ctx.nowMs,
        expiresAt: ctx.nowMs + config.sessionTtlMs,
        state: 'open',
    };
    await runLocally(ctx.state, `visitor:${visitorKey}`, async () => {
        await store.create(session);
        const unfinished = (await store.listByVisitor(visitorKey)).filter((s) => isSessionUnfinished(s, ctx.nowMs));
        try {
            checkVisitorQuota(unfinished, config);
        } catch (e) {
            await store.remove(session.id);
            throw e;
        }
    });
    ctx.state.sessions.put(session);
    ctx.logger.info('upload session created', { size: session.size, type: session.declaredType ?? '' });
    return session;
}

/**
 * The session `uploadId` of this visitor as stored now. Fails with `error-upload-not-found` (never
 * created, aborted, or removed after expiry), `unauthorized` (another visitor's session: the same
 * answer as a bad token), `error-upload-expired`.
 */
async function loadSession(ctx: UploadContext, store: SessionStore, uploadId: string): Promise<UploadSession> {
    return checkSessionAccess(ctx, await store.find(uploadId));
}

function checkSessionAccess(ctx: UploadContext, session: UploadSession | undefined): UploadSession {
    if (!session) {
        throw new UploadError('error-upload-not-found');
    }
    if (session.visitorKey !== sha256Hex(ctx.visitorToken)) {
        throw new UploadError('unauthorized');
    }
    if (session.state === 'aborted') {
        throw new UploadError('error-upload-not-found');
    }
    if (isSessionExpired(session, ctx.nowMs)) {
        throw new UploadError('error-upload-expired');
    }
    return session;
}

/**
 * `loadSession`, and an outcome saved without its end mark (the call failed, or its server died
 * there) gets it now, so late chunks meet it and the staged chunks go: done, failed, and aborted
 * too, which `loadSession` then answers `error-upload-not-found`.
 */
async function loadEndedSession(ctx: UploadContext, store: SessionStore, uploadId: string): Promise<UploadSession> {
    const stored = await store.find(uploadId);
    if (
        stored &&
        stored.state !== 'open' &&
        stored.visitorKey === sha256Hex(ctx.visitorToken) &&
        // Past its lifetime the expiry job has written, or is removing, everything of it: an end mark
        // written now could land after that removal and stay for good.
        stored.expiresAt > ctx.nowMs &&
        !(await store.hasEnded(stored.id))
    ) {
        await endUpload(ctx, store, stored);
    }
    return checkSessionAccess(ctx, stored);
}

/** The session as this server last saw it, read once when it has not seen it. */
async function loadCachedSession(ctx: UploadContext, store: SessionStore, uploadId: string): Promise<CachedSession> {
    const cached = ctx.state.sessions.get(uploadId);
    if (cached) {
        checkSessionAccess(ctx, cached.session);
        return cached;
    }
    return ctx.state.sessions.put(await loadSession(ctx, store, uploadId));
}

function progressOf(session: UploadSession, offset: number): Record<string, unknown> {
    return {
        uploadId: session.id,
        offset,
        size: session.size,
        chunkSizeBytes: session.chunkSizeBytes,
        complete: session.state === 'done',
        expiresAt: new Date(session.expiresAt).toISOString(),
    };
}

/** `GET uploads`: how far the upload got, and its message once finished. */
export async function readStatus(ctx: UploadContext, uploadId: string): Promise<Answer> {
    const store = storeOf(ctx);
    // `loadEndedSession`: the client library recovers from a 5xx with GET uploads, never with
    // POST uploads/complete, so an outcome saved without its end mark gets it here too.
    const session = await loadEndedSession(ctx, store, uploadId);
    const finished = await finishedAnswer(ctx, session);
    if (finished) {
        return finished;
    }
    const offset = contiguousOffset(session, await store.readMarks(session.id));
    return { status: 200, content: { success: true, ...progressOf(session, offset) } };
}

/**
 * `PATCH uploads`: stores one chunk; the chunk that makes the file whole also completes it.
 * A middle chunk reads nothing but its own slot: the session comes from this server's cache (its
 * visitor is checked against the token without a bridge call; the room is checked at creation and
 * again at completion), and the answer's `offset` counts the chunks this server knows of.
 */
export async function acceptChunk(ctx: UploadContext, request: ChunkRequest): Promise<Answer> {
    const store = storeOf(ctx);
    const entry = await loadCachedSession(ctx, store, request.uploadId);
    const { session } = entry;
    if (session.state !== 'open') {
        return (await finishedAnswer(ctx, await loadSession(ctx, store, session.id))) ?? progressAnswer(entry);
    }
    try {
        const taken = await takeChunk(ctx, store, entry, request);
        const answer = taken ?? (await endedAnswer(ctx, store, session.id));
        if (!answer) {
            // Open, yet its end mark is there: only the expiry job ends an upload without an outcome.
            throw new UploadError('error-upload-expired');
        }
        return answer;
    } catch (e) {
        // This server may hold the upload as open after another server ended it: a chunk it would
        // refuse is answered as the upload ended there instead.
        if (e instanceof UploadError && (e.code === 'error-offset-mismatch' || e.code === 'error-chunk-conflict')) {
            const ended = await endedAnswer(ctx, store, session.id);
            if (ended) {
                return ended;
            }
        }
        throw e;
    }
}

/** Stores one chunk of an upload this server holds as open; undefined when the upload had ended. */
async function takeChunk(ctx: UploadContext, store: SessionStore, entry: CachedSession, request: ChunkRequest): Promise<Answer | undefined> {
    const { session } = entry;
    const sha256 = sha256Hex(request.bytes);
    const chunk = { offset: request.offset, length: request.bytes.length, sha256, declaredSha256: request.sha256 };
    let decision;
    try {
        decision = decideChunk(session, entry.chunks, chunk, MAX_PARALLEL_CHUNKS);
    } catch (e) {
        if (!(e instanceof UploadError) || (e.code !== 'error-offset-mismatch' && e.code !== 'error-chunk-conflict')) {
            throw e;
        }
        // This server may not know chunks another server stored, nor a slot a completion emptied
        // since: look before refusing.
        await (e.code === 'error-offset-mismatch' ? refreshMarks(store, entry) : refreshSlot(store, entry, request.offset / session.chunkSizeBytes));
        decision = decideChunk(session, entry.chunks, chunk, MAX_PARALLEL_CHUNKS);
    }
    const stored = await storeChunkOnce(ctx, store, entry, { index: decision.index, length: request.bytes.length, sha256 }, request.base64);
    if (stored === 'ended') {
        return undefined;
    }
    // Only the request carrying the last chunk completes: parallel chunks never start completions
    // of their own. When the last chunk overtook another, the client finishes with `POST uploads/complete`.
    if (decision.index === countChunks(session) - 1) {
        if (!entry.chunks.isComplete(session)) {
            await refreshMarks(store, entry);
        }
        if (entry.chunks.isComplete(session)) {
            return completeSession(ctx, session.id);
        }
    }
    // A completion on this server may have ended the upload while this chunk was being taken: the
    // answer is then its outcome, never `complete: true` without the message.
    return (await finishedAnswer(ctx, entry.session)) ?? progressAnswer(entry);
}

/**
 * When the stored upload has ended (done, failed, aborted; another server ended it), the answer
 * it ended with, and this server's cache holds it as ended from now on; undefined while it is open.
 */
async function endedAnswer(ctx: UploadContext, store: SessionStore, uploadId: string): Promise<Answer | undefined> {
    const stored = await store.find(uploadId);
    if (stored?.state === 'open') {
        return undefined;
    }
    ctx.state.sessions.forget(uploadId);
    const session = checkSessionAccess(ctx, stored);
    ctx.state.sessions.put(session);
    return finishedAnswer(ctx, session);
}

function progressAnswer(entry: CachedSession): Answer {
    return { status: 200, content: { success: true, ...progressOf(entry.session, entry.chunks.offset(entry.session)) } };
}

async function refreshMarks(store: SessionStore, entry: CachedSession): Promise<void> {
    for (const mark of await store.readMarks(entry.session.id)) {
        if (!entry.chunks.get(mark.index)) {
            entry.chunks.add(mark);
        }
    }
}

/** Puts what the store holds now for one chunk slot in place of what this server remembers of it. */
async function refreshSlot(store: SessionStore, entry: CachedSession, index: number): Promise<void> {
    const remembered = entry.chunks.get(index);
    const { marks } = await store.readSlot(entry.session.id, index);
    entry.chunks.remove(index);
    const kept = marks.find((m) => m.sha256 === remembered?.sha256) ?? marks[0];
    if (kept) {
        entry.chunks.add(kept);
    }
}

/**
 * Stores a chunk unless its slot holds other bytes; `ended` when the upload ended meanwhile on
 * another server (nothing of this request stays). On this server the slot's requests run one at a
 * time (a lock per slot; other slots go on in parallel). Across servers the bytes are written as a
 * copy of their own and the slot is read back (`judgeChunkSlot`): different bytes there make this
 * writer remove its copy and answer `error-chunk-conflict`. Bytes this server already took are
 * not written again while the slot still holds them, so a chunk sent many times keeps one copy
 * per server that took it.
 */
async function storeChunkOnce(
    ctx: UploadContext,
    store: SessionStore,
    entry: CachedSession,
    mark: ChunkMark,
    base64: string,
): Promise<'stored' | 'ended'> {
    const { id } = entry.session;
    const conflict = (): UploadError => new UploadError('error-chunk-conflict', { offset: mark.index * entry.session.chunkSizeBytes });
    return runLocally(ctx.state, `chunk:${id}:${mark.index}`, async () => {
        const known = entry.chunks.get(mark.index);
        if (known && known.sha256 !== mark.sha256) {
            throw conflict();
        }
        if (known) {
            const slot = await store.readSlot(id, mark.index);
            if (slot.ended) {
                return 'ended';
            }
            if (slot.marks.some((m) => m.sha256 === mark.sha256)) {
                return 'stored';
            }
            // A completion found these bytes missing and emptied the slot: they are written again.
        }
        const copyId = await store.writeChunk(id, mark, base64);
        const slot = await store.readSlot(id, mark.index);
        if (slot.ended || judgeChunkSlot(mark.sha256, slot.marks) === 'conflict') {
            await store.removeCopy(id, copyId);
            if (slot.ended) {
                return 'ended';
            }
            throw conflict();
        }
        entry.chunks.add(mark);
        return 'stored';
    });
}

/**
 * `DELETE uploads`: removes the chunks right after answering; the session's record stays, marked aborted, until
 * its lifetime ends, so that a chunk still in flight to another server lands under it and goes with
 * it. Waits for a completion in progress; an upload that finished (posted, or refused for good)
 * answers as it ended and is not changed.
 */
export async function abortSession(ctx: UploadContext, uploadId: string): Promise<Answer> {
    const store = storeOf(ctx);
    let current: UploadSession | undefined;
    return runExactlyOnce(ctx.state, store, ctx.logger, {
        lockKey: `upload:${uploadId}`,
        claimKey: `complete:${uploadId}`,
        owner: { uploadId },
        // Reading first refuses a stranger or a gone upload before any claim is written. An upload that
        // already ended answers as it ended and stays so: its message (which stays in the room), or
        // its refusal for good; one missing its end mark gets it (`loadEndedSession`).
        settled: async () => finishedAnswer(ctx, (current = await loadEndedSession(ctx, store, uploadId))),
        act: async () => {
            const session = current!;
            // A completion that recorded its attempt and then failed (or whose server died) may have
            // posted the file: then the upload is done, and the cancel learns that it was sent.
            const recovered = await recoverSessionPost(ctx, store, session, await authorizeVisitor(ctx.read, ctx.visitorToken));
            if (recovered) {
                ctx.logger.warn('an earlier completion had posted the file: DELETE answers its message', { size: session.size });
                return finish(ctx, store, session, recovered);
            }
            await store.save({ ...session, state: 'aborted' });
            await endUpload(ctx, store, session);
            ctx.state.sessions.forget(session.id);
            ctx.logger.info('upload session aborted', { size: session.size });
            return { status: 200, content: { success: true, uploadId: session.id } };
        },
    });
}

/**
 * The message an earlier completion of `session` posted (it recorded its attempt, then failed or its
 * server died), looked for as every recovery does; undefined when there is none.
 */
async function recoverSessionPost(
    ctx: UploadContext,
    store: SessionStore,
    session: UploadSession,
    visitor: IVisitor,
): Promise<Record<string, unknown> | undefined> {
    if (!session.posting) {
        return undefined;
    }
    return recoverEarlierPost(ctx.read, ctx.modify, session.rid, session.posting, session.description, {
        visitorId: visitor.id,
        takenMessageIds: await messagesOfOtherUploads(store, session.visitorKey, { uploadId: session.id }),
    });
}

/**
 * `POST uploads/complete` (and the last chunk): checks the whole file — size, sha256, real type —
 * then stores and posts it, exactly once across requests and servers (`runExactlyOnce`): a
 * repeated or concurrent completion waits and answers the same message. A file that can never
 * pass (wrong checksum, refused content) fails the session for good: every later request answers
 * the same error.
 */
export async function completeSession(ctx: UploadContext, uploadId: string): Promise<Answer> {
    const store = storeOf(ctx);
    let current: UploadSession | undefined;
    return runExactlyOnce(ctx.state, store, ctx.logger, {
        lockKey: `upload:${uploadId}`,
        claimKey: `complete:${uploadId}`,
        owner: { uploadId },
        settled: async () => finishedAnswer(ctx, (current = await loadEndedSession(ctx, store, uploadId))),
        act: () => completeNow(ctx, store, current!),
    });
}

async function completeNow(ctx: UploadContext, store: SessionStore, session: UploadSession): Promise<Answer> {
    const { room, visitor } = await authorizeVisitorRoom(ctx.read, ctx.visitorToken, session.rid);
    const marks = await readSettledMarks(ctx, store, session);
    if (!isSessionComplete(session, marks)) {
        throw new UploadError('error-upload-incomplete', { offset: contiguousOffset(session, marks) });
    }
    const recovered = await recoverSessionPost(ctx, store, session, visitor);
    if (recovered) {
        ctx.logger.warn('an earlier completion had posted the file: its message is the answer', { size: session.size });
        return finish(ctx, store, session, recovered);
    }
    const config = await ctx.config();
    // The file is in memory several times over from here on (chunks, the whole file, the runtime's
    // copies for one upload call): this server completes at most `maxConcurrentCompletions` at once.
    const askedForSlotAtMs = ctx.state.now();
    return inCompletionSlot(ctx, config.maxConcurrentCompletions, async () => {
        if (ctx.state.now() - askedForSlotAtMs >= ROOM_CHECK_AGAIN_AFTER_MS) {
            // The room was checked before the wait: an agent may have closed it meanwhile, and a file
            // posted to a closed room is refused after Rocket.Chat stored it.
            await authorizeVisitorRoom(ctx.read, ctx.visitorToken, session.rid);
        }
        let file: CheckedFile;
        try {
            file = await readCheckedFile(ctx, store, session, marks, config);
        } catch (e) {
            await recordFailure(e, (failure) => failSession(ctx, store, session, failure));
            throw e;
        }
        await store.save({ ...session, posting: postingOf(file, ctx.state.now()) });
        try {
            const posted = await storeAndPost(ctx, room, file, session.description);
            ctx.logger.info('upload stored', { path: 'resumable', size: file.bytes.length, type: file.type, removedMetadata: file.removedMetadata });
            return await finish(ctx, store, session, posted.message);
        } catch (e) {
            await recordFailure(e, (failure) => failSession(ctx, store, session, failure));
            throw e;
        }
    });
}

/** A completion that waited this long for a slot checks the visitor's room again before posting. */
const ROOM_CHECK_AGAIN_AFTER_MS = 1_000;

/**
 * Runs `work` in one of this server's completion slots. A request that cannot get one before its
 * wait limit (counted from its arrival) answers `error-upload-in-progress`: its visitor asks again.
 */
async function inCompletionSlot<T>(ctx: UploadContext, slots: number, work: () => Promise<T>): Promise<T> {
    const waitMs = Math.max(0, ctx.nowMs + ctx.state.timing.waitLimitMs - ctx.state.now());
    return inProgressOnTimeout(ctx.state.completions.run(slots, work, waitMs, 'completion slots'));
}

/**
 * How often, and how long apart, completion looks again at a chunk slot it found with two contents
 * before emptying it: a refused write is usually being taken back by its server at that moment.
 */
const SLOT_LOOKS = 3;
const SLOT_LOOK_PAUSE_MS = 50;

/**
 * The session's marks, one per slot. A slot with two contents is looked at again a few times (a
 * write refused as a conflict is taken back by its own server within a few calls); one that keeps
 * two (a server died between writing and reading back) is emptied for the client to resend.
 */
async function readSettledMarks(ctx: UploadContext, store: SessionStore, session: UploadSession): Promise<ChunkMark[]> {
    let marks = await store.readMarks(session.id);
    for (let looks = 0; ; looks += 1) {
        try {
            return settleMarks(session, marks);
        } catch (e) {
            if (!(e instanceof UploadError) || e.code !== 'error-chunk-conflict') {
                throw e;
            }
            const index = Number(e.details.offset) / session.chunkSizeBytes;
            if (looks >= SLOT_LOOKS) {
                await emptySlot(ctx, store, session.id, index, marks);
                throw e;
            }
            await ctx.state.sleep(SLOT_LOOK_PAUSE_MS);
            const { marks: slot } = await store.readSlot(session.id, index);
            marks = [...marks.filter((m) => m.index !== index), ...slot];
        }
    }
}

/**
 * Removes the contents of chunk slot `index` among `marks`, from the store and from what this
 * server remembers of the upload, so the chunk sent again is taken here too.
 */
async function emptySlot(ctx: UploadContext, store: SessionStore, id: string, index: number, marks: ChunkMark[]): Promise<void> {
    await Promise.all(marks.filter((m) => m.index === index).map((m) => store.removeSlotContent(id, m)));
    ctx.state.sessions.get(id)?.chunks.remove(index);
}

/**
 * The whole file, each chunk copied into one buffer as it is read (no list of parts kept beside it),
 * then checked. A chunk whose mark is there but whose bytes are not (removed by hand, or lost) loses
 * its mark and fails with `error-upload-incomplete` at its offset: the client sends it again.
 */
async function readCheckedFile(
    ctx: UploadContext,
    store: SessionStore,
    session: UploadSession,
    marks: ChunkMark[],
    config: EffectiveConfig,
): Promise<CheckedFile> {
    const bytes = Buffer.alloc(session.size);
    let filled = 0;
    await store.readChunks(session.id, marks, async (mark, chunk) => {
        if (!chunk) {
            await emptySlot(ctx, store, session.id, mark.index, [mark]);
            throw new UploadError('error-upload-incomplete', { offset: mark.index * session.chunkSizeBytes });
        }
        if (filled + chunk.length > session.size) {
            throw new Error(`chunk ${mark.index} of upload ${session.id} is too long`);
        }
        filled += chunk.copy(bytes, filled);
    });
    if (filled !== session.size) {
        throw new Error(`upload ${session.id} has ${filled} bytes, ${session.size} declared`);
    }
    if (session.sha256 !== undefined && sha256Hex(bytes) !== session.sha256) {
        throw new UploadError('error-checksum-mismatch', { field: 'sha256' });
    }
    return checkFileBytes(bytes, session.name, session.declaredType, config);
}

async function finish(ctx: UploadContext, store: SessionStore, session: UploadSession, message: Record<string, unknown>): Promise<Answer> {
    const done = await store.save({ ...session, state: 'done', messageId: String(message._id), posting: undefined });
    ctx.state.sessions.put(done);
    await endUpload(ctx, store, session);
    return { status: 200, content: { ...message, success: true, ...progressOf(done, done.size) } };
}

async function failSession(ctx: UploadContext, store: SessionStore, session: UploadSession, failure: UploadSession['failure']): Promise<void> {
    ctx.state.sessions.put(await store.save({ ...session, state: 'failed', failure, posting: undefined }));
    await endUpload(ctx, store, session);
}

/**
 * What follows an upload's outcome (done, failed or aborted) once it is written: its end mark, before
 * the answer, so a chunk reaching any server afterwards is answered as it ended; then, after the
 * answer, its chunk bytes go: nothing reads them any more (1,369 records at 100 MiB), and what a
 * server dying meanwhile leaves behind goes with the session when its lifetime ends.
 */
async function endUpload(ctx: UploadContext, store: SessionStore, session: UploadSession): Promise<void> {
    await store.markEnded(session.id, countChunks(session));
    ctx.afterAnswer(() =>
        store.removeChunkBytes(session.id, countChunks(session)).catch((e) => {
            ctx.logger.warn('chunks of a finished upload not removed; they go when it expires', {
                error: e instanceof Error ? e.message : String(e),
            });
        }),
    );
}

/** The answer of a finished session: its message, or its refusal thrown again; undefined while open. */
async function finishedAnswer(ctx: UploadContext, session: UploadSession): Promise<Answer | undefined> {
    if (session.state === 'failed' && session.failure) {
        throw new UploadError(session.failure.code, session.failure.details);
    }
    if (session.state !== 'done') {
        return undefined;
    }
    return messageAnswer(ctx, session.messageId, progressOf(session, session.size));
}

async function messageAnswer(ctx: UploadContext, messageId: string | undefined, extra: Record<string, unknown>): Promise<Answer> {
    const message = messageId ? await readPostedMessage(ctx.read, messageId) : undefined;
    if (!message) {
        // Removed from the room (an agent or an admin deleted it): the upload is gone with it. A client
        // resuming it starts over rather than meeting an error on every try until the upload expires.
        ctx.logger.warn('the message of a finished upload is gone', { messageId: messageId ?? '' });
        throw new UploadError('error-upload-not-found');
    }
    return { status: 200, content: { ...message, success: true, ...extra } };
}

async function storeAndPost(ctx: UploadContext, room: ILivechatRoom, file: CheckedFile, description: string | undefined): Promise<PostedFile> {
    try {
        return await postFile(ctx.read, ctx.modify, { room, visitorToken: ctx.visitorToken, name: file.name, bytes: file.bytes, description });
    } catch (e) {
        if (e instanceof StoreRejectedError) {
            ctx.logger.warn('the server refused the file', { size: file.bytes.length, reason: e.message });
            throw new UploadError('error-upload-rejected');
        }
        throw e;
    }
}

/**
 * How long an expired upload keeps its records after its end mark: longer than any request can run
 * (the runtime's call timeout) plus the servers' clock difference, so no chunk taken before the end
 * is still being written when its upload is removed.
 */
export const EXPIRY_GRACE_MS = 10 * 60_000;

/**
 * Removes sessions and idempotency records whose lifetime has passed, whatever their state. An
 * upload goes in two steps: its end mark first (a chunk still in flight to a server that holds the
 * upload as open meets it and takes its copy back), everything of it once `EXPIRY_GRACE_MS` more has
 * passed. Returns how many records' owners were removed.
 */
export async function removeExpiredSessions(read: IRead, persis: IPersistence, nowMs: number): Promise<number> {
    const store = new SessionStore(read.getPersistenceReader(), persis);
    const stale = (await store.listAll()).filter((s) => s.expiresAt <= nowMs);
    let removed = 0;
    for (const session of stale) {
        if (session.expiresAt + EXPIRY_GRACE_MS <= nowMs) {
            await store.remove(session.id);
            removed += 1;
        } else if (!(await store.hasEnded(session.id))) {
            await store.markEnded(session.id, countChunks(session));
        }
    }
    const staleKeys = (await store.listIdempotency()).filter((r) => r.expiresAt <= nowMs);
    for (const record of staleKeys) {
        await store.removeIdempotency(record.visitorKey, record.keyHash);
    }
    return removed + staleKeys.length;
}
