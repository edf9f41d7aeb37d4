import { type EffectiveConfig } from './config';
import { type ErrorCode, type ErrorDetails, UploadError } from './errors';

/**
 * What was handed to the upload accessor, recorded before the call: the accessor posts the file
 * message itself, so a server that dies (or a call that times out) after the post but before the
 * outcome was written leaves a message the next attempt must find instead of posting it again.
 */
export interface PostingAttempt {
    name: string;
    size: number;
    type: string;
    sinceMs: number;
}

/** A final refusal, kept so that every later request for the upload answers the same. */
export interface UploadFailure {
    code: ErrorCode;
    details: ErrorDetails;
}

/** One resumable upload, as kept in the app's persistence. Never holds the visitor's token. */
export interface UploadSession {
    id: string;
    rid: string;
    /** sha256 of the visitor token: sessions belong to one visitor without storing the token. */
    visitorKey: string;
    name: string;
    size: number;
    declaredType?: string;
    sha256?: string;
    description?: string;
    chunkSizeBytes: number;
    createdAt: number;
    expiresAt: number;
    /**
     * `open` takes chunks and completes; `done` has its message; `failed` was refused for good;
     * `aborted` was deleted by its visitor. Finished records stay until `expiresAt` so that repeated
     * or late requests get the same answer. (A `completing` state written by earlier versions reads
     * as `open`: who completes is decided by claims now, see `claim.ts`.)
     */
    state: 'open' | 'done' | 'failed' | 'aborted';
    messageId?: string;
    failure?: UploadFailure;
    posting?: PostingAttempt;
    /** Which version of the session record this is (`SessionStore.save`): 0 as created. */
    revision?: number;
}

/** What the server knows of one stored chunk; the bytes live in a record of their own. */
export interface ChunkMark {
    index: number;
    length: number;
    sha256: string;
}

export type ChunkDecision = { kind: 'store'; index: number } | { kind: 'duplicate'; index: number };

/** Number of chunks the file is cut into. */
export function countChunks(session: Pick<UploadSession, 'size' | 'chunkSizeBytes'>): number {
    return Math.ceil(session.size / session.chunkSizeBytes);
}

/** Length chunk `index` must have: `chunkSizeBytes`, the last one the remainder. */
export function expectedChunkLength(session: Pick<UploadSession, 'size' | 'chunkSizeBytes'>, index: number): number {
    return Math.min(session.chunkSizeBytes, session.size - index * session.chunkSizeBytes);
}

/** Bytes stored without a gap from the start: tus's `Upload-Offset`. */
export function contiguousOffset(session: Pick<UploadSession, 'size' | 'chunkSizeBytes'>, marks: ChunkMark[]): number {
    return new ChunkLedger(marks).offset(session);
}

/** True when every chunk is stored. */
export function isSessionComplete(session: Pick<UploadSession, 'size' | 'chunkSizeBytes'>, marks: ChunkMark[]): boolean {
    return contiguousOffset(session, marks) === session.size;
}

/**
 * The chunks one server knows to be stored for a session, with the first one missing kept as it
 * goes: deciding a chunk costs the same for the first chunk as for the 1,369th (a 100 MiB file).
 * Marks are only added as chunks are stored, and removed when a completion finds a slot to empty.
 */
export class ChunkLedger {
    private readonly marks = new Map<number, ChunkMark>();
    private firstMissing = 0;

    constructor(marks: Iterable<ChunkMark> = []) {
        for (const mark of marks) {
            this.add(mark);
        }
    }

    public get(index: number): ChunkMark | undefined {
        return this.marks.get(index);
    }

    public add(mark: ChunkMark): void {
        this.marks.set(mark.index, mark);
    }

    public remove(index: number): void {
        this.marks.delete(index);
        this.firstMissing = Math.min(this.firstMissing, index);
    }

    /** The index of the first chunk not known to be stored (tus's offset, in chunks). */
    public firstMissingIndex(): number {
        while (this.marks.has(this.firstMissing)) {
            this.firstMissing += 1;
        }
        return this.firstMissing;
    }

    /** The bytes stored without a gap from the start: tus's `Upload-Offset`. */
    public offset(session: Pick<UploadSession, 'size' | 'chunkSizeBytes'>): number {
        return Math.min(this.firstMissingIndex() * session.chunkSizeBytes, session.size);
    }

    public isComplete(session: Pick<UploadSession, 'size' | 'chunkSizeBytes'>): boolean {
        return this.offset(session) === session.size;
    }
}

