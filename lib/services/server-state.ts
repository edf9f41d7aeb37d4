import { KeyedMutex, Semaphore } from '../locks';
import { ChunkLedger, type UploadSession } from '../session';

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
    /**
     * A setting value read this long ago is read again. The app's own settings are also forgotten at
     * once when the admin saves one (`onSettingUpdated`); Rocket.Chat's are only re-read, so an admin's
     * change to a server setting takes up to this long to apply.
     */
    settingsTtlMs: number;
}

export const DEFAULT_TIMING: CoordinationTiming = {
    waitLimitMs: 20_000,
    pollMs: 250,
    claimRenewMs: 5_000,
    claimStaleMs: 30_000,
    settingsTtlMs: 2_000,
};

/** What one server knows of a session it has served: the session and the chunks it saw stored. */
export interface CachedSession {
    session: UploadSession;
    chunks: ChunkLedger;
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

    /** Caches `session` (keeping the chunks already known for it) and returns the entry. */
    public put(session: UploadSession): CachedSession {
        const entry = this.entries.get(session.id) ?? { session, chunks: new ChunkLedger() };
        entry.session = session;
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

/** Setting values this server read, with when; one map for the app's settings, one for the server's. */
export class SettingsCache {
    private readonly values = {
        app: new Map<string, { value: unknown; atMs: number }>(),
        server: new Map<string, { value: unknown; atMs: number }>(),
    };

    constructor(
        private readonly ttlMs: number,
        private readonly now: () => number,
    ) {}

    /** The value read less than the TTL ago, as `{ value }`, or undefined. */
    public get(kind: 'app' | 'server', id: string): { value: unknown } | undefined {
        const entry = this.values[kind].get(id);
        return entry && this.now() - entry.atMs < this.ttlMs ? { value: entry.value } : undefined;
    }

    public put(kind: 'app' | 'server', id: string, value: unknown): void {
        this.values[kind].set(id, { value, atMs: this.now() });
    }

    /** Forgets the app's settings (the admin saved one). */
    public forgetAppSettings(): void {
        this.values.app.clear();
    }
}

/**
 * What lives as long as the app's process on one server: the locks that serialize its own
 * requests, the session and settings caches, and the completion slots. Rocket.Chat runs one such process per app per server; the
 * app creates one `ServerState` and hands it to every endpoint.
 */
export class ServerState {
    public readonly locks = new KeyedMutex();
    public readonly sessions = new SessionCache();
    public readonly settings: SettingsCache;
    /** Completions running on this server: each holds its file in memory several times over. */
    public readonly completions = new Semaphore();

    constructor(
        public readonly timing: CoordinationTiming = DEFAULT_TIMING,
        public readonly now: () => number = () => Date.now(),
    ) {
        this.settings = new SettingsCache(timing.settingsTtlMs, now);
    }

    private readonly pendingAfterAnswer = new Set<Promise<void>>();

    /**
     * Runs `work` after the current request has answered: called when the handler returns (the
     * endpoint base does), it starts on the next timer, after the runtime has queued the answer. The
     * runtime sends its messages in order and the server handles them in order, so work started
     * inside the handler would hold the answer up behind it (removing a 16 MiB upload's chunks kept
     * its answer waiting 0.3 s). A failure goes to `onError`.
     */
    public afterAnswer(work: () => Promise<void>, onError: (e: unknown) => void): void {
        const done: Promise<void> = new Promise<void>((resolve) => setTimeout(resolve, 0))
            .then(work)
            .catch(onError)
            .finally(() => this.pendingAfterAnswer.delete(done));
        this.pendingAfterAnswer.add(done);
    }

    /** Resolves once the work handed to `afterAnswer` so far has run (for tests and shutdown). */
    public async whenIdle(): Promise<void> {
        while (this.pendingAfterAnswer.size > 0) {
            await Promise.all([...this.pendingAfterAnswer]);
        }
    }

    public sleep(ms: number): Promise<void> {
        return new Promise((resolve) => setTimeout(resolve, ms));
    }
}
