/**
 * Every error the app answers with: one stable code → HTTP status and an English message.
 * Codes follow core's `/api/v1/livechat/upload/:rid` where core has one (`unauthorized`,
 * `error-file-upload-disabled`, `error-type-not-allowed`, `error-size-not-allowed`) and the same
 * `error-…` form for the rest. `docs/API.md` carries the same table; a test keeps them equal.
 */
export const ERRORS = {
    unauthorized: {
        status: 403,
        message: 'Unknown visitor token, or no open livechat room of this visitor with that id.',
    },
    'error-file-upload-disabled': { status: 400, message: 'File upload is disabled.' },
    'error-size-not-allowed': {
        status: 400,
        message: 'The file is larger than allowed; sizeAllowed gives the limit in bytes.',
    },
    'error-type-not-allowed': { status: 400, message: 'Files of this type are not allowed.' },
    'error-content-mismatch': {
        status: 400,
        message: 'The file content does not match its declared type or extension.',
    },
    'error-content-unknown': {
        status: 400,
        message: 'The file content is of no recognised type (strict content check).',
    },
    'error-content-malformed': {
        status: 400,
        message: 'The image is damaged, so its metadata (location) cannot be removed.',
    },
    'error-empty-file': { status: 400, message: 'The file is empty.' },
    'error-invalid-file-name': { status: 400, message: 'The file name is empty or unusable.' },
    'error-invalid-body': {
        status: 400,
        message: 'The request body is malformed; field names the offending field.',
    },
    'error-invalid-base64': { status: 400, message: 'The data field is not valid base64.' },
    'error-checksum-mismatch': {
        status: 400,
        message: 'The bytes do not match the sha256 sent with them.',
    },
    'error-upload-not-found': { status: 404, message: 'No upload session with this id.' },
    'error-method-not-allowed': { status: 405, message: 'This route does not answer this method.' },
    'error-offset-mismatch': {
        status: 409,
        message: 'The chunk is not at a position the server accepts; offset gives the server position.',
    },
    'error-chunk-conflict': {
        status: 409,
        message: 'A chunk was already stored at this offset with different bytes.',
    },
    'error-upload-incomplete': {
        status: 409,
        message: 'Bytes are still missing; offset gives how many the server has without a gap.',
    },
    'error-upload-in-progress': {
        status: 409,
        message: 'Another request is finishing this upload; ask again after retryAfterMs.',
    },
    'error-upload-expired': { status: 410, message: 'The upload session has expired.' },
    'error-too-many-uploads': {
        status: 429,
        message: 'This visitor has too many unfinished uploads, or too many bytes staged in them.',
    },
    'error-invalid-idempotency-key': {
        status: 400,
        message: 'The Idempotency-Key header must be 1 to 255 visible ASCII characters.',
    },
    'error-idempotency-key-reused': {
        status: 422,
        message: 'This Idempotency-Key was used before for another file.',
    },
    'error-upload-rejected': {
        status: 400,
        message: 'The server refused to store the file (a scanner or a server rule).',
    },
    'error-server': { status: 500, message: 'The upload failed on the server.' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

/** Extra fields some codes carry, e.g. `sizeAllowed`, `offset`, `field`. */
export type ErrorDetails = Record<string, string | number | boolean>;

/** A failure with a stable code; thrown by `lib/` and turned into an answer by `answerError`. */
export class UploadError extends Error {
    constructor(
        public readonly code: ErrorCode,
        public readonly details: ErrorDetails = {},
    ) {
        super(code);
        this.name = 'UploadError';
    }
}

export interface HttpAnswer {
    status: number;
    headers?: Record<string, string>;
    content: Record<string, unknown>;
}

/**
 * Turns a code into the HTTP answer: `{ success:false, error, reason, message, ...details }`.
 * `error` and `reason` both hold the code because core answers 403s with `error` and 400s with
 * `reason`; clients written against core find the code where they look for it.
 */
export function answerError(code: ErrorCode, details: ErrorDetails = {}): HttpAnswer {
    const { status, message } = ERRORS[code];
    const content = { success: false, error: code, reason: code, message, ...details };
    // Retry-After is in seconds (RFC 9110 §10.2.3); the body keeps the milliseconds.
    return typeof details.retryAfterMs === 'number'
        ? { status, headers: { 'retry-after': String(Math.ceil(details.retryAfterMs / 1000)) }, content }
        : { status, content };
}

/** Narrows an unknown throwable to an `UploadError`, or undefined for anything else. */
export function asUploadError(e: unknown): UploadError | undefined {
    return e instanceof UploadError ? e : undefined;
}
