import { randomBytes } from 'crypto';

import type { IPersistence, IPersistenceRead } from '@rocket.chat/apps-engine/definition/accessors';
import { RocketChatAssociationModel, RocketChatAssociationRecord } from '@rocket.chat/apps-engine/definition/metadata';

import { type Claim } from '../claim';
import { sha256Hex } from '../hash';
import { type ChunkMark, normalizeSessionState, type PostingAttempt, type UploadFailure, type UploadSession } from '../session';

/**
 * Upload sessions, chunks, claims and idempotency records in the app's persistence (Rocket.Chat's
 * MongoDB), never only in process memory, so any server of a cluster can take any request.
 *
 * Records are only ever inserted, read and removed, never updated: Rocket.Chat's
 * `updateByAssociations` matches a record only when its whole list of associations equals the one
 * given, in order (docs/ROCKETCHAT.md, "App persistence and concurrency"), and no update tells whether it hit. A
 * change of state is a new version of the record, with a higher `revision`; readers keep the latest.
 *
 * Record layout (associations, all prefixed `livechat-upload:`; the most selective first, the one
 * MongoDB's index on `associations` is searched by):
 * - session (each version): `session:<id>`, `upload:<id>`, `visitor:<visitorKey>`, `sessions`
 * - chunk:    `chunk:<id>:<index>:<sha256>`, `chunk:<id>:<index>`, `chunk-group:<id>:<index / CHUNKS_PER_READ>`,
 *             `chunks:<id>`, `copy:<id>:<copyId>`, `upload:<id>` — bytes, base64
 * - mark:     `mark:<id>:<index>:<sha256>`, `mark:<id>:<index>`, `marks:<id>`, `copy:<id>:<copyId>`, `upload:<id>` —
 *             index, length, sha256
 * - end mark: `upload:<id>` and `mark:<id>:<index>` of every chunk slot — one record, written when the upload ends
 *             (done, failed, aborted), so any chunk's slot read-back meets it (`readSlot`)
 * - claim (and each renewal): `claim:<claimId>`, `claims:<key>`, and its owner's (`upload:<id>` or `idempotency:<…>`)
 * - idempotency (each version): `idempotency:<visitorKey>:<keyHash>`, `idempotency-records`
 * Chunks and marks are stored under their content's hash, and each write under its own copy id: a
 * retried chunk sent to a server that has not seen it adds a copy of the same content, different
 * bytes at the same offset make a second content the writers can see (`judgeChunkSlot`), and a
 * writer that must take its write back removes its own copy only, never one another request stored.
 * Everything of an upload carries `upload:<id>`, so one call removes it all.
 */
const PREFIX = 'livechat-upload';

function key(...parts: Array<string | number>): RocketChatAssociationRecord {
    return new RocketChatAssociationRecord(RocketChatAssociationModel.MISC, [PREFIX, ...parts].join(':'));
}

const ALL_SESSIONS = (): RocketChatAssociationRecord => key('sessions');

/**
 * Chunks read back in one call at completion: 64 chunks are 4.7 MiB of file, 6.3 MB of base64 in
 * one result; reading a 16 MiB file takes 4 calls instead of 220 (1,369 at 100 MiB).
 */
export const CHUNKS_PER_READ = 64;

const chunkGroupOf = (index: number): number => Math.floor(index / CHUNKS_PER_READ);
const ALL_IDEMPOTENCY_RECORDS = (): RocketChatAssociationRecord => key('idempotency-records');

/** A `POST upload` or `POST uploads` with an `Idempotency-Key`: what the first request with that key did. */
export interface IdempotencyRecord {
    visitorKey: string;
    keyHash: string;
    /** sha256 over room, name, type, description and bytes: the same key with another file is refused. */
    fingerprint: string;
    state: 'posting' | 'done' | 'failed';
    /** `POST upload`: the message it posted. */
    messageId?: string;
    /** `POST uploads`: the session it created. */
    uploadId?: string;
    failure?: UploadFailure;
    posting?: PostingAttempt;
    expiresAt: number;
    /** Which version of the record this is (see `latestVersion`); the first is 1. */
    revision?: number;
}

/** Where a claim belongs: its records are removed with their owner's. */
export type ClaimOwner = { uploadId: string } | { idempotency: Pick<IdempotencyRecord, 'visitorKey' | 'keyHash'> };

export class SessionStore {
    constructor(
        private readonly reader: IPersistenceRead,
        private readonly persis: IPersistence,
    ) {}

    /** Stores a new session (its version 0). */
    public async create(session: UploadSession): Promise<void> {
        await this.persis.createWithAssociations({ kind: 'session', ...session, revision: 0 }, this.sessionKeys(session));
    }

