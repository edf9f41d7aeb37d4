/**
 * The JSON type of an extra field an error answer carries; `?` when only some answers with that
 * code carry it.
 */
type FieldType = 'string' | 'integer' | 'string?' | 'integer?';

interface ErrorSpec {
    status: number;
    message: string;
    /** Extra fields of the answer beside `success`, `error`, `reason` and `message`. */
    fields?: Readonly<Record<string, FieldType>>;
}

/**
 * Every error the app answers with: one stable code → HTTP status, an English message and the
 * extra fields its answer carries. Codes follow core's `/api/v1/livechat/upload/:rid` where core has
 * one (`unauthorized`, `error-file-upload-disabled`, `error-type-not-allowed`,
 * `error-size-not-allowed`) and the same `error-…` form for the rest. Adding a code is one entry
 * here; `docs/API.md` and `docs/openapi.json` carry the same table, and test/unit/docs.test.cts
 * keeps them equal to it, as the endpoint tests keep every error body they see.
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
        fields: { sizeAllowed: 'integer' },
    },
    'error-type-not-allowed': { status: 400, message: 'Files of this type are not allowed.', fields: { type: 'string' } },
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
        fields: { field: 'string', expectedBytes: 'integer?' },
    },
    'error-invalid-base64': { status: 400, message: 'The data field is not valid base64.', fields: { field: 'string' } },
    'error-checksum-mismatch': {
        status: 400,
        message: 'The bytes do not match the sha256 sent with them.',
        fields: { field: 'string' },
    },
    'error-upload-not-found': { status: 404, message: 'No upload session with this id.' },
    'error-method-not-allowed': { status: 405, message: 'This route does not answer this method.' },
    'error-offset-mismatch': {
        status: 409,
        message: 'The chunk is not at a position the server accepts; offset gives the server position.',
        fields: { offset: 'integer' },
    },
    'error-chunk-conflict': {
        status: 409,
        message: 'A chunk was already stored at this offset with different bytes.',
        fields: { offset: 'integer' },
    },
    'error-upload-incomplete': {
        status: 409,
        message: 'Bytes are still missing; offset gives how many the server has without a gap.',
        fields: { offset: 'integer' },
    },
    'error-upload-in-progress': {
        status: 409,
        message: 'The upload is being finished or waits its turn; send the same request again after retryAfterMs.',
        fields: { retryAfterMs: 'integer' },
    },
    'error-upload-expired': { status: 410, message: 'The upload session has expired.' },
    'error-too-many-uploads': {
        status: 429,
        message: 'This visitor has too many unfinished uploads, or too many bytes staged in them.',
        fields: { maxOpenSessions: 'integer', maxStagedBytes: 'integer' },
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
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** The extra fields `ERRORS` declares for `code`, by name → JSON type. */
export function errorFieldsOf(code: ErrorCode): Readonly<Record<string, FieldType>> {
    const spec: ErrorSpec = ERRORS[code];
    return spec.fields ?? {};
}

/** Extra fields of an answer, e.g. `sizeAllowed`, `offset`, `field`. */
export type ErrorDetails = Record<string, string | number>;

type FieldsOf<C extends ErrorCode> = (typeof ERRORS)[C] extends { fields: infer F } ? F : Record<never, FieldType>;
type ValueOf<T> = T extends 'string' | 'string?' ? string : number;
type RequiredFields<F> = { [K in keyof F as F[K] extends `${string}?` ? never : K]: ValueOf<F[K]> };
type OptionalFields<F> = { [K in keyof F as F[K] extends `${string}?` ? K : never]?: ValueOf<F[K]> };

/**
 * The details `new UploadError(code, …)` takes: the code's declared fields, none for a code without.
 * A code known only as `ErrorCode` (a stored refusal thrown again) takes the details stored with it.
 */
type DetailsArgs<C extends ErrorCode> = ErrorCode extends C
    ? [details?: ErrorDetails]
    : [keyof FieldsOf<C>] extends [never]
      ? []
      : [details: RequiredFields<FieldsOf<C>> & OptionalFields<FieldsOf<C>>];

/** A failure with a stable code; thrown by `lib/` and turned into an answer by `answerError`. */
export class UploadError<C extends ErrorCode = ErrorCode> extends Error {
    public readonly details: ErrorDetails;

    constructor(
        public readonly code: C,
        ...[details]: DetailsArgs<C>
    ) {
        super(code);
        this.name = 'UploadError';
        this.details = details ?? {};
    }
}

/** What a route answers: an HTTP status, a JSON body, and headers of its own (the endpoint adds CORS). */
export interface Answer {
    status: number;
    headers?: Record<string, string>;
    content: Record<string, unknown>;
}

/**
 * Turns a code into the HTTP answer: `{ success:false, error, reason, message, ...details }`.
 * `error` and `reason` both hold the code because core answers 403s with `error` and 400s with
 * `reason`; clients written against core find the code where they look for it.
 */
export function answerError(code: ErrorCode, details: ErrorDetails = {}): Answer {
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
