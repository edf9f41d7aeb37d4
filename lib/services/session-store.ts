import type { IPersistence, IPersistenceRead } from '@rocket.chat/apps-engine/definition/accessors';
import { RocketChatAssociationModel, RocketChatAssociationRecord } from '@rocket.chat/apps-engine/definition/metadata';

import { type ChunkMark, type UploadSession } from '../session';

/**
 * Upload sessions, chunk marks and chunk bytes in the app's persistence (Rocket.Chat's MongoDB),
 * never in process memory, so any server of a cluster can take any request.
 * Every record of an upload carries the `upload:<id>` association, so one call removes them all.
 * Marks and chunks are upserted by a per-chunk association: a retried chunk overwrites, never doubles.
 */
const PREFIX = 'livechat-upload';

function key(...parts: Array<string | number>): RocketChatAssociationRecord {
    return new RocketChatAssociationRecord(RocketChatAssociationModel.MISC, [PREFIX, ...parts].join(':'));
}

const ALL_SESSIONS = (): RocketChatAssociationRecord => key('sessions');

export class SessionStore {
    constructor(
        private readonly reader: IPersistenceRead,
        private readonly persis: IPersistence,
    ) {}

    /** Stores a new session. */
    public async create(session: UploadSession): Promise<void> {
        await this.persis.createWithAssociations({ kind: 'session', ...session }, this.sessionKeys(session));
    }

    /** Replaces a session's record with `session`. */
    public async save(session: UploadSession): Promise<void> {
        await this.persis.updateByAssociations([key('session', session.id)], { kind: 'session', ...session }, false);
    }

    /** The session with this id, or undefined. */
    public async find(id: string): Promise<UploadSession | undefined> {
        const [record] = (await this.reader.readByAssociation(key('session', id))) as Array<UploadSession & { kind: string }>;
        return record ? stripKindAndNulls(record) : undefined;
    }

    /** Every session of one visitor, finished or not. */
    public async listByVisitor(visitorKey: string): Promise<UploadSession[]> {
        const records = (await this.reader.readByAssociation(key('visitor', visitorKey))) as Array<UploadSession & { kind: string }>;
        return records.map(stripKindAndNulls);
    }

    /** Every session of every visitor (for the expiry job). */
    public async listAll(): Promise<UploadSession[]> {
        const records = (await this.reader.readByAssociation(ALL_SESSIONS())) as Array<UploadSession & { kind: string }>;
        return records.map(stripKindAndNulls);
    }

    /** What is known of the stored chunks, without their bytes. */
    public async readMarks(id: string): Promise<ChunkMark[]> {
        const records = (await this.reader.readByAssociation(key('marks', id))) as ChunkMark[];
        return records.map(({ index, length, sha256 }) => ({ index, length, sha256 }));
    }

    /** Stores one chunk's bytes, then its mark: a mark always means its bytes are there. */
    public async writeChunk(id: string, mark: ChunkMark, bytes: Buffer): Promise<void> {
        await this.persis.updateByAssociations(
            [key('upload', id), key('chunks', id), key('chunk', id, mark.index)],
            { kind: 'chunk', index: mark.index, data: bytes.toString('base64') },
            true,
        );
        await this.persis.updateByAssociations([key('upload', id), key('marks', id), key('mark', id, mark.index)], { kind: 'mark', ...mark }, true);
    }

    /** The whole file, chunks read one by one in order (no single huge result crosses the runtime). */
    public async readFile(id: string, chunkCount: number): Promise<Buffer> {
        const parts: Buffer[] = [];
        for (let index = 0; index < chunkCount; index += 1) {
            const [record] = (await this.reader.readByAssociation(key('chunk', id, index))) as Array<{ data: string }>;
            if (!record) {
                throw new Error(`chunk ${index} of upload ${id} is missing`);
            }
            parts.push(Buffer.from(record.data, 'base64'));
        }
        return Buffer.concat(parts);
    }

    /** Removes the chunk bytes and marks, keeping the session record (a finished upload's answer). */
    public async removeChunks(id: string): Promise<void> {
        await this.persis.removeByAssociation(key('chunks', id));
        await this.persis.removeByAssociation(key('marks', id));
    }

    /** Removes the session and everything stored for it. */
    public async remove(id: string): Promise<void> {
        await this.persis.removeByAssociation(key('upload', id));
    }

    private sessionKeys(session: UploadSession): RocketChatAssociationRecord[] {
        return [key('upload', session.id), key('session', session.id), key('visitor', session.visitorKey), ALL_SESSIONS()];
    }
}

/**
 * A stored record back as a session. Optional fields that were unset can come back as null (the
 * runtime's msgpack and the database do not keep `undefined`): they are dropped again.
 */
function stripKindAndNulls(record: UploadSession & { kind?: string }): UploadSession {
    const { kind: _kind, ...session } = record;
    const fields = Object.entries(session).filter(([, value]) => value !== null && value !== undefined);
    return Object.fromEntries(fields) as unknown as UploadSession;
}