    /**
     * Stores `session` as the next version of its record, one revision above the version it was
     * made from, and returns it. Two versions made from the same one (a completion's attempt, then
     * its outcome) rank by state: an outcome (done, failed, aborted) over an open session.
     */
    public async save(session: UploadSession): Promise<UploadSession> {
        const saved: UploadSession = { ...session, revision: (session.revision ?? 0) + 1 };
        await this.persis.createWithAssociations({ kind: 'session', ...saved }, this.sessionKeys(saved));
        return saved;
    }

    /** The session with this id as last saved, or undefined. */
    public async find(id: string): Promise<UploadSession | undefined> {
        return latestVersions((await this.readRecords(key('session', id))).map(toSession), (s) => s.id)[0];
    }

    /** Every session of one visitor, in any state. */
    public async listByVisitor(visitorKey: string): Promise<UploadSession[]> {
        return latestVersions((await this.readRecords(key('visitor', visitorKey))).map(toSession), (s) => s.id);
    }

    /** Every session of every visitor (for the expiry job). */
    public async listAll(): Promise<UploadSession[]> {
        return latestVersions((await this.readRecords(ALL_SESSIONS())).map(toSession), (s) => s.id);
    }

    /** Every chunk mark of an upload, without bytes; a slot may show two contents (see `settleMarks`). */
    public async readMarks(id: string): Promise<ChunkMark[]> {
        return (await this.readRecords(key('marks', id))).map(toMark);
    }

    /** What one chunk slot holds: its marks, and whether the upload has ended (its end mark is there). */
    public async readSlot(id: string, index: number): Promise<ChunkSlot> {
        const records = await this.readRecords(key('mark', id, index));
        return { marks: records.filter((r) => r.kind !== 'end').map(toMark), ended: records.some((r) => r.kind === 'end') };
    }

    /**
     * Stores one chunk's bytes, then its mark, so a mark means its bytes were stored; returns the
     * copy's id, which `removeCopy` takes. (Both at once measured no faster with `npm run bench`: the
     * calls do not overlap on the server side.)
     */
    public async writeChunk(id: string, mark: ChunkMark, base64: string): Promise<string> {
        const copyId = randomCopyId();
        await this.persis.createWithAssociations({ kind: 'chunk', index: mark.index, sha256: mark.sha256, copyId, data: base64 }, [
            key('chunk', id, mark.index, mark.sha256),
            key('chunk', id, mark.index),
            key('chunk-group', id, chunkGroupOf(mark.index)),
            key('chunks', id),
            key('copy', id, copyId),
            key('upload', id),
        ]);
        await this.persis.createWithAssociations({ kind: 'mark', ...mark, copyId }, [
            key('mark', id, mark.index, mark.sha256),
            key('mark', id, mark.index),
            key('marks', id),
            key('copy', id, copyId),
            key('upload', id),
        ]);
        return copyId;
    }

    /** Removes the copy one `writeChunk` stored, mark first; the other copies of the same bytes stay. */
    public async removeCopy(id: string, copyId: string): Promise<void> {
        await this.persis.removeByAssociations([key('copy', id, copyId), key('marks', id)]);
        await this.persis.removeByAssociation(key('copy', id, copyId));
    }

    /** Whether the upload's end mark is there (it is in every slot: the first one tells). */
    public async hasEnded(id: string): Promise<boolean> {
        return (await this.readSlot(id, 0)).ended;
    }

    /**
     * Writes the upload's end mark: one record in every chunk slot (it carries each slot's mark
     * association), so a chunk that reaches any server after the end meets it when it reads its slot
     * back, takes its bytes back and is answered as the finished upload. Written before the answer
     * that ends the upload and before its chunks are removed; removed with the upload.
     */
    public async markEnded(id: string, chunkCount: number): Promise<void> {
        const slots = Array.from({ length: chunkCount }, (_, index) => key('mark', id, index));
        await this.persis.createWithAssociations({ kind: 'end' }, [key('upload', id), ...slots]);
    }

    /** Removes every content of a chunk slot, marks first. */
    public async removeSlotContent(id: string, mark: ChunkMark): Promise<void> {
        await this.persis.removeByAssociation(key('mark', id, mark.index, mark.sha256));
        await this.persis.removeByAssociation(key('chunk', id, mark.index, mark.sha256));
    }

