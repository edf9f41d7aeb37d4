/**
 * Livechat Upload client: one call that sends a file into a visitor's livechat room through the
 * app's HTTP API (docs/API.md), in one request or in resumable chunks.
 */
import { isInProgressError, isTransientError, UploadAbortedError, UploadHttpError } from './errors.js';
import {
    backoffDelayMs,
    DEFAULT_RETRY,
    inProgressDelayMs,
    request,
    requestOnce,
    sleep as timerSleep,
    type Answer,
    type RetryPolicy,
    type Sleep,
    type Transport,
} from './http.js';
import { prepareFile, type PreparedFile } from './prepare.js';
import { resumeKey, type ResumeStore } from './resume.js';
import { encodeBase64, openSource, randomUuid, sha256Hex, type FileSource } from './source.js';

export { describeUploadError, UploadAbortedError, UploadFileError, UploadHttpError, UploadNetworkError, type UploadErrorDetails } from './errors.js';
export { LOCALES, resolveLocale, type Locale } from './words.js';
export { localStorageResumeStore, memoryResumeStore, resumeKey, type ResumeStore } from './resume.js';
export { DEFAULT_RETRY, type RetryPolicy, type Sleep } from './http.js';

export interface UploadProgress {
    /** Bytes the server has confirmed storing without a gap; never decreases. */
    bytesConfirmed: number;
    /** Bytes that go over the wire: the file after metadata removal and downscaling. */
    totalBytes: number;
    /** The file's size as given. */
    originalBytes: number;
    /** `originalBytes - totalBytes`: what removing the metadata and downscaling saved. */
    bytesSaved: number;
    /** Of `bytesSaved`, what the metadata (EXIF with the position, XMP, …) took. */
    metadataBytesRemoved: number;
    /** Width and height of the photo as sent, when it was downscaled. */
    downscaledTo?: { width: number; height: number };
}

/** The message as posted in the room, in Rocket.Chat's shape (docs/API.md, "The message"). */
export interface PostedMessage {
    _id: string;
    rid: string;
    msg?: string;
    ts?: string;
    u?: { _id: string; username?: string; name?: string };
    file?: { _id: string; name: string; type?: string };
    files?: Array<{ _id: string; name: string; type?: string }>;
    attachments?: Array<Record<string, unknown>>;
    [field: string]: unknown;
}

export interface UploadOptions {
    /** e.g. `https://chat.example.com` */
    serverUrl: string;
    appId: string;
    visitorToken: string;
    rid: string;
    /** A File/Blob; in Node also a Buffer/Uint8Array or a file path. */
    file: Blob | Uint8Array | string;
    /** Defaults to the File's or path's name; required for a Blob or bytes. */
    name?: string;
    /** Defaults to the File's type; otherwise the server takes it from the bytes. */
    type?: string;
    description?: string;
    onProgress?: (progress: UploadProgress) => void;
    signal?: AbortSignal;
    /** Keeps the session id so a later call with the same file continues it. */
    resume?: ResumeStore;
    /** Chunks in flight at once; capped by the server's `maxParallelChunks` (the default). */
    parallel?: number;
    retry?: Partial<RetryPolicy>;
    fetch?: typeof fetch;
    /** How retries wait; replace it in tests or to schedule retries yourself. */
    sleep?: Sleep;
    /**
     * Remove JPEG/PNG/WebP metadata (EXIF with the GPS position, XMP, IPTC, comments) on the device,
     * before the upload, with the app's own code; the orientation is kept. Default true.
     */
    stripMetadata?: boolean;
    /**
     * In browsers, re-encode a JPEG photo whose longest side is larger than this many pixels to that
     * size (orientation applied, JPEG quality 0.85). Off by default; ignored where
     * `createImageBitmap` is missing (Node).
     */
    maxImageDimension?: number;
}

/** `GET limits` (docs/API.md). */
export interface UploadLimits {
    maxFileSizeBytes: number;
    singleRequestMaxBytes: number;
    chunkSizeBytes: number;
    maxParallelChunks: number;
    sessionTtlMs: number;
    allowedTypes: string[];
    blockedTypes: string[];
}

interface Run {
    options: UploadOptions;
    source: FileSource;
    prepared: PreparedFile;
    t: Transport;
    name: string;
    total: number;
    /** The server's offset: bytes stored without a gap. */
    offset: number;
    reported: number;
    uploadId?: string;
    resumeKey?: string;
    /** True once the resume store holds the session id (read back): only then can a later call continue it. */
    resumeStored?: boolean;
}