/**
 * Decides what to do with a chunk (tus semantics, extended to a window of parallel chunks):
 * - `store` a new chunk at an offset that is a chunk boundary within `maxParallelChunks` of the
 *   server's offset, with exactly the expected length;
 * - `duplicate` for a chunk stored before with the same bytes (a retry): accepted, nothing changes.
 * Fails with `error-checksum-mismatch` (bytes differ from the `sha256` sent), `error-offset-mismatch`
 * (not a boundary, past the end or outside the window; tus answers 409 with the server's offset),
 * `error-chunk-conflict` (other bytes than those stored), `error-invalid-body` (wrong length).
 */
export function decideChunk(
    session: UploadSession,
    stored: ChunkLedger,
    chunk: { offset: number; length: number; sha256: string; declaredSha256?: string },
    maxParallelChunks: number,
): ChunkDecision {
    if (chunk.declaredSha256 !== undefined && chunk.declaredSha256 !== chunk.sha256) {
        throw new UploadError('error-checksum-mismatch', { field: 'sha256' });
    }
    const serverOffset = stored.offset(session);
    if (chunk.offset % session.chunkSizeBytes !== 0 || chunk.offset >= session.size) {
        throw new UploadError('error-offset-mismatch', { offset: serverOffset });
    }
    const index = chunk.offset / session.chunkSizeBytes;
    const expectedBytes = expectedChunkLength(session, index);
    if (chunk.length !== expectedBytes) {
        throw new UploadError('error-invalid-body', { field: 'data', expectedBytes });
    }
    const known = stored.get(index);
    if (known) {
        if (known.sha256 === chunk.sha256) {
            return { kind: 'duplicate', index };
        }
        throw new UploadError('error-chunk-conflict', { offset: chunk.offset });
    }
    if (index >= stored.firstMissingIndex() + maxParallelChunks) {
        throw new UploadError('error-offset-mismatch', { offset: serverOffset });
    }
    return { kind: 'store', index };
}

/**
 * Checks the visitor's unfinished sessions, the new one included (it is inserted first and then
 * counted, so that two servers creating at once cannot both stay under the limit): at most
 * `maxOpenSessions` unfinished uploads and `maxStagedBytes` declared bytes in them.
 * Fails with `error-too-many-uploads`.
 */
export function checkVisitorQuota(unfinished: UploadSession[], config: EffectiveConfig): void {
    const staged = unfinished.reduce((sum, s) => sum + s.size, 0);
    if (unfinished.length > config.maxOpenSessions || staged > config.maxStagedBytes) {
        throw new UploadError('error-too-many-uploads', {
            maxOpenSessions: config.maxOpenSessions,
            maxStagedBytes: config.maxStagedBytes,
        });
    }
}

/** True when the session's lifetime has passed and it is not finished. */
export function isSessionExpired(session: UploadSession, nowMs: number): boolean {
    return session.state === 'open' && session.expiresAt <= nowMs;
}

/** True while the session counts against its visitor's quota. */
export function isSessionUnfinished(session: UploadSession, nowMs: number): boolean {
    return session.state === 'open' && !isSessionExpired(session, nowMs);
}

/**
 * The marks read for one chunk slot after writing `sha256` there. Chunks are stored under their
 * content's hash, so two servers storing different bytes at one offset at the same instant leave
 * two marks; like a claim (`claim.ts`), a writer keeps its bytes only when it sees no other
 * content in the slot. Returns `kept`, or `conflict` (the writer removes its own bytes and answers
 * `error-chunk-conflict`; when both writers see both, both do, and the client sends it again).
 */
export function judgeChunkSlot(sha256: string, slotMarks: ChunkMark[]): 'kept' | 'conflict' {
    return slotMarks.some((m) => m.sha256 !== sha256) ? 'conflict' : 'kept';
}

/**
 * The one mark per chunk to build the file from. Fails with `error-chunk-conflict` (and the
 * chunk's offset) when a slot holds two contents: a conflicting write still being undone, or left
 * by a server that died between writing and checking.
 */
export function settleMarks(session: Pick<UploadSession, 'size' | 'chunkSizeBytes'>, marks: ChunkMark[]): ChunkMark[] {
    const bySlot = new Map<number, ChunkMark>();
    for (const mark of marks) {
        const seen = bySlot.get(mark.index);
        if (seen && seen.sha256 !== mark.sha256) {
            throw new UploadError('error-chunk-conflict', { offset: mark.index * session.chunkSizeBytes });
        }
        bySlot.set(mark.index, mark);
    }
    return [...bySlot.values()].sort((a, b) => a.index - b.index);
}

/** Reads a stored session's state, mapping the `completing` of earlier versions to `open`. */
export function normalizeSessionState(state: unknown): UploadSession['state'] {
    return state === 'done' || state === 'failed' || state === 'aborted' ? state : 'open';
}