    /**
     * The bytes of the chunk contents `marks` name, read a group of `CHUNKS_PER_READ` chunks per
     * call and handed to `take` in the order of `marks` (sorted by index), so at most one group's
     * base64 is held at a time. A mark whose bytes are not found is handed `undefined`. Chunks
     * written by earlier versions carry no group association; they are read one by one.
     */
    public async readChunks(id: string, marks: ChunkMark[], take: (mark: ChunkMark, bytes: Buffer | undefined) => Promise<void>): Promise<void> {
        let at = 0;
        while (at < marks.length) {
            const group = chunkGroupOf(marks[at].index);
            const records = await this.readRecords(key('chunk-group', id, group));
            const bySlotAndHash = new Map(records.map((r) => [`${Number(r.index)}:${String(r.sha256)}`, r]));
            for (; at < marks.length && chunkGroupOf(marks[at].index) === group; at += 1) {
                const mark = marks[at];
                const record = bySlotAndHash.get(`${mark.index}:${mark.sha256}`);
                const bytes = record
                    ? Buffer.from(String(record.data), 'base64')
                    : await this.readChunk(id, mark, (b) => sha256Hex(b) === mark.sha256);
                await take(mark, bytes);
            }
        }
    }

    /**
     * The bytes of one chunk content, or undefined. Chunks written by earlier versions carry no
     * hash association; they are found by slot and told apart by `matches`.
     */
    public async readChunk(id: string, mark: ChunkMark, matches: (bytes: Buffer) => boolean): Promise<Buffer | undefined> {
        const [exact] = await this.readRecords(key('chunk', id, mark.index, mark.sha256));
        if (exact) {
            return Buffer.from(String(exact.data), 'base64');
        }
        for (const record of await this.readRecords(key('chunk', id, mark.index))) {
            const bytes = Buffer.from(String(record.data), 'base64');
            if (matches(bytes)) {
                return bytes;
            }
        }
        return undefined;
    }

    /**
     * Removes the chunk bytes of a finished or aborted upload. The session record (its answer), the
     * small marks and the end mark stay until the session's lifetime ends: a chunk still in flight to
     * a server that has not seen the upload end then meets the end mark when it reads its slot back.
     */
    public async removeChunkBytes(id: string, chunkCount: number): Promise<void> {
        // A group per call: the engine hands every removed record back to the app (22 MB at 16 MiB),
        // and one message of that size holds up the other requests in both processes.
        for (let group = 0; group * CHUNKS_PER_READ < chunkCount; group += 1) {
            await this.persis.removeByAssociation(key('chunk-group', id, group));
        }
        await this.persis.removeByAssociation(key('chunks', id)); // those of earlier versions, and strays
    }

    /** Removes the session and everything stored for it, claims included. */
    public async remove(id: string): Promise<void> {
        await this.persis.removeByAssociation(key('upload', id));
    }

    // ---- claims (claim.ts) -----------------------------------------------------------------------

    /** Inserts a claim; never an upsert, so two contenders always leave two records. */
    public async insertClaim(claim: Claim, owner: ClaimOwner): Promise<void> {
        await this.persis.createWithAssociations({ kind: 'claim', ...claim }, this.claimKeys(claim, owner));
    }

    /** Every claim on `claimKey`, each as last renewed. */
    public async readClaims(claimKey: string): Promise<Claim[]> {
        return latestClaims((await this.readRecords(key('claims', claimKey))).map(toClaim));
    }

    /**
     * Renews a claim: a record of the claim with the new time beside the earlier ones (they all go
     * with the claim). A claim removed meanwhile (taken over as stale) is not brought back, unless
     * it is removed between this look and the insert.
     */
    public async renewClaim(claim: Claim, owner: ClaimOwner): Promise<void> {
        if ((await this.readRecords(key('claim', claim.claimId))).length > 0) {
            await this.persis.createWithAssociations({ kind: 'claim', ...claim }, this.claimKeys(claim, owner));
        }
    }

    public async removeClaim(claimId: string): Promise<void> {
        await this.persis.removeByAssociation(key('claim', claimId));
    }

    // ---- idempotency records ---------------------------------------------------------------------

    public async findIdempotency(visitorKey: string, keyHash: string): Promise<IdempotencyRecord | undefined> {
        // Claims on the key carry its association too: both associations pick the record's versions.
        const records = (await this.reader.readByAssociations([
            idempotencyKey(visitorKey, keyHash),
            ALL_IDEMPOTENCY_RECORDS(),
        ])) as Array<StoredRecord | null>;
        return latestVersions(records.filter(isRecord).map(toIdempotency), (r) => r.keyHash)[0];
    }

    /** Stores `record` as the next version of its key's record (as `save` does for sessions) and returns it. */
    public async saveIdempotency(record: IdempotencyRecord): Promise<IdempotencyRecord> {
        const saved: IdempotencyRecord = { ...record, revision: (record.revision ?? 0) + 1 };
        await this.persis.createWithAssociations({ kind: 'idempotency', ...saved }, [
            idempotencyKey(record.visitorKey, record.keyHash),
            ALL_IDEMPOTENCY_RECORDS(),
        ]);
        return saved;
    }