// Fields of a chunk or status answer that are the protocol's, not the message's.
const PROTOCOL_FIELDS = ['success', 'complete', 'uploadId', 'offset', 'size', 'chunkSizeBytes', 'expiresAt'];

function toMessage(answer: Answer): PostedMessage {
    // docs/API.md merges the message into the answer; accept a nested `message` object as well.
    if (answer.message && typeof answer.message === 'object') return answer.message as PostedMessage;
    const message: Answer = { ...answer };
    for (const field of PROTOCOL_FIELDS) delete message[field];
    return message as PostedMessage;
}

function report(run: Run, bytes: number): void {
    if (bytes <= run.reported) return;
    run.reported = bytes;
    const { originalBytes, strippedBytes, dimensions } = run.prepared;
    run.options.onProgress?.({
        bytesConfirmed: bytes,
        totalBytes: run.total,
        originalBytes,
        bytesSaved: originalBytes - run.total,
        metadataBytesRemoved: strippedBytes,
        ...(dimensions && { downscaledTo: dimensions }),
    });
}

/**
 * Uploads one file into the visitor's room and resolves to the posted message. Files up to the
 * server's `singleRequestMaxBytes` go in one `POST upload`, larger ones through the resumable
 * `uploads` session; photos lose their metadata first (`stripMetadata`). Rejects with
 * `UploadHttpError` (the server refused: `.code`, `.status`, `.details`), `UploadFileError` (refused
 * on the device: a damaged image), `UploadNetworkError` (unreachable after the retries) or
 * `UploadAbortedError`.
 */
export async function uploadFile(options: UploadOptions): Promise<PostedMessage> {
    if (options.signal?.aborted) throw new UploadAbortedError();
    const original = await openSource(options.file);
    const name = options.name ?? original.name;
    if (!name) {
        await original.close?.();
        throw new TypeError('uploadFile: pass `name` when the file is a Blob or bytes');
    }
    let prepared: PreparedFile;
    try {
        prepared = await prepareFile(original, { stripMetadata: options.stripMetadata ?? true, maxImageDimension: options.maxImageDimension });
    } catch (err) {
        await original.close?.();
        throw err;
    }
    const { source } = prepared;
    const t: Transport = {
        fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
        baseUrl: `${options.serverUrl.replace(/\/+$/, '')}/api/apps/public/${encodeURIComponent(options.appId)}/`,
        visitorToken: options.visitorToken,
        signal: options.signal,
        retry: { ...DEFAULT_RETRY, ...options.retry },
        sleep: options.sleep ?? timerSleep,
    };
    const run: Run = { options, source, prepared, t, name, total: source.size, offset: 0, reported: -1 };
    if (options.resume) run.resumeKey = resumeKey(options.rid, name, source.size, source.lastModified);
    try {
        const limits = (await request(t, 'GET', 'limits')) as UploadLimits;
        const message = run.total <= limits.singleRequestMaxBytes ? await uploadInOneRequest(run) : await uploadResumable(run, limits);
        await forgetSession(run);
        return message;
    } catch (err) {
        if (options.signal?.aborted) {
            // A cancel that lands after the completion is answered the message: the file was sent.
            const posted = await abortOnServer(run);
            throw new UploadAbortedError(undefined, posted);
        }
        // A refusal is final; a network failure keeps the session for a later resume, when there is a
        // resume store to continue it from. Without one nobody can: the session would count against
        // the visitor's unfinished uploads until its lifetime ends (429 error-too-many-uploads).
        // A completion still in progress is left to finish.
        // DELETE of an upload that a lost answer had already finished answers its message: it was sent.
        let posted: PostedMessage | undefined;
        if (err instanceof UploadHttpError && !isTransientError(err)) posted = await abortOnServer(run);
        else if (!run.resumeStored && !isInProgressError(err)) posted = await abortOnServer(run);
        if (posted) return posted;
        throw err;
    } finally {
        await source.close?.();
    }
}

async function uploadInOneRequest(run: Run): Promise<PostedMessage> {
    const { options } = run;
    report(run, 0);
    const data = encodeBase64(await run.source.read(0, run.total));
    const answer = await requestIdempotent(run, 'upload', {
        rid: options.rid,
        file: { name: run.name, type: options.type ?? run.source.type, data },
        description: options.description,
    });
    report(run, run.total);
    return toMessage(answer);
}

