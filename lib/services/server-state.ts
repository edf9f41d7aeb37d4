import { KeyedMutex } from '../locks';
import { type ChunkMark, type UploadSession } from '../session';

/** How long requests wait for each other, and how claims are kept alive (see `claim.ts`). */
export interface CoordinationTiming {
    /**
     * A request waits at most this long for another one holding the same upload (or key) before it
     * answers `error-upload-in-progress`: well inside the runtime's 30 s call timeout, so a waiter
     * answers with a code instead of timing out.
     */
    waitLimitMs: number;
    /** Between two looks at a claim held on another server. */
    pollMs: number;
    claimRenewMs: number;
    claimStaleMs: number;
}

export const DEFAULT_TIMING: CoordinationTiming = { waitLimitMs: 20_000, pollMs: 250, claimRenewMs: 5_000, claimStaleMs: 30_000 };

/** What one server knows of a session it has served: the session and the chunks it saw stored. */
export interface CachedSession {
    session: UploadSession;
    marks: Map<number, ChunkMark>;
}

/** Sessions kept in memory per server; the oldest is dropped first. */
const CACHED_SESSIONS_MAX = 512;

/**
 * A small cache of the sessions a server is receiving chunks for, so a middle chunk needs no read
 * of its session nor of the marks already stored. It is only ever a hint: what it says about a
 * session (its visitor, size, lifetime) never changes after creation, the chunks it lists were
 * stored, and every decision that must see the whole cluster (the chunk slot check, completion,
 * status) reads persistence.
 */
export class SessionCache {
    private readonly entries = new Map<string, CachedSession>();

    public get(id: string): CachedSession | undefined {
        const entry = this.entries.get(id);
        if (entry) {
            this.entries.delete(id);
            this.entries.set(id, entry);
        }
        return entry;
    }

    /** Caches `session` (keeping marks already known for it) and returns the entry. */
    public put(session: UploadSession, marks: ChunkMark[] = []): CachedSession {
        const entry = this.entries.get(session.id) ?? { session, marks: new Map<number, ChunkMark>() };
        entry.session = session;
        marks.forEach((m) => entry.marks.set(m.index, m));
        this.entries.delete(session.id);
        this.entries.set(session.id, entry);
        while (this.entries.size > CACHED_SESSIONS_MAX) {
            this.entries.delete(this.entries.keys().next().value as string);
        }
        return entry;
    }

    public forget(id: string): void {
        this.entries.delete(id);
    }
}

/**
 * What lives as long as the app's process on one server: the locks that serialize its own
 * requests, and the session cache. Rocket.Chat runs one such process per app per server; the
 * app creates one `ServerState` and hands it to every endpoint.
 */
export class ServerState {
    public readonly locks = new KeyedMutex();
    public readonly sessions = new SessionCache();

    constructor(
        public readonly timing: CoordinationTiming = DEFAULT_TIMING,
        public readonly now: () => number = () => Date.now(),
    ) {}

    public sleep(ms: number): Promise<void> {
        return new Promise((resolve) => setTimeout(resolve, ms));
    }
}