    /** Every idempotency record (for the expiry job). */
    public async listIdempotency(): Promise<IdempotencyRecord[]> {
        return latestVersions((await this.readRecords(ALL_IDEMPOTENCY_RECORDS())).map(toIdempotency), (r) => `${r.visitorKey}:${r.keyHash}`);
    }

    /** Removes a key's record and its claims. */
    public async removeIdempotency(visitorKey: string, keyHash: string): Promise<void> {
        await this.persis.removeByAssociation(idempotencyKey(visitorKey, keyHash));
    }

    /** Records carrying `association`; the runtime hands them over as plain objects (never a `null` among them here). */
    private async readRecords(association: RocketChatAssociationRecord): Promise<StoredRecord[]> {
        const records = (await this.reader.readByAssociation(association)) as Array<StoredRecord | null>;
        return records.filter(isRecord);
    }

    private sessionKeys(session: UploadSession): RocketChatAssociationRecord[] {
        return [key('session', session.id), key('upload', session.id), key('visitor', session.visitorKey), ALL_SESSIONS()];
    }

    private claimKeys(claim: Claim, owner: ClaimOwner): RocketChatAssociationRecord[] {
        return [key('claim', claim.claimId), key('claims', claim.key), ownerKey(owner)];
    }
}

/** What `readSlot` finds in one chunk slot. */
export interface ChunkSlot {
    marks: ChunkMark[];
    ended: boolean;
}

const randomCopyId = (): string => randomBytes(8).toString('hex');

const isRecord = (r: StoredRecord | null | undefined): r is StoredRecord => r !== null && r !== undefined;

const OUTCOMES: ReadonlyArray<string> = ['done', 'failed', 'aborted'];

/**
 * The latest version of each record (grouped by `idOf`): the highest revision; between versions of
 * one revision, an outcome over a state that is not one, then the later in the list (the later insert).
 */
function latestVersions<T extends { revision?: number; state: string }>(versions: T[], idOf: (v: T) => string): T[] {
    const latest = new Map<string, T>();
    const rank = (v: T): [number, number] => [v.revision ?? 0, OUTCOMES.includes(v.state) ? 1 : 0];
    for (const version of versions) {
        const seen = latest.get(idOf(version));
        const [a, b] = [rank(version), seen ? rank(seen) : [-1, -1]];
        if (!seen || a[0] > b[0] || (a[0] === b[0] && a[1] >= b[1])) {
            latest.set(idOf(version), version);
        }
    }
    return [...latest.values()];
}

/** Each claim once: renewed last when it was renewed last, since when it was first inserted. */
function latestClaims(records: Claim[]): Claim[] {
    const byId = new Map<string, Claim>();
    for (const claim of records) {
        const seen = byId.get(claim.claimId);
        byId.set(
            claim.claimId,
            seen ? { ...seen, sinceMs: Math.min(seen.sinceMs, claim.sinceMs), renewedAtMs: Math.max(seen.renewedAtMs, claim.renewedAtMs) } : claim,
        );
    }
    return [...byId.values()];
}

function idempotencyKey(visitorKey: string, keyHash: string): RocketChatAssociationRecord {
    return key('idempotency', visitorKey, keyHash);
}

function ownerKey(owner: ClaimOwner): RocketChatAssociationRecord {
    return 'uploadId' in owner ? key('upload', owner.uploadId) : idempotencyKey(owner.idempotency.visitorKey, owner.idempotency.keyHash);
}

type StoredRecord = Record<string, unknown>;

/**
 * A stored record without the fields that were unset. The runtime's msgpack and the database keep
 * no `undefined`, so unset optional fields come back as `null`; they are dropped here, once, for
 * every record kind.
 */
function withoutUnsetFields(record: StoredRecord): StoredRecord {
    const { kind: _kind, ...fields } = record;
    return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== null && value !== undefined));
}

function toSession(record: StoredRecord): UploadSession {
    const session = withoutUnsetFields(record) as unknown as UploadSession;
    return { ...session, state: normalizeSessionState(session.state) };
}

function toMark(record: StoredRecord): ChunkMark {
    return { index: Number(record.index), length: Number(record.length), sha256: String(record.sha256) };
}

function toClaim(record: StoredRecord): Claim {
    return { key: String(record.key), claimId: String(record.claimId), sinceMs: Number(record.sinceMs), renewedAtMs: Number(record.renewedAtMs) };
}

function toIdempotency(record: StoredRecord): IdempotencyRecord {
    return withoutUnsetFields(record) as unknown as IdempotencyRecord;
}
