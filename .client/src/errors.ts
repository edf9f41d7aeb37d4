/** Extra fields an error answer carries beside its code, e.g. `sizeAllowed`, `offset`, `field`. */
export type UploadErrorDetails = Record<string, unknown>;

/** The server answered with an error: `code` is its `error` field (`http-<status>` when the body is not JSON). */
export class UploadHttpError extends Error {
    constructor(
        readonly status: number,
        readonly code: string,
        readonly details: UploadErrorDetails = {},
        message = `HTTP ${status}: ${code}`,
        /** From `Retry-After`, when the answer had one. */
        readonly retryAfterMs?: number,
    ) {
        super(message);
        this.name = 'UploadHttpError';
    }
}

/** The caller's `AbortSignal` fired; the server session (if any) was asked to abort. */
export class UploadAbortedError extends Error {
    constructor(message = 'The upload was cancelled.') {
        super(message);
        this.name = 'UploadAbortedError';
    }
}

/** The server could not be reached (connection refused, reset, DNS…), also after the retries. */
export class UploadNetworkError extends Error {
    readonly cause: unknown;
    constructor(message: string, cause?: unknown) {
        super(message);
        this.name = 'UploadNetworkError';
        this.cause = cause;
    }
}

/** Network errors, 5xx and 429 are worth another try; every other 4xx is final. */
export function isTransientError(err: unknown): boolean {
    if (err instanceof UploadNetworkError) return true;
    return err instanceof UploadHttpError && (err.status >= 500 || err.status === 429);
}

// Words for a visitor, keyed by the server's codes (docs/API.md, "Error codes").
const PLAIN_WORDS: Record<string, string> = {
    unauthorized: 'This chat is not allowed to send files here. Try reloading the page.',
    'error-file-upload-disabled': 'Sending files is turned off for this chat.',
    'error-size-not-allowed': 'This file is too large.',
    'http-413': 'This file is too large for the server.',
    'error-type-not-allowed': 'This type of file is not allowed here.',
    'error-content-mismatch': "This file's contents do not match its name or type.",
    'error-content-unknown': 'This kind of file cannot be recognised, so it cannot be sent.',
    'error-empty-file': 'This file is empty.',
    'error-invalid-file-name': 'This file name cannot be used. Rename the file and try again.',
    'error-invalid-body': 'The file could not be sent intact. Please try again.',
    'error-invalid-base64': 'The file could not be sent intact. Please try again.',
    'error-checksum-mismatch': 'The file could not be sent intact. Please try again.',
    'error-chunk-conflict': 'The file changed while it was being sent. Please send it again.',
    'error-upload-not-found': 'The upload was interrupted for too long. Please send the file again.',
    'error-upload-expired': 'The upload was interrupted for too long. Please send the file again.',
    'error-too-many-uploads': 'Too many files are being sent at once. Wait a moment and try again.',
    'error-upload-rejected': 'The server refused this file.',
    'error-server': 'The server could not take the file right now. Please try again later.',
};

function formatBytes(bytes: number): string {
    if (bytes < 1024) return `${bytes} bytes`;
    if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
    return `${(bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, '')} MB`;
}

/** One sentence a widget can show for any error `uploadFile` rejects with. */
export function describeUploadError(err: unknown): string {
    if (err instanceof UploadAbortedError) return 'The upload was cancelled.';
    if (err instanceof UploadNetworkError) {
        return 'The server could not be reached. Check your connection and try again.';
    }
    if (err instanceof UploadHttpError) {
        const words = PLAIN_WORDS[err.code] ?? (err.status >= 500 ? PLAIN_WORDS['error-server'] : undefined);
        const allowed = err.details.sizeAllowed;
        if (err.code === 'error-size-not-allowed' && typeof allowed === 'number') {
            return `${words} The limit is ${formatBytes(allowed)}.`;
        }
        if (words) return words;
    }
    return 'The file could not be sent.';
}
