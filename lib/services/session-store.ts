import { createHash } from 'crypto';

import type { IPersistence, IPersistenceRead } from '@rocket.chat/apps-engine/definition/accessors';
import { RocketChatAssociationModel, RocketChatAssociationRecord } from '@rocket.chat/apps-engine/definition/metadata';

import { type Claim } from '../claim';
import { type ChunkMark, normalizeSessionState, type PostingAttempt, type UploadFailure, type UploadSession } from '../session';

/**
 * Upload sessions, chunks, claims and idempotency records in the app's persistence (Rocket.Chat's
 * MongoDB), never only in process memory, so any server of a cluster can take any request.
 *
 * Record layout (associations, all prefixed `livechat-upload:`):
 * - session:  `upload:<id>`, `session:<id>`, `visitor:<visitorKey>`, `sessions`
 * - chunk:    `upload:<id>`, `chunks:<id>`, `chunk:<id>:<index>`, `chunk:<id>:<index>:<sha256>`,
 *             `chunk-group:<id>:<index / CHUNKS_PER_READ>` — bytes, base64
 * - mark:     `upload:<id>`, `marks:<id>`, `mark:<id>:<index>`, `mark:<id>:<index>:<sha256>` — index, length, sha256
 * - claim:    `claims:<key>`, `claim:<claimId>`, and its owner's (`upload:<id>` or `idempotency:<…>`)
 * - idempotency: `idempotency:<visitorKey>:<keyHash>`, `idempotency-records`
 * Chunks and marks are upserted under their content's hash: a retried chunk overwrites its own
 * record, while different bytes at the same offset make a second record the writers can see
 * (`judgeChunkSlot`). Everything of an upload carries `upload:<id>`, so one call removes it all.
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

/** A `POST upload` with an `Idempotency-Key`: what the first request with that key did. */
export interface IdempotencyRecord {
    visitorKey: string;
    keyHash: string;
    /** sha256 over room, name, type, description and bytes: the same key with another file is refused. */
    fingerprint: string;
    state: 'posting' | 'done' | 'failed';
    messageId?: string;
    failure?: UploadFailure;
    posting?: PostingAttempt;
    expiresAt: number;
}

/** Where a claim belongs: its records are removed with their owner's. */
export type ClaimOwner = { uploadId: string } | { idempotency: Pick<IdempotencyRecord, 'visitorKey' | 'keyHash'> };

export class SessionStore {
    constructor(
        private readonly reader: IPersistenceRead,
        private readonly persis: IPersistence,
    ) {}

    /** Stores a new session. */
    public async create(session: UploadSession): Promise<void> {
        await this.persis.createWithAssociations({ kind: 'session', ...session }, this.sessionKeys(session));
    }

    /** Replaces a session's record with `session`; a session removed meanwhile stays removed. */
    public async save(session: UploadSession): Promise<void> {
        await this.persis.updateByAssociations([key('session', session.id)], { kind: 'session', ...session }, false);
    }

    /** The session with this id, or undefined. */
    public async find(id: string): Promise<UploadSession | undefined> {
        const [record] = await this.readRecords(key('session', id));
        return record ? toSession(record) : undefined;
    }

    /** Every session of one visitor, in any state. */
    public async listByVisitor(visitorKey: string): Promise<UploadSession[]> {
        return (await this.readRecords(key('visitor', visitorKey))).map(toSession);
    }

    /** Every session of every visitor (for the expiry job). */
    public async listAll(): Promise<UploadSession[]> {
        return (await this.readRecords(ALL_SESSIONS())).map(toSession);
    }

    /** Every chunk mark of an upload, without bytes; a slot may show two contents (see `settleMarks`). */
    public async readMarks(id: string): Promise<ChunkMark[]> {
        return (await this.readRecords(key('marks', id))).map(toMark);
    }

    /** The marks of one chunk slot. */
    public async readSlotMarks(id: string, index: number): Promise<ChunkMark[]> {
        return (await this.readRecords(key('mark', id, index))).map(toMark);
    }

