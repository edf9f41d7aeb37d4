/**
 * An in-test fake of the app's HTTP protocol (docs/API.md) on node:http, port 0, with fault
 * injection. It keeps only what the client tests look at: sessions, stored bytes, posted files,
 * every request, and how many chunks were in flight or ahead of the server's offset.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import type { UploadLimits } from '../../.client/src/index';

/** The fake answers `GET limits` with the same shape the client reads. */
export type FakeLimits = UploadLimits;

/**
 * A JSON request body as the client sends it (docs/API.md): each route sends some of these fields,
 * and the fake and the tests read a route's fields from that route's requests only.
 */
export interface RequestBody {
    rid: string;
    file: { name: string; type?: string; data: string };
    description?: string;
    name: string;
    size: number;
    type?: string;
    sha256?: string;
    uploadId: string;
    offset: number;
    data: string;
}

export interface RecordedRequest {
    method: string;
    route: string;
    query: Record<string, string>;
    /** `{}` for a request without a body. */
    body: RequestBody;
    token?: string;
    idempotencyKey?: string;
}

/**
 * `drop`: destroy the socket before answering; `drop-after`: do the work, then destroy the socket;
 * an object: answer with that status and JSON `body`, or `raw` text as is (an HTML error page).
 */
export type Fault = 'drop' | 'drop-after' | { status: number; headers?: Record<string, string>; body?: unknown; raw?: string };

export interface FaultRule {
    method: string;
    route: string;
    when?: (req: RecordedRequest) => boolean;
    fault: Fault;
    /** How many matching requests it hits; Infinity for all. */
    times?: number;
}

interface Session {
    uploadId: string;
    rid: string;
    name: string;
    size: number;
    type?: string;
    sha256?: string;
    description?: string;
    chunks: Map<number, Buffer>;
    offset: number;
    message?: Record<string, unknown>;
}

export interface PostedFile {
    messageId: string;
    name: string;
    type: string;
    description?: string;
    bytes: Buffer;
}

export const APP_ID = '12bafb30-fcbd-4472-9756-77fd8b9ea330';
const BODY_LIMIT_BYTES = 102_400; // Rocket.Chat answers 413 itself above this
const TYPES_BY_EXTENSION: Record<string, string> = {
    jpg: 'image/jpeg',
    png: 'image/png',
    svg: 'image/svg+xml',
    txt: 'text/plain',
    pdf: 'application/pdf',
};

const errorBody = (code: string, extra: Record<string, unknown> = {}) => ({
    success: false,
    error: code,
    reason: code,
    message: `fake: ${code}`,
    ...extra,
});

export class FakeServer {
    readonly token = 'visitor-token-1';
    readonly rid = 'room-1';
    readonly limits: FakeLimits = {
        maxFileSizeBytes: 20_971_520,
        singleRequestMaxBytes: 65_536,
        chunkSizeBytes: 76_500,
        maxParallelChunks: 4,
        sessionTtlMs: 86_400_000,
        allowedTypes: [],
        blockedTypes: ['image/svg+xml'],
    };
    readonly requests: RecordedRequest[] = [];
    readonly sessions = new Map<string, Session>();
    readonly posted: PostedFile[] = [];
    faults: FaultRule[] = [];
    /** `POST upload` answers by Idempotency-Key: the body it came with and the answer it got (draft-ietf-httpapi-idempotency-key-header). */
    readonly idempotent = new Map<string, { body: string; answer: [number, unknown] }>();
    /** Holds every PATCH this long before answering, so chunks overlap. */
    patchDelayMs = 0;
    onRequest?: (req: RecordedRequest) => void;
    maxPatchesInFlight = 0;
    largestBodyBytes = 0;
    /** The furthest a PATCH arrived ahead of the server's offset, in chunks (measured on arrival). */
    maxChunksAhead = 0;
    private patchesInFlight = 0;
    private ids = 0;
    private server = http.createServer((req, res) => void this.handle(req, res));
    url = '';

    constructor(limits: Partial<FakeLimits> = {}) {
        Object.assign(this.limits, limits);
    }

    async start(): Promise<this> {
        await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
        this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
        return this;
    }

