/**
 * Where `uploadFile` keeps an unfinished upload's session id so a later call (after a page reload,
 * a restart) continues it. Any of the methods may return a promise.
 */
export interface ResumeStore {
    get(key: string): string | null | undefined | Promise<string | null | undefined>;
    set(key: string, uploadId: string): void | Promise<void>;
    delete(key: string): void | Promise<void>;
}

/** The same file into the same room: room, name, size and (for a File or a path) modification time. */
export function resumeKey(rid: string, name: string, size: number, lastModified?: number): string {
    return ['livechat-upload', rid, name, size, lastModified ?? ''].join(':');
}

export function memoryResumeStore(): ResumeStore {
    const ids = new Map<string, string>();
    return {
        get: (key) => ids.get(key),
        set: (key, uploadId) => void ids.set(key, uploadId),
        delete: (key) => void ids.delete(key),
    };
}

/** Backed by `localStorage` (or another `Storage`); a full or forbidden storage only loses resumability. */
export function localStorageResumeStore(storage: Storage = globalThis.localStorage): ResumeStore {
    const attempt = <T>(fn: () => T): T | undefined => {
        try {
            return fn();
        } catch {
            return undefined; // quota exceeded, private mode, storage disabled
        }
    };
    return {
        get: (key) => attempt(() => storage.getItem(key)),
        set: (key, uploadId) => void attempt(() => storage.setItem(key, uploadId)),
        delete: (key) => void attempt(() => storage.removeItem(key)),
    };
}