/**
 * `POST route` with an Idempotency-Key, one per logical upload and the same on every retry: a
 * repeat of a request the server already answered gets the first answer back (the message, or the
 * session at its offset) and posts or creates nothing (IETF httpapi Idempotency-Key draft, whose
 * value is a structured-field string, hence the quotes). With a resume store the key is kept under
 * the file's resume key, so a later call — a reload after every answer was lost — sends it again.
 */
async function requestIdempotent(run: Run, route: 'upload' | 'uploads', body: Record<string, unknown>): Promise<Answer> {
    const { options, t } = run;
    const keyName = run.resumeKey && idempotencyKeyName(run.resumeKey);
    const kept = keyName ? await Promise.resolve(options.resume!.get(keyName)).catch(() => undefined) : undefined;
    const freshKey = async () => {
        const key = `"${await randomUuid()}"`;
        if (keyName) await Promise.resolve(options.resume!.set(keyName, key)).catch(() => undefined);
        return key;
    };
    try {
        return await request(t, 'POST', route, { headers: { 'idempotency-key': kept || (await freshKey()) }, body });
    } catch (err) {
        // A kept key whose upload ended, or that went with another file: a new upload, a new key.
        if (!kept || !(err instanceof UploadHttpError) || isTransientError(err)) throw err;
        return request(t, 'POST', route, { headers: { 'idempotency-key': await freshKey() }, body });
    }
}

async function uploadResumable(run: Run, limits: UploadLimits): Promise<PostedMessage> {
    const { options, t, source } = run;
    let { chunkSizeBytes, maxParallelChunks } = limits;
    if (options.resume && run.resumeKey) {
        const storedId = await options.resume.get(run.resumeKey);
        const found = storedId ? await findSession(t, storedId, run.total) : undefined;
        if (found?.complete) return toMessage(found); // finished before the reload; do not post twice
        if (found) {
            [run.uploadId, run.offset] = [storedId!, found.offset];
            chunkSizeBytes = found.chunkSizeBytes ?? chunkSizeBytes; // the session's, should the setting change
        }
    }
    if (!run.uploadId) {
        const created = await requestIdempotent(run, 'uploads', {
            rid: options.rid,
            name: run.name,
            size: run.total,
            type: options.type ?? source.type,
            sha256: await source.sha256(),
            description: options.description,
        });
        // A kept key whose upload finished before the reload answers the message: do not post twice.
        if (created.complete === true && created._id) return toMessage(created);
        run.uploadId = created.uploadId as string;
        run.offset = created.offset ?? 0;
        chunkSizeBytes = created.chunkSizeBytes ?? chunkSizeBytes;
        maxParallelChunks = created.maxParallelChunks ?? maxParallelChunks;
        if (run.resumeKey) run.resumeStored = await storeSessionId(options.resume!, run.resumeKey, run.uploadId);
    } else {
        run.resumeStored = true;
    }
    report(run, run.offset);
    const width = Math.max(1, Math.min(Math.floor(options.parallel ?? maxParallelChunks) || 1, maxParallelChunks));
    let failures = 0;
    let offsetAtLastFailure = run.offset;
    let waitedInProgressMs = 0;
    for (;;) {
        // One round sends chunks until the file is whole or a request fails; a failure cancels the
        // round's other requests, and the next round starts from the server's offset (as tus does).
        const round = new AbortController();
        const cancelRound = () => round.abort();
        options.signal?.addEventListener('abort', cancelRound, { once: true });
        try {
            const roundT = { ...t, signal: round.signal };
            const done = await sendChunks(run, roundT, chunkSizeBytes, width, maxParallelChunks * chunkSizeBytes);
            return done ?? toMessage(await request(t, 'POST', 'uploads/complete', { body: { uploadId: run.uploadId } }));
        } catch (err) {
            round.abort(); // the round's other chunks: the server's offset says what to resend
            if (options.signal?.aborted) throw new UploadAbortedError();
            const code = err instanceof UploadHttpError ? err.code : undefined;
            const outOfStep = code === 'error-offset-mismatch' || code === 'error-upload-incomplete';
            // Different bytes taken at one offset on two servers at once can be refused on both, and
            // a completion empties a slot it finds with two contents: either way the chunk is sent
            // again (docs/API.md), within the retry budget, as a slot that holds other bytes for good
            // refuses it every time.
            const conflict = code === 'error-chunk-conflict';
            if (!outOfStep && !conflict && !isTransientError(err)) throw err;
            if (run.offset > offsetAtLastFailure) failures = 0; // progress since: a fresh budget
            if (isInProgressError(err) && waitedInProgressMs < t.retry.inProgressMaxWaitMs) {
                // Another request is completing the upload: nothing failed, wait and ask where it stands.
                const delay = inProgressDelayMs(err, t.retry);
                waitedInProgressMs += delay;
                await t.sleep(delay, options.signal);
            } else {
                if (failures >= t.retry.retries) throw err;
                await t.sleep(outOfStep ? 0 : backoffDelayMs(failures, t.retry, err), options.signal);
                failures++;
            }
            offsetAtLastFailure = run.offset;
            const status = await request(t, 'GET', 'uploads', { query: { uploadId: run.uploadId! } });
            if (status.complete) return toMessage(status);
            run.offset = status.offset;
            report(run, run.offset);
        } finally {
            options.signal?.removeEventListener('abort', cancelRound);
            round.abort();
        }
    }
}

