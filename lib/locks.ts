/**
 * Mutual exclusion inside one app process. Rocket.Chat runs one Deno process per app per server
 * and serves requests in it concurrently: every `await` on a bridge call lets another request run.
 * Rules that read, decide and write (a chunk's slot, a session's completion, a visitor's quota) run
 * under a lock of their key, so on one server they happen one after the other. Across the servers
 * of a cluster the claims in `claim.ts` do the same job; this lock keeps one server from contending
 * with itself, and lets a waiter take the winner's result when its turn comes.
 */

/** Thrown to a caller that waited `waitLimitMs` without getting the lock: the work was not run. */
export class LockWaitTimeout extends Error {
    constructor(public readonly key: string) {
        super(`lock ${key} still held`);
        this.name = 'LockWaitTimeout';
    }
}

export class KeyedMutex {
    /** Per key, the promise that settles when the last queued holder is done. */
    private readonly tails = new Map<string, Promise<void>>();

    /**
     * Runs `work` once every earlier holder of `key` is done, and returns its result. Rejects with
     * `LockWaitTimeout` (without running `work`) when that takes longer than `waitLimitMs`; later
     * callers still wait for the earlier holders, never for one that gave up.
     */
    public async run<T>(key: string, work: () => Promise<T>, waitLimitMs = Number.POSITIVE_INFINITY): Promise<T> {
        const previous = this.tails.get(key) ?? Promise.resolve();
        let release!: () => void;
        const released = new Promise<void>((resolve) => (release = resolve));
        const tail = previous.then(() => released);
        this.tails.set(key, tail);
        void tail.then(() => {
            if (this.tails.get(key) === tail) {
                this.tails.delete(key);
            }
        });
        try {
            await waitAtMost(previous, waitLimitMs, key);
        } catch (e) {
            release();
            throw e;
        }
        try {
            return await work();
        } finally {
            release();
        }
    }

    /** Keys with a holder or a waiter (for tests and diagnostics). */
    public get heldKeys(): string[] {
        return [...this.tails.keys()];
    }
}

function waitAtMost(promise: Promise<void>, limitMs: number, key: string): Promise<void> {
    if (!Number.isFinite(limitMs)) {
        return promise;
    }
    return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new LockWaitTimeout(key)), limitMs);
        void promise.then(() => {
            clearTimeout(timer);
            resolve();
        });
    });
}

/**
 * At most `limit` holders at once, the others queued in order (the limit is read per call, so an
 * admin's change applies to the next one). Used to bound how many completions, each holding a file
 * in memory several times over, one server runs together.
 */
export class Semaphore {
    private running = 0;
    private readonly waiting: Array<() => void> = [];

    /**
     * Runs `work` once fewer than `limit` others run, and returns its result. Rejects with
     * `LockWaitTimeout` (without running `work`) when no slot frees within `waitLimitMs`.
     */
    public async run<T>(limit: number, work: () => Promise<T>, waitLimitMs: number, name = 'slots'): Promise<T> {
        if (this.running < limit && this.waiting.length === 0) {
            this.running += 1;
        } else {
            // A holder that finishes hands its slot to the first waiter: `running` already counts it.
            await new Promise<void>((resolve, reject) => {
                const wake = (): void => {
                    clearTimeout(timer);
                    resolve();
                };
                const timer = setTimeout(() => {
                    this.waiting.splice(this.waiting.indexOf(wake), 1);
                    reject(new LockWaitTimeout(name));
                }, waitLimitMs);
                this.waiting.push(wake);
            });
        }
        try {
            return await work();
        } finally {
            const next = this.waiting.shift();
            if (next) {
                next();
            } else {
                this.running -= 1;
            }
        }
    }

    /** Holders now (for tests and diagnostics). */
    public get active(): number {
        return this.running;
    }
}
