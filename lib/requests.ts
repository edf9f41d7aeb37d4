import { UploadError } from './errors';

/** Rocket.Chat's body parser limit on app routes (express.json() default; docs/ROCKETCHAT.md, "App routes"). */
export const BODY_LIMIT_BYTES = 102_400;

/**
 * Raw bytes per chunk: the largest multiple of 3 whose base64, plus the chunk body's other fields at
 * their longest (`{"uploadId":<64>,"offset":<16 digits>,"data":…,"sha256":<64>}`, 193 bytes), plus
 * 63 bytes for clients that put spaces in their JSON, stays within the limit:
 * (102400 − 256) / 4 × 3 = 76,608. test/unit/requests.test.cts proves it with Express's parser.
 */
export const CHUNK_SIZE_BYTES = 76_608;

/** Files up to this size go in one `POST upload`; the rest of the body keeps name and description. */
export const SINGLE_REQUEST_MAX_BYTES = 64 * 1024;

/** Chunks a client may send ahead of the server's offset at once. */
export const MAX_PARALLEL_CHUNKS = 4;

/** Rocket.Chat's default `Message_MaxAllowedSize`: the description goes into the message. */
export const DESCRIPTION_MAX_CHARS = 5000;

const NAME_MAX_CHARS = 1024;
const VISITOR_TOKEN_MAX_CHARS = 256;
const TYPE_MAX_CHARS = 255;
const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const SHA256_PATTERN = /^[0-9a-fA-F]{64}$/;

export interface FilePayload {
    name: string;
    type?: string;
    bytes: Buffer;
}

export interface SingleUploadRequest {
    rid: string;
    file: FilePayload;
    description?: string;
}

export interface CreateSessionRequest {
    rid: string;
    name: string;
    size: number;
    type?: string;
    sha256?: string;
    description?: string;
}

export interface ChunkRequest {
    uploadId: string;
    offset: number;
    bytes: Buffer;
    /** The bytes as sent (canonical base64): stored as they are, not encoded again. */
    base64: string;
    sha256?: string;
}

type Body = Record<string, unknown>;

/** The longest field name an `error-invalid-body` repeats: a body's unknown key is the sender's text. */
const FIELD_NAME_MAX_CHARS = 100;

function invalid(field: string): UploadError {
    return new UploadError('error-invalid-body', { field: field.length > FIELD_NAME_MAX_CHARS ? `${field.slice(0, FIELD_NAME_MAX_CHARS)}…` : field });
}

function asObject(value: unknown, field: string): Body {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw invalid(field);
    }
    return value as Body;
}

function onlyKnownFields(body: Body, known: string[], prefix = ''): void {
    const unknown = Object.keys(body).find((k) => !known.includes(k));
    if (unknown !== undefined) {
        throw invalid(prefix + unknown);
    }
}

function requiredString(body: Body, field: string, maxChars: number, prefix = ''): string {
    const value = body[field];
    if (typeof value !== 'string' || value.length === 0 || value.length > maxChars) {
        throw invalid(prefix + field);
    }
    return value;
}

function optionalString(body: Body, field: string, maxChars: number, prefix = ''): string | undefined {
    if (body[field] === undefined || body[field] === null || body[field] === '') {
        return undefined;
    }
    return requiredString(body, field, maxChars, prefix);
}

/**
 * A declared media type: `type/subtype` of RFC 6838's name characters, parameters after `;` allowed
 * (they are dropped later). Anything else is no media type, and with the content check off it would
 * be the type the lists are checked against.
 */
const MEDIA_TYPE_PATTERN = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*\s*(;[^\u0000-\u001f\u007f]*)?$/i;

function optionalMediaType(body: Body, field: string, prefix = ''): string | undefined {
    const value = optionalString(body, field, TYPE_MAX_CHARS, prefix);
    if (value !== undefined && !MEDIA_TYPE_PATTERN.test(value)) {
        throw invalid(prefix + field);
    }
    return value;
}

function requiredId(body: Body, field: string): string {
    const value = body[field];
    if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
        throw invalid(field);
    }
    return value;
}

function optionalSha256(body: Body, field: string): string | undefined {
    const value = body[field];
    if (value === undefined || value === null) {
        return undefined;
    }
    if (typeof value !== 'string' || !SHA256_PATTERN.test(value)) {
        throw invalid(field);
    }
    return value.toLowerCase();
}

function requiredInteger(body: Body, field: string, min: number): number {
    const value = body[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
        throw invalid(field);
    }
    return value;
}

/**
 * Decodes strict base64 (RFC 4648 §4: padding required, no whitespace, and the unused bits of the
 * last character zero, §3.5); Buffer.from alone would silently skip bad characters. Checked by
 * encoding the bytes again: the input must come back unchanged (a tenth of a regular expression's
 * cost on a 100 KB chunk in the runtime). Fails with `error-invalid-base64`.
 */
export function decodeBase64(data: unknown, field = 'data'): Buffer {
    if (typeof data !== 'string') {
        throw invalid(field);
    }
    const bytes = Buffer.from(data, 'base64');
    if (bytes.toString('base64') !== data) {
        throw new UploadError('error-invalid-base64', { field });
    }
    return bytes;
}