    /**
     * Stores one chunk's bytes, then its mark, so a mark means its bytes were stored. (Both at once
     * measured no faster with `npm run bench`: the calls do not overlap on the server side.)
     */
    public async writeChunk(id: string, mark: ChunkMark, base64: string): Promise<void> {
        await this.persis.updateByAssociations(
            [
                key('upload', id),
                key('chunks', id),
                key('chunk', id, mark.index),
                key('chunk', id, mark.index, mark.sha256),
                key('chunk-group', id, chunkGroupOf(mark.index)),
            ],
            { kind: 'chunk', index: mark.index, sha256: mark.sha256, data: base64 },
            true,
        );
        await this.persis.updateByAssociations(
            [key('upload', id), key('marks', id), key('mark', id, mark.index), key('mark', id, mark.index, mark.sha256)],
            { kind: 'mark', ...mark },
            true,
        );
    }

    /** Removes one content of a chunk slot, mark first. */
    public async removeChunk(id: string, mark: ChunkMark): Promise<void> {
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
                    : await this.readChunk(id, mark, (b) => createHash('sha256').update(b).digest('hex') === mark.sha256);
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
     * Removes the chunk bytes of a finished or aborted upload. The session record (its answer) and
     * the small marks stay until the session's lifetime ends: a chunk still in flight to a server
     * that has not seen the upload finish then meets its slot's mark, and other bytes there are
     * refused as a conflict rather than accepted.
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
        await this.persis.createWithAssociations({ kind: 'claim', ...claim }, [
            key('claims', claim.key),
            key('claim', claim.claimId),
            ownerKey(owner),
        ]);
    }

    /** Every claim on `claimKey`. */
    public async readClaims(claimKey: string): Promise<Claim[]> {
        return (await this.readRecords(key('claims', claimKey))).map(toClaim);
    }

    /** Renews a claim; a claim removed meanwhile (taken over as stale) is not brought back. */
    public async renewClaim(claim: Claim, owner: ClaimOwner): Promise<void> {
        await this.persis.updateByAssociations(
            [key('claims', claim.key), key('claim', claim.claimId), ownerKey(owner)],
            { kind: 'claim', ...claim },
            false,
        );
    }

    public async removeClaim(claimId: string): Promise<void> {
        await this.persis.removeByAssociation(key('claim', claimId));
    }

    // ---- idempotency records ---------------------------------------------------------------------

    public async findIdempotency(visitorKey: string, keyHash: string): Promise<IdempotencyRecord | undefined> {
        // Claims on the key carry its association too: both associations pick the record itself.
        const [record] = (await this.reader.readByAssociations([idempotencyKey(visitorKey, keyHash), ALL_IDEMPOTENCY_RECORDS()])) as StoredRecord[];
        return record ? toIdempotency(record) : undefined;
    }

    /** Writes the record of a key (one per visitor and key: upserted). */
    public async saveIdempotency(record: IdempotencyRecord): Promise<void> {
        await this.persis.updateByAssociations(
            [idempotencyKey(record.visitorKey, record.keyHash), ALL_IDEMPOTENCY_RECORDS()],
            { kind: 'idempotency', ...record },
            true,
        );
    }

    /** Every idempotency record (for the expiry job). */
    public async listIdempotency(): Promise<IdempotencyRecord[]> {
        return (await this.readRecords(ALL_IDEMPOTENCY_RECORDS())).map(toIdempotency);
    }

    /** Removes a key's record and its claims. */
    public async removeIdempotency(visitorKey: string, keyHash: string): Promise<void> {
        await this.persis.removeByAssociation(idempotencyKey(visitorKey, keyHash));
    }

    /** Records carrying `association`; the runtime hands them over as plain objects (never a `null` among them here). */
    private async readRecords(association: RocketChatAssociationRecord): Promise<StoredRecord[]> {
        const records = (await this.reader.readByAssociation(association)) as Array<StoredRecord | null>;
        return records.filter((r): r is StoredRecord => r !== null && r !== undefined);
    }

    private sessionKeys(session: UploadSession): RocketChatAssociationRecord[] {
        return [key('upload', session.id), key('session', session.id), key('visitor', session.visitorKey), ALL_SESSIONS()];
    }
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
