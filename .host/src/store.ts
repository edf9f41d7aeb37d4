// The local host's embedded store: one SQLite database (better-sqlite3) holding Rocket.Chat-shaped
// documents (users, visitors, rooms, messages, uploads, settings…), app persistence records with their
// associations, and the installed apps. Upload bytes live on disk under <dataDir>/uploads, or in the
// database in memory mode. Queries are simple: load a collection (or one room's messages) and filter
// in JavaScript; this is a development host, not a database.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export type Doc = { _id: string; [key: string]: unknown };

const ID_CHARS = '23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz';

/** Returns a Meteor-style random id (17 characters), as Rocket.Chat's `Random.id()`. */
export function randomId(length = 17): string {
    const bytes = randomBytes(length);
    let id = '';
    for (let i = 0; i < length; i++) id += ID_CHARS[bytes[i] % ID_CHARS.length];
    return id;
}

// Dates survive JSON as {"$date": iso}, like Mongo's extended JSON.
function encode(value: unknown): string {
    return JSON.stringify(value, function (this: Record<string, unknown>, key, v) {
        const raw = this[key];
        return raw instanceof Date ? { $date: raw.toISOString() } : v;
    });
}
function decode<T>(text: string): T {
    return JSON.parse(text, (_key, v) =>
        v && typeof v === 'object' && typeof v.$date === 'string' && Object.keys(v).length === 1 ? new Date(v.$date) : v,
    );
}

export class Store {
    readonly db: Database.Database;
    readonly uploadsDir: string | undefined;

    /** `dataDir` undefined = everything in memory (tests); otherwise `<dataDir>/host.sqlite` + `<dataDir>/uploads/`. */
    constructor(dataDir?: string) {
        if (dataDir) {
            fs.mkdirSync(path.join(dataDir, 'uploads'), { recursive: true });
            this.uploadsDir = path.join(dataDir, 'uploads');
            this.db = new Database(path.join(dataDir, 'host.sqlite'));
            this.db.pragma('journal_mode = WAL');
            // No fsync per commit, as MongoDB acknowledges a write before its journal is flushed (its
            // default write concern): a killed host loses nothing, a machine losing power may lose the
            // last writes. An fsync per app persistence write made a chunk 2 ms slower here.
            this.db.pragma('synchronous = NORMAL');
        } else {
            this.db = new Database(':memory:');
        }
        this.db.exec(`
            CREATE TABLE IF NOT EXISTS docs (coll TEXT NOT NULL, id TEXT NOT NULL, k TEXT, doc TEXT NOT NULL, seq INTEGER, PRIMARY KEY (coll, id));
            CREATE INDEX IF NOT EXISTS docs_k ON docs (coll, k);
            CREATE INDEX IF NOT EXISTS docs_seq ON docs (seq);
            CREATE TABLE IF NOT EXISTS persistence (id TEXT PRIMARY KEY, app_id TEXT NOT NULL, data TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS persistence_assoc (record_id TEXT NOT NULL, app_id TEXT NOT NULL, assoc TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS persistence_assoc_a ON persistence_assoc (app_id, assoc);
            CREATE TABLE IF NOT EXISTS blobs (id TEXT PRIMARY KEY, data BLOB NOT NULL);
        `);
    }

    // ---- documents -------------------------------------------------------------------------------
    /** Inserts or replaces a document; `k` is an optional indexed secondary key (a message's rid). */
    put<T extends Doc>(coll: string, doc: T, k?: string): T {
        this.db
            .prepare(
                'INSERT INTO docs (coll, id, k, doc, seq) VALUES (?, ?, ?, ?, (SELECT IFNULL(MAX(seq), 0) + 1 FROM docs)) ON CONFLICT (coll, id) DO UPDATE SET k = excluded.k, doc = excluded.doc',
            )
            .run(coll, doc._id, k ?? null, encode(doc));
        return doc;
    }

    get<T extends Doc>(coll: string, id: string): T | undefined {
        const row = this.db.prepare('SELECT doc FROM docs WHERE coll = ? AND id = ?').get(coll, id) as { doc: string } | undefined;
        return row ? decode<T>(row.doc) : undefined;
    }

    /** All documents of a collection (optionally only those with secondary key `k`), in insertion order, filtered. */
    find<T extends Doc>(coll: string, filter: (doc: T) => boolean = () => true, k?: string): T[] {
        const rows = (
            k === undefined
                ? this.db.prepare('SELECT doc FROM docs WHERE coll = ? ORDER BY seq').all(coll)
                : this.db.prepare('SELECT doc FROM docs WHERE coll = ? AND k = ? ORDER BY seq').all(coll, k)
        ) as Array<{ doc: string }>;
        return rows.map((r) => decode<T>(r.doc)).filter(filter);
    }

    findOne<T extends Doc>(coll: string, filter: (doc: T) => boolean, k?: string): T | undefined {
        return this.find<T>(coll, filter, k)[0];
    }

    /** Applies `changes` to a stored document and returns it, or undefined when there is none. */
    update<T extends Doc>(coll: string, id: string, changes: Partial<T>): T | undefined {
        const row = this.db.prepare('SELECT k FROM docs WHERE coll = ? AND id = ?').get(coll, id) as { k: string | null } | undefined;
        const doc = this.get<T>(coll, id);
        if (!doc || !row) return undefined;
        return this.put(coll, { ...doc, ...changes }, row.k ?? undefined);
    }

    remove(coll: string, id: string): boolean {
        return this.db.prepare('DELETE FROM docs WHERE coll = ? AND id = ?').run(coll, id).changes > 0;
    }

