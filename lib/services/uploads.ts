import { createHash, randomBytes } from 'crypto';

import type { ILogger, IModify, IPersistence, IRead } from '@rocket.chat/apps-engine/definition/accessors';
import type { ILivechatRoom } from '@rocket.chat/apps-engine/definition/livechat';

import { type EffectiveConfig } from '../config';
import { type Answer, UploadError } from '../errors';
import { checkDeclaredFile, checkFileBytes } from '../file-checks';
import {
    CHUNK_SIZE_BYTES,
    type ChunkRequest,
    type CreateSessionRequest,
    MAX_PARALLEL_CHUNKS,
    SINGLE_REQUEST_MAX_BYTES,
    type SingleUploadRequest,
} from '../requests';
import { checkVisitorQuota, contiguousOffset, countChunks, decideChunk, isSessionComplete, isSessionExpired, type UploadSession } from '../session';
import { postFile, type PostedFile, readPostedMessage, StoreRejectedError } from './file-poster';
import { SessionStore } from './session-store';
import { authorizeVisitorRoom } from './visitor-access';

/** Everything one request works with. The token is used for checks and the upload, never logged. */
export interface UploadContext {
    read: IRead;
    modify: IModify;
    persis: IPersistence;
    logger: ILogger;
    /** The full effective configuration, read on first use: a chunk that completes nothing never needs it. */
    config(): Promise<EffectiveConfig>;
    visitorToken: string;
    nowMs: number;
}

/** A completion started this long ago without finishing is taken over (the server died mid-way). */
const COMPLETION_STALE_MS = 60_000;
const COMPLETION_WAIT_MS = 20_000;
const COMPLETION_POLL_MS = 250;

/** The sha256 of `bytes` as lower-case hex, as clients send it. */
export function sha256Hex(bytes: Buffer | string): string {
    return createHash('sha256').update(bytes).digest('hex');
}

function storeOf(ctx: UploadContext): SessionStore {
    return new SessionStore(ctx.read.getPersistenceReader(), ctx.persis);
}

/** The limits a widget needs before it picks a file. */
export function describeLimits(config: EffectiveConfig): Answer {
    return {
        status: 200,
        content: {
            success: true,
            maxFileSizeBytes: config.maxFileSizeBytes,
            singleRequestMaxBytes: SINGLE_REQUEST_MAX_BYTES,
            chunkSizeBytes: CHUNK_SIZE_BYTES,
            maxParallelChunks: MAX_PARALLEL_CHUNKS,
            sessionTtlMs: config.sessionTtlMs,
            allowedTypes: config.allowedTypes,
            blockedTypes: [...config.serverBlackList, ...config.blockedTypes],
        },
    };
}

/** `POST upload`: checks, stores and posts a small file in one request. */
export async function uploadSingle(ctx: UploadContext, request: SingleUploadRequest): Promise<Answer> {
    const { room } = await authorizeVisitorRoom(ctx.read, ctx.visitorToken, request.rid);
    const config = await ctx.config();
    const name = checkDeclaredFile({ name: request.file.name, size: request.file.bytes.length, type: request.file.type }, config);
    const file = checkFileBytes(request.file.bytes, name, request.file.type, config);
    const posted = await storeAndPost(ctx, room, file.name, file.bytes, request.description);
    ctx.logger.info('upload stored', { path: 'single', size: file.bytes.length, type: file.type, removedMetadata: file.removedMetadata });
    return { status: 200, content: { ...posted.message, success: true } };
}

/** `POST uploads`: every check that needs no bytes, then a new session. */
export async function createSession(ctx: UploadContext, request: CreateSessionRequest): Promise<Answer> {
    await authorizeVisitorRoom(ctx.read, ctx.visitorToken, request.rid);
    const config = await ctx.config();
    const name = checkDeclaredFile({ name: request.name, size: request.size, type: request.type }, config);
    const store = storeOf(ctx);
    const visitorKey = sha256Hex(ctx.visitorToken);
    const open = (await store.listByVisitor(visitorKey)).filter((s) => s.state !== 'done' && !isSessionExpired(s, ctx.nowMs));
    checkVisitorQuota(open, request.size, config);
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
    await store.create(session);
    ctx.logger.info('upload session created', { size: session.size, type: session.declaredType ?? '' });
    return { status: 201, content: { success: true, ...progressOf(session, 0), maxParallelChunks: MAX_PARALLEL_CHUNKS } };
}

/**
 * The session `uploadId` of this visitor, still usable. Fails with `error-upload-not-found`,
 * `unauthorized` (another visitor's session: the same answer as a bad token), `error-upload-expired`.
 */
async function loadSession(ctx: UploadContext, store: SessionStore, uploadId: string): Promise<UploadSession> {
    const session = await store.find(uploadId);
    if (!session) {
        throw new UploadError('error-upload-not-found');
    }
    if (session.visitorKey !== sha256Hex(ctx.visitorToken)) {
        throw new UploadError('unauthorized');
    }
    if (isSessionExpired(session, ctx.nowMs)) {
        await store.remove(session.id);
        throw new UploadError('error-upload-expired');
    }
    return session;
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
    const session = await loadSession(ctx, store, uploadId);
    if (session.state === 'done') {
        return finishedAnswer(ctx, session);
    }
    const offset = contiguousOffset(session, await store.readMarks(session.id));
    return { status: 200, content: { success: true, ...progressOf(session, offset) } };
}