/**
 * Sends the chunks from the server's offset on, at most `width` at once and never past
 * `windowBytes` beyond the server's offset ("chunks may arrive out of order within
 * maxParallelChunks chunks of the server's offset", docs/API.md). Resolves to the message when an
 * answer says `complete`, to undefined when every chunk was answered without one.
 */
async function sendChunks(run: Run, t: Transport, chunkSizeBytes: number, width: number, windowBytes: number): Promise<PostedMessage | undefined> {
    const inFlight = new Map<number, Promise<void>>();
    let message: PostedMessage | undefined;
    const send = async (start: number) => {
        const bytes = await run.source.read(start, Math.min(start + chunkSizeBytes, run.total));
        const body = { uploadId: run.uploadId, offset: start, data: encodeBase64(bytes), sha256: await sha256Hex(bytes) };
        const answer = await requestOnce(t, 'PATCH', 'uploads', { body });
        inFlight.delete(start);
        if (answer.complete) message = toMessage(answer);
        run.offset = Math.max(run.offset, answer.offset);
        report(run, run.offset);
    };
    let next = run.offset;
    for (;;) {
        while (!message && inFlight.size < width && next < run.total && next < run.offset + windowBytes) {
            const sending = send(next);
            sending.catch(() => undefined); // the race below reports the first failure
            inFlight.set(next, sending);
            next += chunkSizeBytes;
        }
        if (message || inFlight.size === 0) return message;
        await Promise.race(inFlight.values());
    }
}

/** The stored session when it still exists for a file of this size; undefined when it is gone. */
async function findSession(t: Transport, uploadId: string, size: number): Promise<Answer | undefined> {
    try {
        const status = await request(t, 'GET', 'uploads', { query: { uploadId } });
        return status.size === size ? status : undefined;
    } catch (err) {
        if (err instanceof UploadHttpError && !isTransientError(err)) return undefined; // expired, removed
        throw err;
    }
}

/** Where the resume store keeps the Idempotency-Key of the upload stored under `resumeKey`. */
const idempotencyKeyName = (resumeKey: string): string => `${resumeKey}:idempotency-key`;

async function forgetSession(run: Run): Promise<void> {
    if (run.resumeKey) {
        await run.options.resume!.delete(idempotencyKeyName(run.resumeKey));
        await run.options.resume!.delete(run.resumeKey);
    }
}

/** Stores the session id and reads it back: a store that cannot keep it (full, forbidden, failing) only loses resumability. */
async function storeSessionId(store: ResumeStore, key: string, uploadId: string): Promise<boolean> {
    try {
        await store.set(key, uploadId);
        return (await store.get(key)) === uploadId;
    } catch {
        return false;
    }
}

/**
 * Best effort: `DELETE uploads` with a short deadline of its own, then forget the session. Resolves
 * to the message when the upload had been posted (DELETE of a finished upload answers it).
 */
async function abortOnServer(run: Run): Promise<PostedMessage | undefined> {
    // No session id: the create's answer never came; its kept key lets a later call get that session back.
    if (!run.uploadId) return undefined;
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), 5_000);
    const answer = await requestOnce({ ...run.t, signal: deadline.signal }, 'DELETE', 'uploads', {
        query: { uploadId: run.uploadId },
    }).catch(() => undefined);
    clearTimeout(timer);
    await Promise.resolve(forgetSession(run)).catch(() => undefined);
    return answer?.complete === true ? toMessage(answer) : undefined;
}