    // ---- app persistence (records with associations, as the engine's IPersistence) ----------------
    persistenceCreate(appId: string, data: object, associations: string[], id = randomId()): string {
        this.db.transaction(() => {
            this.db.prepare('INSERT INTO persistence (id, app_id, data) VALUES (?, ?, ?)').run(id, appId, encode(data));
            const ins = this.db.prepare('INSERT INTO persistence_assoc (record_id, app_id, assoc) VALUES (?, ?, ?)');
            for (const a of associations) ins.run(id, appId, a);
        })();
        return id;
    }

    persistenceRead(appId: string, id: string): object | undefined {
        const row = this.db.prepare('SELECT data FROM persistence WHERE id = ? AND app_id = ?').get(id, appId) as { data: string } | undefined;
        return row ? decode<object>(row.data) : undefined;
    }

    /** Ids of the records that carry every one of `associations`. */
    persistenceIdsByAssociations(appId: string, associations: string[]): string[] {
        if (associations.length === 0) return [];
        const placeholders = associations.map(() => '?').join(',');
        const rows = this.db
            .prepare(
                `SELECT record_id FROM persistence_assoc WHERE app_id = ? AND assoc IN (${placeholders}) GROUP BY record_id HAVING COUNT(DISTINCT assoc) = ? ORDER BY MIN(rowid)`,
            )
            .all(appId, ...associations, associations.length) as Array<{
            record_id: string;
        }>;
        return rows.map((r) => r.record_id);
    }

    /**
     * The records that carry every one of `associations`, read in one statement: with two hosts on one
     * database (as two Rocket.Chat instances on one MongoDB), a record removed meanwhile is simply absent,
     * as from Rocket.Chat's single `find`, never a hole in the result.
     */
    persistenceReadByAssociations(appId: string, associations: string[]): object[] {
        if (associations.length === 0) return [];
        const placeholders = associations.map(() => '?').join(',');
        const rows = this.db
            .prepare(
                `SELECT p.data FROM persistence p JOIN (SELECT record_id, MIN(rowid) AS first FROM persistence_assoc WHERE app_id = ? AND assoc IN (${placeholders})
                 GROUP BY record_id HAVING COUNT(DISTINCT assoc) = ?) m ON p.id = m.record_id AND p.app_id = ? ORDER BY m.first`,
            )
            .all(appId, ...associations, associations.length, appId) as Array<{
            data: string;
        }>;
        return rows.map((r) => decode<object>(r.data));
    }

    /** Removes the records that carry every one of `associations`, in one transaction; returns them. */
    persistenceRemoveByAssociations(appId: string, associations: string[]): object[] {
        return this.db
            .transaction(() => {
                const records = this.persistenceReadByAssociations(appId, associations);
                for (const id of this.persistenceIdsByAssociations(appId, associations)) this.persistenceRemove(appId, id);
                return records;
            })
            .immediate();
    }

    /**
     * Rocket.Chat's `updateByAssociations`, in one transaction: the first record whose list of
     * associations equals `associations` exactly, in order (a MongoDB equality on the array), gets
     * the data; with none, `upsert` inserts one with that list. Returns the id inserted, or '' when
     * a record was updated or nothing matched (docs/ROCKETCHAT.md, "App persistence and concurrency").
     */
    persistenceUpsertByAssociations(appId: string, associations: string[], data: object, upsert: boolean): string {
        return this.db
            .transaction(() => {
                const same = (id: string): boolean => {
                    const list = this.db
                        .prepare('SELECT assoc FROM persistence_assoc WHERE record_id = ? AND app_id = ? ORDER BY rowid')
                        .all(id, appId) as Array<{ assoc: string }>;
                    return list.length === associations.length && list.every((row, i) => row.assoc === associations[i]);
                };
                const candidates = associations.length ? this.persistenceIdsByAssociations(appId, [associations[0]]) : [];
                const match = candidates.find(same);
                if (match) {
                    this.persistenceUpdate(appId, match, data);
                    return '';
                }
                return upsert ? this.persistenceCreate(appId, data, associations) : '';
            })
            .immediate();
    }

    persistenceUpdate(appId: string, id: string, data: object): boolean {
        return this.db.prepare('UPDATE persistence SET data = ? WHERE id = ? AND app_id = ?').run(encode(data), id, appId).changes > 0;
    }

    persistenceRemove(appId: string, id: string): void {
        this.db.transaction(() => {
            this.db.prepare('DELETE FROM persistence WHERE id = ? AND app_id = ?').run(id, appId);
            this.db.prepare('DELETE FROM persistence_assoc WHERE record_id = ? AND app_id = ?').run(id, appId);
        })();
    }

    persistencePurge(appId: string): void {
        this.db.prepare('DELETE FROM persistence WHERE app_id = ?').run(appId);
        this.db.prepare('DELETE FROM persistence_assoc WHERE app_id = ?').run(appId);
    }

    // ---- bytes (uploads, app packages) ----------------------------------------------------------
    writeBytes(id: string, data: Buffer): void {
        if (this.uploadsDir) fs.writeFileSync(path.join(this.uploadsDir, id), data);
        else this.db.prepare('INSERT OR REPLACE INTO blobs (id, data) VALUES (?, ?)').run(id, data);
    }

    readBytes(id: string): Buffer | undefined {
        if (this.uploadsDir) {
            const file = path.join(this.uploadsDir, id);
            return fs.existsSync(file) ? fs.readFileSync(file) : undefined;
        }
        const row = this.db.prepare('SELECT data FROM blobs WHERE id = ?').get(id) as { data: Buffer } | undefined;
        return row?.data;
    }

    removeBytes(id: string): void {
        if (this.uploadsDir) fs.rmSync(path.join(this.uploadsDir, id), { force: true });
        else this.db.prepare('DELETE FROM blobs WHERE id = ?').run(id);
    }

    close(): void {
        this.db.close();
    }
}
