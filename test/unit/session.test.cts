import { describe, expect, it } from '@jest/globals';

import { resolveConfig } from '../../lib/config';
import {
    ChunkLedger,
    type ChunkMark,
    checkVisitorQuota,
    contiguousOffset,
    decideChunk,
    isSessionComplete,
    type UploadSession,
} from '../../lib/session';
import { failureOf } from './failure.cjs';

const session: UploadSession = {
    id: 'u1',
    rid: 'r1',
    visitorKey: 'k',
    name: 'f.bin',
    size: 250,
    chunkSizeBytes: 100,
    createdAt: 0,
    expiresAt: 1000,
    state: 'open',
};
const mark = (index: number, sha256 = `sha${index}`): ChunkMark => ({ index, length: index === 2 ? 50 : 100, sha256 });

describe('contiguousOffset', () => {
    it.each([
        ['no chunks', [], 0],
        ['the first chunk', [mark(0)], 100],
        ['a gap after the first', [mark(0), mark(2)], 100],
        ['all chunks, the last short', [mark(0), mark(1), mark(2)], 250],
    ])('is the gap-free prefix with %s', (_what, marks, expected) => {
        expect(contiguousOffset(session, marks as ChunkMark[])).toBe(expected);
        expect(isSessionComplete(session, marks as ChunkMark[])).toBe(expected === 250);
        const ledger = new ChunkLedger(marks as ChunkMark[]);
        expect([ledger.offset(session), ledger.isComplete(session)]).toEqual([expected, expected === 250]);
    });

    it('is kept by the ledger as chunks come in any order and one is removed again', () => {
        const ledger = new ChunkLedger();
        const offsets = [mark(1), mark(0), mark(2)].map((m) => (ledger.add(m), ledger.offset(session)));
        ledger.remove(1);
        expect([...offsets, ledger.offset(session)]).toEqual([0, 200, 250, 100]);
    });
});

describe('decideChunk', () => {
    const chunk = (offset: number, length: number, sha256 = `sha${offset / 100}`, declaredSha256?: string) => ({
        offset,
        length,
        sha256,
        declaredSha256,
    });

    it.each([
        ['stores the next chunk', [], chunk(0, 100), { kind: 'store', index: 0 }],
        ['stores a chunk ahead within the window', [mark(0)], chunk(200, 50), { kind: 'store', index: 2 }],
        ['takes a retry with the same bytes as a duplicate', [mark(0)], chunk(0, 100), { kind: 'duplicate', index: 0 }],
    ])('%s', (_what, marks, c, expected) => {
        expect(decideChunk(session, new ChunkLedger(marks as ChunkMark[]), c, 4)).toEqual(expected);
    });

    it.each([
        ['a chunk off a boundary', [mark(0)], chunk(150, 100), 'error-offset-mismatch', { offset: 100 }],
        ['a chunk past the end', [], chunk(300, 10), 'error-offset-mismatch', { offset: 0 }],
        ['a chunk beyond the window', [], chunk(200, 50), 'error-offset-mismatch', { offset: 0 }],
        ['a chunk of the wrong length', [], chunk(0, 99), 'error-invalid-body', { field: 'data', expectedBytes: 100 }],
        ['other bytes for a stored chunk', [mark(0)], chunk(0, 100, 'other'), 'error-chunk-conflict', { offset: 0 }],
        ['bytes that do not match their sha256', [], chunk(0, 100, 'sha0', 'different'), 'error-checksum-mismatch', { field: 'sha256' }],
    ])('refuses %s', (_what, marks, c, code, details) => {
        expect(failureOf(() => decideChunk(session, new ChunkLedger(marks as ChunkMark[]), c, 2))).toEqual({ code, details });
    });
});

describe('checkVisitorQuota', () => {
    const { config } = resolveConfig({ livechat_upload_max_open_sessions: 2, livechat_upload_max_staged_mb: 1 }, {});
    const sized = (size: number): UploadSession => ({ ...session, size });
    it('lets a visitor at both limits, the new session counted, keep it', () => {
        expect(failureOf(() => checkVisitorQuota([session, sized(1024 * 1024 - 250)], config))).toBeUndefined();
    });
    it('refuses a third open session with error-too-many-uploads and both limits', () => {
        expect(failureOf(() => checkVisitorQuota([session, session, sized(10)], config))).toEqual({
            code: 'error-too-many-uploads',
            details: { maxOpenSessions: 2, maxStagedBytes: 1024 * 1024 },
        });
    });
    it('refuses more staged bytes than allowed with error-too-many-uploads', () => {
        expect(failureOf(() => checkVisitorQuota([sized(2 * 1024 * 1024)], config))?.code).toBe('error-too-many-uploads');
    });
});