/** Parses `POST upload`. Fails with `error-invalid-body` (and `field`) or `error-invalid-base64`. */
export function parseSingleUploadRequest(content: unknown): SingleUploadRequest {
    const body = asObject(content, 'body');
    onlyKnownFields(body, ['rid', 'file', 'description']);
    const rid = requiredId(body, 'rid');
    const file = asObject(body.file, 'file');
    onlyKnownFields(file, ['name', 'type', 'data'], 'file.');
    return {
        rid,
        file: {
            name: requiredString(file, 'name', NAME_MAX_CHARS, 'file.'),
            type: optionalMediaType(file, 'type', 'file.'),
            bytes: decodeBase64(file.data, 'file.data'),
        },
        description: optionalString(body, 'description', DESCRIPTION_MAX_CHARS),
    };
}

/** Parses `POST uploads` (create a session). Fails with `error-invalid-body` and `field`. */
export function parseCreateSessionRequest(content: unknown): CreateSessionRequest {
    const body = asObject(content, 'body');
    onlyKnownFields(body, ['rid', 'name', 'size', 'type', 'sha256', 'description']);
    return {
        rid: requiredId(body, 'rid'),
        name: requiredString(body, 'name', NAME_MAX_CHARS),
        size: requiredInteger(body, 'size', 0),
        type: optionalMediaType(body, 'type'),
        sha256: optionalSha256(body, 'sha256'),
        description: optionalString(body, 'description', DESCRIPTION_MAX_CHARS),
    };
}

/** Parses `PATCH uploads` (one chunk). Fails with `error-invalid-body` or `error-invalid-base64`. */
export function parseChunkRequest(content: unknown): ChunkRequest {
    const body = asObject(content, 'body');
    onlyKnownFields(body, ['uploadId', 'offset', 'data', 'sha256']);
    return {
        uploadId: requiredId(body, 'uploadId'),
        offset: requiredInteger(body, 'offset', 0),
        sha256: optionalSha256(body, 'sha256'),
        bytes: decodeBase64(body.data),
        base64: body.data as string,
    };
}

/** Parses `POST uploads/complete`. Fails with `error-invalid-body`. */
export function parseCompleteRequest(content: unknown): { uploadId: string } {
    const body = asObject(content, 'body');
    onlyKnownFields(body, ['uploadId']);
    return { uploadId: requiredId(body, 'uploadId') };
}

/** Reads `?uploadId=` of `GET`/`DELETE uploads`. Fails with `error-invalid-body`. */
export function parseUploadIdQuery(query: unknown): { uploadId: string } {
    const q = typeof query === 'object' && query !== null ? (query as Body) : {};
    return { uploadId: requiredId(q, 'uploadId') };
}

/** Reads the visitor token header; undefined when absent or not a plausible token. */
export function readVisitorToken(headers: Record<string, unknown> | undefined): string | undefined {
    const value = headers ? headers['x-visitor-token'] : undefined;
    if (typeof value !== 'string' || value.length === 0 || value.length > VISITOR_TOKEN_MAX_CHARS) {
        return undefined;
    }
    return value;
}

/** Idempotency keys as the IETF httpapi draft's `Idempotency-Key` header carries them. */
const IDEMPOTENCY_KEY_PATTERN = /^[\x21\x23-\x5b\x5d-\x7e]{1,255}$/;

/**
 * Reads the `Idempotency-Key` header (draft-ietf-httpapi-idempotency-key-header): a structured-field
 * string (`"…"`) or, as many clients send it, the bare value. Returns undefined when absent; fails
 * with `error-invalid-idempotency-key` when present but empty, too long or not visible ASCII.
 */
export function readIdempotencyKey(headers: Record<string, unknown> | undefined): string | undefined {
    const raw = headers ? headers['idempotency-key'] : undefined;
    if (raw === undefined) {
        return undefined;
    }
    const text = typeof raw === 'string' ? raw.trim() : '';
    const value = text.length >= 2 && text.startsWith('"') && text.endsWith('"') ? text.slice(1, -1) : text;
    if (!IDEMPOTENCY_KEY_PATTERN.test(value)) {
        throw new UploadError('error-invalid-idempotency-key');
    }
    return value;
}

/**
 * What the log may say of a request: its declared size and type, never its token or its bytes.
 * Works on any body, valid or not (it is used for refusals too).
 */
export function summarizeRequestForLog(content: unknown): { size?: number; type?: string } {
    const body = typeof content === 'object' && content !== null ? (content as Body) : {};
    const file = typeof body.file === 'object' && body.file !== null ? (body.file as Body) : {};
    const data = typeof file.data === 'string' ? file.data : typeof body.data === 'string' ? body.data : undefined;
    const padding = data === undefined ? 0 : data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
    const size = typeof body.size === 'number' ? body.size : data !== undefined ? Math.floor((data.length * 3) / 4) - padding : undefined;
    const type = typeof body.type === 'string' ? body.type : typeof file.type === 'string' ? file.type : undefined;
    return { ...(size !== undefined && { size }), ...(type !== undefined && { type: type.slice(0, 100) }) };
}