/** `PATCH uploads`: stores one chunk; the chunk that makes the file whole also completes it. */
export async function acceptChunk(ctx: UploadContext, request: ChunkRequest): Promise<Answer> {
    const store = storeOf(ctx);
    const session = await loadSession(ctx, store, request.uploadId);
    if (session.state === 'done') {
        return finishedAnswer(ctx, session);
    }
    const [, marks] = await Promise.all([authorizeVisitorRoom(ctx.read, ctx.visitorToken, session.rid), store.readMarks(session.id)]);
    const sha256 = sha256Hex(request.bytes);
    const decision = decideChunk(
        session,
        marks,
        { offset: request.offset, length: request.bytes.length, sha256, declaredSha256: request.sha256 },
        MAX_PARALLEL_CHUNKS,
    );
    if (decision.kind === 'store') {
        await store.writeChunk(session.id, { index: decision.index, length: request.bytes.length, sha256 }, request.bytes);
    }
    // Only the request carrying the last chunk completes, so parallel chunks never start two
    // completions; it reads the marks again, as chunks sent beside it may have landed meanwhile.
    // When the last chunk overtook another, the client finishes with `POST uploads/complete`.
    const isLast = decision.index === countChunks(session) - 1;
    const current = isLast ? await store.readMarks(session.id) : [...marks, { index: decision.index, length: request.bytes.length, sha256 }];
    if (isLast && isSessionComplete(session, current)) {
        return completeSession(ctx, session.id);
    }
    return { status: 200, content: { success: true, ...progressOf(session, contiguousOffset(session, current)) } };
}

/** `DELETE uploads`: removes the session and its chunks at once. */
export async function abortSession(ctx: UploadContext, uploadId: string): Promise<Answer> {
    const store = storeOf(ctx);
    const session = await loadSession(ctx, store, uploadId);
    await store.remove(session.id);
    ctx.logger.info('upload session aborted', { size: session.size });
    return { status: 200, content: { success: true, uploadId: session.id } };
}

/**
 * `POST uploads/complete` (and the last chunk): checks the whole file — size, sha256, real type —
 * then stores and posts it. Idempotent: a finished session answers its message again. A file that
 * can never pass (wrong checksum, refused content) removes the session with the error.
 */
export async function completeSession(ctx: UploadContext, uploadId: string): Promise<Answer> {
    const store = storeOf(ctx);
    let session = await loadSession(ctx, store, uploadId);
    session = await waitForOtherCompletion(ctx, store, session);
    if (session.state === 'done') {
        return finishedAnswer(ctx, session);
    }
    const { room } = await authorizeVisitorRoom(ctx.read, ctx.visitorToken, session.rid);
    const marks = await store.readMarks(session.id);
    if (!isSessionComplete(session, marks)) {
        throw new UploadError('error-upload-incomplete', { offset: contiguousOffset(session, marks) });
    }
    await store.save({ ...session, state: 'completing', completingSince: ctx.nowMs });
    try {
        const bytes = await store.readFile(session.id, countChunks(session));
        if (bytes.length !== session.size) {
            throw new Error(`upload ${session.id} has ${bytes.length} bytes, ${session.size} declared`);
        }
        if (session.sha256 !== undefined && sha256Hex(bytes) !== session.sha256) {
            throw new UploadError('error-checksum-mismatch', { field: 'sha256' });
        }
        const file = checkFileBytes(bytes, session.name, session.declaredType, await ctx.config());
        const posted = await storeAndPost(ctx, room, file.name, file.bytes, session.description);
        const done: UploadSession = { ...session, state: 'done', messageId: String(posted.message._id) };
        await store.save(done);
        await store.removeChunks(session.id);
        ctx.logger.info('upload stored', { path: 'resumable', size: file.bytes.length, type: file.type, removedMetadata: file.removedMetadata });
        return { status: 200, content: { ...posted.message, success: true, ...progressOf(done, done.size) } };
    } catch (e) {
        if (e instanceof UploadError) {
            // The bytes are final: nothing the client sends can change the outcome.
            await store.remove(session.id);
        } else {
            await store.save({ ...session, state: 'open' });
        }
        throw e;
    }
}

async function waitForOtherCompletion(ctx: UploadContext, store: SessionStore, session: UploadSession): Promise<UploadSession> {
    let current = session;
    const deadline = Date.now() + COMPLETION_WAIT_MS;
    while (current.state === 'completing' && ctx.nowMs - (current.completingSince ?? 0) < COMPLETION_STALE_MS && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, COMPLETION_POLL_MS));
        current = (await store.find(session.id)) ?? current;
    }
    return current;
}

async function finishedAnswer(ctx: UploadContext, session: UploadSession): Promise<Answer> {
    const message = session.messageId ? await readPostedMessage(ctx.read, session.messageId) : undefined;
    if (!message) {
        throw new Error(`the message of finished upload ${session.id} cannot be read`);
    }
    return { status: 200, content: { ...message, success: true, ...progressOf(session, session.size) } };
}

async function storeAndPost(
    ctx: UploadContext,
    room: ILivechatRoom,
    name: string,
    bytes: Buffer,
    description: string | undefined,
): Promise<PostedFile> {
    try {
        return await postFile(ctx.read, ctx.modify, { room, visitorToken: ctx.visitorToken, name, bytes, description });
    } catch (e) {
        if (e instanceof StoreRejectedError) {
            ctx.logger.warn('the server refused the file', { size: bytes.length, reason: e.message });
            throw new UploadError('error-upload-rejected');
        }
        throw e;
    }
}

/** Removes sessions whose lifetime has passed, and finished ones kept for their answer. */
export async function removeExpiredSessions(read: IRead, persis: IPersistence, nowMs: number): Promise<number> {
    const store = new SessionStore(read.getPersistenceReader(), persis);
    const stale = (await store.listAll()).filter((s) => s.expiresAt <= nowMs);
    for (const session of stale) {
        await store.remove(session.id);
    }
    return stale.length;
}
