import { CODE_SENTENCES, formatBytes, resolveLocale, SENTENCES, type SentenceId, type WordedCode } from './words.js';

/** Extra fields an error answer carries beside its code, e.g. `sizeAllowed`, `offset`, `field`, `retryAfterMs`. */
export type UploadErrorDetails = Record<string, unknown>;

/**
 * The server answered with an error. `code` is its `error` field; when the body is not the app's
 * JSON (Express's HTML `400 Bad Request`, a proxy's `413` or `502` page) it is `http-<status>`.
 */
export class UploadHttpError extends Error {
    constructor(
        readonly status: number,
        readonly code: string,
        readonly details: UploadErrorDetails = {},
        message = `HTTP ${status}: ${code}`,
        /** How long the server asked to wait: the body's `retryAfterMs`, else `Retry-After`. */
        readonly retryAfterMs?: number,
    ) {
        super(message);
        this.name = 'UploadHttpError';
    }
}

/** The caller's `AbortSignal` fired; the server session (if any) was asked to abort. */
export class UploadAbortedError extends Error {
    readonly code = 'error-cancelled';
    constructor(
        message = 'The upload was cancelled.',
        /** The message, when the cancel landed after the server had posted the file (DELETE answered it). */
        readonly posted?: Record<string, unknown>,
    ) {
        super(message);
        this.name = 'UploadAbortedError';
    }
}

/** The server could not be reached (connection refused, reset, DNS…), also after the retries. */
export class UploadNetworkError extends Error {
    readonly code = 'error-network';
    readonly cause: unknown;
    constructor(message: string, cause?: unknown) {
        super(message);
        this.name = 'UploadNetworkError';
        this.cause = cause;
    }
}

/**
 * The file was refused on the device, before any byte was sent; `code` is the one the app answers
 * for the same file (`error-content-malformed`: metadata cannot be removed from a damaged image).
 */
export class UploadFileError extends Error {
    constructor(
        readonly code: 'error-content-malformed',
        message: string,
    ) {
        super(message);
        this.name = 'UploadFileError';
    }
}

/** Another request is completing this upload, or answering this `Idempotency-Key`: wait and repeat the same request. */
export function isInProgressError(err: unknown): err is UploadHttpError {
    return err instanceof UploadHttpError && err.code === 'error-upload-in-progress';
}

/** Network errors, 5xx, 429 and `error-upload-in-progress` are worth another try; every other 4xx is final. */
export function isTransientError(err: unknown): boolean {
    if (err instanceof UploadNetworkError) return true;
    return err instanceof UploadHttpError && (err.status >= 500 || err.status === 429 || isInProgressError(err));
}

function sentenceFor(err: unknown): SentenceId {
    if (err instanceof UploadAbortedError || err instanceof UploadNetworkError || err instanceof UploadFileError) return CODE_SENTENCES[err.code];
    if (err instanceof UploadHttpError) {
        if (Object.prototype.hasOwnProperty.call(CODE_SENTENCES, err.code)) return CODE_SENTENCES[err.code as WordedCode];
        if (err.status === 413) return 'tooLargeForServer';
        if (err.status >= 500) return 'serverBusy';
    }
    return 'failed';
}

/**
 * One sentence a visitor can read for any error `uploadFile` rejects with, in `locale` (a BCP 47 tag
 * or a list such as `navigator.languages`; English when none is supported). A code the client does
 * not know yet is worded by its HTTP status class.
 */
export function describeUploadError(err: unknown, locale?: string | readonly string[]): string {
    const language = resolveLocale(locale);
    const words = SENTENCES[language];
    const sentence = words[sentenceFor(err)];
    const allowed = err instanceof UploadHttpError ? err.details.sizeAllowed : undefined;
    if (err instanceof UploadHttpError && err.code === 'error-size-not-allowed' && typeof allowed === 'number') {
        const gap = language === 'ja' || language === 'zh' ? '' : ' '; // no space between sentences in Japanese and Chinese
        return `${sentence}${gap}${words.sizeLimit.replace('{size}', formatBytes(allowed, language))}`;
    }
    return sentence;
}