    async close(): Promise<void> {
        // Node 18.2+; the project's @types/node is 16 (what the Rocket.Chat packager needs).
        (this.server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        await new Promise((resolve) => this.server.close(resolve));
    }

    routeCount(method: string, route: string): number {
        return this.requests.filter((r) => r.method === method && r.route === route).length;
    }

    private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const url = new URL(req.url ?? '/', 'http://fake');
        const prefix = `/api/apps/public/${APP_ID}/`;
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        const raw = Buffer.concat(chunks);
        this.largestBodyBytes = Math.max(this.largestBodyBytes, raw.length);
        const answer = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
            res.writeHead(status, { 'content-type': 'application/json', ...headers });
            res.end(body === undefined ? '' : JSON.stringify(body));
        };
        if (raw.length > BODY_LIMIT_BYTES) {
            res.writeHead(413, { 'content-type': 'text/html' });
            res.end('<html>PayloadTooLargeError</html>');
            return;
        }
        const recorded: RecordedRequest = {
            method: req.method ?? 'GET',
            route: url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : url.pathname,
            query: Object.fromEntries(url.searchParams),
            body: raw.length ? (JSON.parse(raw.toString('utf8')) as RequestBody) : ({} as RequestBody),
            token: req.headers['x-visitor-token'] as string | undefined,
            idempotencyKey: req.headers['idempotency-key'] as string | undefined,
        };
        this.requests.push(recorded);
        this.onRequest?.(recorded);
        const rule = this.faults.find(
            (f) => f.method === recorded.method && f.route === recorded.route && (f.times ?? 1) > 0 && (!f.when || f.when(recorded)),
        );
        if (rule) rule.times = (rule.times ?? 1) - 1;
        if (rule?.fault === 'drop') return void req.socket.destroy();
        if (rule && typeof rule.fault === 'object' && rule.fault.raw !== undefined) {
            res.writeHead(rule.fault.status, rule.fault.headers);
            return void res.end(rule.fault.raw);
        }
        if (rule && typeof rule.fault === 'object') return answer(rule.fault.status, rule.fault.body, rule.fault.headers);
        if (recorded.method === 'PATCH') {
            const session = this.sessions.get(recorded.body?.uploadId);
            if (session) {
                const ahead = (recorded.body.offset - session.offset) / this.limits.chunkSizeBytes;
                this.maxChunksAhead = Math.max(this.maxChunksAhead, ahead);
            }
            this.patchesInFlight++;
            this.maxPatchesInFlight = Math.max(this.maxPatchesInFlight, this.patchesInFlight);
            if (this.patchDelayMs) await new Promise((r) => setTimeout(r, this.patchDelayMs * (0.5 + Math.random())));
            this.patchesInFlight--;
        }
        const [status, body] = this.route(recorded);
        if (rule?.fault === 'drop-after') return void req.socket.destroy();
        answer(status, body);
    }

    private route(r: RecordedRequest): [number, unknown] {
        if (r.token !== this.token) return [403, errorBody('unauthorized')];
        const key = `${r.method} ${r.route}`;
        if (key === 'GET limits') return [200, { success: true, ...this.limits }];
        if (key === 'POST upload') return this.once(r, () => this.postUpload(r.body));
        if (key === 'POST uploads') return this.once(r, () => this.createSession(r.body));
        if (key === 'PATCH uploads') return this.storeChunk(r.body);
        if (key === 'POST uploads/complete') return this.complete(this.sessions.get(r.body?.uploadId));
        const session = this.sessions.get(r.query.uploadId);
        if (!session && (key === 'GET uploads' || key === 'DELETE uploads')) return [404, errorBody('error-upload-not-found')];
        if (key === 'GET uploads') return [200, this.status(session!)];
        // docs/API.md: an upload that ended answers as it ended (its message) and is not changed.
        if (key === 'DELETE uploads' && session!.message) return [200, this.status(session!)];
        if (key === 'DELETE uploads') return (this.sessions.delete(session!.uploadId), [200, { success: true, uploadId: session!.uploadId }]);
        return [405, errorBody('error-method-not-allowed')];
    }

    private checkFile(rid: string, name: string, size: number): [number, unknown] | undefined {
        if (rid !== this.rid) return [403, errorBody('unauthorized')];
        if (size > this.limits.maxFileSizeBytes) {
            return [400, errorBody('error-size-not-allowed', { sizeAllowed: this.limits.maxFileSizeBytes })];
        }
        if (this.limits.blockedTypes.includes(typeOf(name))) return [400, errorBody('error-type-not-allowed')];
        return size === 0 ? [400, errorBody('error-empty-file')] : undefined;
    }

    /**
     * `POST upload` and `POST uploads` by Idempotency-Key: a repeated key with the same route and body
     * gets the first answer (a session at its offset now) and posts or creates nothing; with another, 422.
     * A refused `POST uploads` is not kept (the app checks a repeat again: the quota may have freed).
     */
    private once(r: RecordedRequest, first: () => [number, unknown]): [number, unknown] {
        if (r.idempotencyKey === undefined) return first();
        if (!/^"[\x20-\x21\x23-\x5b\x5d-\x7e]{1,255}"$/.test(r.idempotencyKey)) return [400, errorBody('error-invalid-idempotency-key')];
        const body = `${r.route} ${JSON.stringify(r.body)}`;
        const seen = this.idempotent.get(r.idempotencyKey);
        if (seen && seen.body !== body) return [422, errorBody('error-idempotency-key-reused')];
        if (seen) {
            const [status, content] = seen.answer;
            const session = this.sessions.get((content as { uploadId?: string }).uploadId ?? '');
            return session ? [status, { ...(content as object), offset: session.offset }] : seen.answer;
        }
        const answer = first();
        if (answer[0] < 400 || r.route === 'upload') this.idempotent.set(r.idempotencyKey, { body, answer });
        return answer;
    }

    private postUpload(body: RequestBody): [number, unknown] {
        const bytes = Buffer.from(body.file.data, 'base64');
        return (
            this.checkFile(body.rid, body.file.name, bytes.length) ?? [
                200,
                { ...this.post(body.rid, body.file.name, bytes, body.description), success: true },
            ]
        );
    }

    private createSession(body: RequestBody): [number, unknown] {
        const refused = this.checkFile(body.rid, body.name, body.size);
        if (refused) return refused;
        const uploadId = `upload-${++this.ids}`;
        this.sessions.set(uploadId, {
            uploadId,
            rid: body.rid,
            name: body.name,
            size: body.size,
            type: body.type,
            sha256: body.sha256,
            description: body.description,
            chunks: new Map(),
            offset: 0,
        });
        const { chunkSizeBytes, maxParallelChunks } = this.limits;
        return [201, { success: true, uploadId, offset: 0, size: body.size, chunkSizeBytes, maxParallelChunks, expiresAt: 'later' }];
    }

    private storeChunk(body: RequestBody): [number, unknown] {
        const s = this.sessions.get(body.uploadId);
        if (!s) return [404, errorBody('error-upload-not-found')];
        if (s.message) return [200, this.status(s)];
        const chunk = this.limits.chunkSizeBytes;
        const bytes = Buffer.from(body.data, 'base64');
        const ahead = (body.offset - s.offset) / chunk;
        const isLast = body.offset + bytes.length === s.size;
        if (body.offset % chunk !== 0 || ahead >= this.limits.maxParallelChunks || (!isLast && bytes.length !== chunk)) {
            return [409, errorBody('error-offset-mismatch', { offset: s.offset })];
        }
        if (body.sha256 && createHash('sha256').update(bytes).digest('hex') !== body.sha256) {
            return [400, errorBody('error-checksum-mismatch')];
        }
        const stored = s.chunks.get(body.offset);
        if (stored && !stored.equals(bytes)) return [409, errorBody('error-chunk-conflict', { offset: s.offset })];
        s.chunks.set(body.offset, bytes);
        while (s.chunks.has(s.offset)) s.offset += s.chunks.get(s.offset)!.length;
        return s.offset === s.size ? this.complete(s) : [200, this.status(s)];
    }

    private complete(s: Session | undefined): [number, unknown] {
        if (!s) return [404, errorBody('error-upload-not-found')];
        if (s.offset < s.size) return [409, errorBody('error-upload-incomplete', { offset: s.offset })];
        if (!s.message) {
            const bytes = Buffer.concat([...s.chunks.keys()].sort((a, b) => a - b).map((o) => s.chunks.get(o)!));
            if (s.sha256 && createHash('sha256').update(bytes).digest('hex') !== s.sha256) {
                return [400, errorBody('error-checksum-mismatch')];
            }
            s.message = this.post(s.rid, s.name, bytes, s.description);
        }
        return [200, this.status(s)];
    }

    private status(s: Session) {
        const where = {
            success: true,
            uploadId: s.uploadId,
            offset: s.offset,
            size: s.size,
            chunkSizeBytes: this.limits.chunkSizeBytes,
            complete: !!s.message,
            expiresAt: 'later',
        };
        return s.message ? { ...s.message, ...where } : where;
    }

    private post(rid: string, name: string, bytes: Buffer, description?: string): Record<string, unknown> {
        const messageId = `msg-${++this.ids}`;
        const type = typeOf(name);
        this.posted.push({ messageId, name, type, description, bytes });
        const file = { _id: `file-${this.ids}`, name, type };
        return {
            _id: messageId,
            rid,
            msg: '',
            ts: new Date().toISOString(),
            u: { _id: 'guest', username: 'guest-1' },
            file,
            files: [file],
            attachments: [{ title: name, type: 'file', description, title_link: `/file-upload/${file._id}/${name}` }],
        };
    }
}

function typeOf(name: string): string {
    return TYPES_BY_EXTENSION[name.split('.').pop()?.toLowerCase() ?? ''] ?? 'application/octet-stream';
}
