import { type EffectiveConfig } from './config';
import { UploadError } from './errors';

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
    state: 'open' | 'completing' | 'done';
    completingSince?: number;
    messageId?: string;
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
    const have = new Set(marks.map((m) => m.index));
    let index = 0;
    while (have.has(index)) {
        index += 1;
    }
    return Math.min(index * session.chunkSizeBytes, session.size);
}

/** True when every chunk is stored. */
export function isSessionComplete(session: Pick<UploadSession, 'size' | 'chunkSizeBytes'>, marks: ChunkMark[]): boolean {
    return contiguousOffset(session, marks) === session.size;
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
    marks: ChunkMark[],
    chunk: { offset: number; length: number; sha256: string; declaredSha256?: string },
    maxParallelChunks: number,
): ChunkDecision {
    if (chunk.declaredSha256 !== undefined && chunk.declaredSha256 !== chunk.sha256) {
        throw new UploadError('error-checksum-mismatch', { field: 'sha256' });
    }
    const serverOffset = contiguousOffset(session, marks);
    if (chunk.offset % session.chunkSizeBytes !== 0 || chunk.offset >= session.size) {
        throw new UploadError('error-offset-mismatch', { offset: serverOffset });
    }
    const index = chunk.offset / session.chunkSizeBytes;
    const expectedBytes = expectedChunkLength(session, index);
    if (chunk.length !== expectedBytes) {
        throw new UploadError('error-invalid-body', { field: 'data', expectedBytes });
    }
    const stored = marks.find((m) => m.index === index);
    if (stored) {
        if (stored.sha256 === chunk.sha256) {
            return { kind: 'duplicate', index };
        }
        throw new UploadError('error-chunk-conflict', { offset: chunk.offset });
    }
    const firstMissing = serverOffset / session.chunkSizeBytes;
    if (index >= firstMissing + maxParallelChunks) {
        throw new UploadError('error-offset-mismatch', { offset: serverOffset });
    }
    return { kind: 'store', index };
}

/**
 * Checks a new session against the visitor's open ones: at most `maxOpenSessions` unfinished
 * uploads and `maxStagedBytes` declared bytes in them. Fails with `error-too-many-uploads`.
 */
export function checkVisitorQuota(open: UploadSession[], size: number, config: EffectiveConfig): void {
    const staged = open.reduce((sum, s) => sum + s.size, 0);
    if (open.length >= config.maxOpenSessions || staged + size > config.maxStagedBytes) {
        throw new UploadError('error-too-many-uploads', {
            maxOpenSessions: config.maxOpenSessions,
            maxStagedBytes: config.maxStagedBytes,
        });
    }
}

/** True when the session's lifetime has passed and it is not finished. */
export function isSessionExpired(session: UploadSession, nowMs: number): boolean {
    return session.state !== 'done' && session.expiresAt <= nowMs;
}
