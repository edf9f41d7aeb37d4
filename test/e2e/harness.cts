/**
 * Drives the app over real HTTP as a widget would: the local host (the packaged zip in the real
 * Apps-Engine runtime) started as a child process, or a real Rocket.Chat when E2E_URL is set
 * (with E2E_ADMIN_USER / E2E_ADMIN_PASSWORD; the app must be installed there). Every call uses
 * Rocket.Chat's own routes, so the same tests run against either.
 */
import { createHash, randomBytes } from 'crypto';
import { readFileSync } from 'fs';
import { join } from 'path';

import Database from 'better-sqlite3';

import { spawnHost, ZIP } from '../host-process.cjs';

const root = join(__dirname, '..', '..');
const appJson = JSON.parse(readFileSync(join(root, 'app.json'), 'utf8'));
export const APP_ID: string = appJson.id;
export const REMOTE_URL = process.env.E2E_URL;
export { ZIP };

export interface Target {
    url: string;
    admin: { user: string; password: string };
    /** Stops the local host; a real server is left alone. */
    stop(): Promise<void>;
    /** Restarts the local host on the same data folder; the URL may change. */
    restart(): Promise<void>;
}

interface HostLine {
    url: string;
    adminUser: string;
    adminPassword: string;
}

/** Starts the local host (in memory, or on `dataDir` to survive restarts; `hostArgs` for main.ts), or points at E2E_URL. */
export async function startTarget(options: { dataDir?: string; hostArgs?: string[] } = {}): Promise<Target> {
    if (REMOTE_URL) {
        const admin = { user: process.env.E2E_ADMIN_USER ?? 'admin', password: process.env.E2E_ADMIN_PASSWORD ?? '' };
        return {
            url: REMOTE_URL.replace(/\/$/, ''),
            admin,
            stop: async () => undefined,
            restart: async () => {
                throw new Error('a real server is not restarted by the tests');
            },
        };
    }
    const args = [...(options.dataDir ? ['--data', options.dataDir] : ['--memory']), ...(options.hostArgs ?? [])];
    let host = await spawnHost<HostLine>(args);
    const target: Target = {
        url: host.line.url,
        admin: { user: host.line.adminUser, password: host.line.adminPassword },
        stop: () => host.stop(),
        restart: async () => {
            await host.stop();
            host = await spawnHost<HostLine>(args);
            target.url = host.line.url;
        },
    };
    return target;
}

/** An attachment of a file message, in Rocket.Chat's shape (docs/API.md, "The message"). */
export interface ReplyAttachment {
    title_link: string;
    [field: string]: unknown;
}

/**
 * A JSON answer, with the fields these tests read typed as docs/API.md gives them. They are there
 * on the answers the tests read them from (a created session, a chunk, the message); an error answer
 * has `error` instead.
 */
export interface ReplyBody {
    success: boolean;
    error?: string;
    uploadId: string;
    offset: number;
    size: number;
    chunkSizeBytes: number;
    complete: boolean;
    _id: string;
    file: { _id: string; name: string; type: string };
    attachments: ReplyAttachment[];
    [field: string]: unknown;
}

export interface Reply {
    status: number;
    body: ReplyBody;
    headers: Headers;
}

/** A message as `messages.history` answers it (Rocket.Chat's shape), with the fields these tests read. */
export interface HistoryMessage {
    _id: string;
    msg: string;
    file?: { _id: string; name: string; type: string };
    attachments?: ReplyAttachment[];
    [field: string]: unknown;
}

export async function callApp(
    target: Target,
    method: string,
    route: string,
    options: {
        token?: string;
        body?: unknown;
        raw?: string;
        query?: Record<string, string>;
        headers?: Record<string, string>;
        signal?: AbortSignal;
    } = {},
): Promise<Reply> {
    const query = options.query ? `?${new URLSearchParams(options.query)}` : '';
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (options.token !== undefined) {
        headers['x-visitor-token'] = options.token;
    }
    let body: string | undefined = options.raw;
    if (options.body !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(options.body);
    }
    const response = await fetch(`${target.url}/api/apps/public/${APP_ID}/${route}${query}`, { method, headers, body, signal: options.signal });
    const text = await response.text();
    let parsed: unknown = text;
    try {
        parsed = JSON.parse(text);
    } catch {
        // Not JSON (e.g. Express's own 413 page): kept as text.
    }
    // A body that is not JSON stays a string; the tests that get one look at the status only.
    return { status: response.status, body: parsed as ReplyBody, headers: response.headers };
}

export interface Visitor {
    token: string;
    rid: string;
}

/** Registers a visitor and opens their room through Rocket.Chat's livechat REST, as the widget does. */
export async function newVisitor(target: Target, name = 'E2E Visitor'): Promise<Visitor> {
    const token = `e2e-${randomBytes(12).toString('hex')}`;
    const registered = await fetch(`${target.url}/api/v1/livechat/visitor`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ visitor: { token, name } }),
    });
    if (!registered.ok) {
        throw new Error(`visitor registration failed: ${registered.status} ${await registered.text()}`);
    }
    const room = await (await fetch(`${target.url}/api/v1/livechat/room?token=${token}`)).json();
    if (!room.room?._id) {
        throw new Error(`no room for the visitor: ${JSON.stringify(room)}`);
    }
    return { token, rid: room.room._id };
}

export async function closeRoom(target: Target, visitor: Visitor): Promise<void> {
    await fetch(`${target.url}/api/v1/livechat/room.close`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ rid: visitor.rid, token: visitor.token }),
    });
}

/** The room's messages as the widget reads them, newest first. */
export async function history(target: Target, visitor: Visitor): Promise<HistoryMessage[]> {
    const response = await fetch(`${target.url}/api/v1/livechat/messages.history/${visitor.rid}?token=${visitor.token}&limit=50`);
    const body = await response.json();
    return body.messages;
}

/** Downloads a file as the visitor, the way Rocket.Chat accepts a visitor token on /file-upload. */
export async function download(target: Target, visitor: Visitor, titleLink: string): Promise<Buffer> {
    const query = new URLSearchParams({ rc_token: visitor.token, rc_rid: visitor.rid, rc_room_type: 'l' });
    const response = await fetch(`${target.url}${titleLink}?${query}`);
    if (!response.ok) {
        throw new Error(`download of ${titleLink} failed: ${response.status}`);
    }
    return Buffer.from(await response.arrayBuffer());
}

async function adminHeaders(target: Target): Promise<Record<string, string>> {
    const login = await (
        await fetch(`${target.url}/api/v1/login`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ user: target.admin.user, password: target.admin.password }),
        })
    ).json();
    return { 'x-auth-token': login.data.authToken, 'x-user-id': login.data.userId, 'content-type': 'application/json' };
}

/**
 * The app re-reads Rocket.Chat's settings after this long (`settingsTtlMs` in
 * lib/services/server-state.ts): no event tells an app that a server setting changed.
 */
const SERVER_SETTINGS_REREAD_MS = 2_000;

const probes = new WeakMap<Target, Promise<Visitor>>();

/** What `GET limits` answers a visitor kept for the purpose: every server setting the app uses shows there. */
async function limitsSeen(target: Target): Promise<string> {
    if (!probes.has(target)) {
        probes.set(target, newVisitor(target, 'Settings probe'));
    }
    const reply = await callApp(target, 'GET', 'limits', { token: (await probes.get(target)!).token });
    return JSON.stringify([reply.status, reply.body]);
}

/**
 * Changes a Rocket.Chat setting as an admin does (`POST /api/v1/settings/:id`), then waits until the
 * app answers according to it (it re-reads server settings every few seconds, as documented).
 */
export async function setServerSetting(target: Target, id: string, value: unknown): Promise<void> {
    const headers = await adminHeaders(target);
    const current = await (await fetch(`${target.url}/api/v1/settings/${id}`, { headers })).json();
    if (current.value === value) {
        return;
    }
    const before = await limitsSeen(target);
    const response = await fetch(`${target.url}/api/v1/settings/${id}`, { method: 'POST', headers, body: JSON.stringify({ value }) });
    if (!response.ok) {
        throw new Error(`setting ${id} failed: ${response.status} ${await response.text()}`);
    }
    const deadline = Date.now() + SERVER_SETTINGS_REREAD_MS + 3_000;
    while ((await limitsSeen(target)) === before) {
        if (Date.now() > deadline) {
            throw new Error(`the app did not apply ${id}=${JSON.stringify(value)} within ${SERVER_SETTINGS_REREAD_MS} ms`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
}

/** Changes one of the app's settings as the admin UI does: the whole setting object, new value. */
export async function setAppSetting(target: Target, id: string, value: unknown): Promise<void> {
    const headers = await adminHeaders(target);
    const current = await (await fetch(`${target.url}/api/apps/${APP_ID}/settings`, { headers })).json();
    const setting = current.settings[id];
    if (!setting) {
        throw new Error(`the app has no setting ${id}`);
    }
    const response = await fetch(`${target.url}/api/apps/${APP_ID}/settings`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ settings: [{ ...setting, value }] }),
    });
    if (!response.ok) {
        throw new Error(`app setting ${id} failed: ${response.status} ${await response.text()}`);
    }
}

export const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** Sends a file through the resumable path, chunk by chunk, and returns the last answer. */
export async function uploadResumable(
    target: Target,
    visitor: Visitor,
    file: { name: string; bytes: Buffer; type?: string; description?: string },
): Promise<Reply> {
    const created = await callApp(target, 'POST', 'uploads', {
        token: visitor.token,
        body: {
            rid: visitor.rid,
            name: file.name,
            size: file.bytes.length,
            type: file.type,
            sha256: sha256(file.bytes),
            description: file.description,
        },
    });
    if (created.status !== 201) {
        return created;
    }
    const { uploadId, chunkSizeBytes } = created.body;
    let last: Reply = created;
    for (let offset = 0; offset < file.bytes.length; offset += chunkSizeBytes) {
        const chunk = file.bytes.subarray(offset, offset + chunkSizeBytes);
        last = await callApp(target, 'PATCH', 'uploads', {
            token: visitor.token,
            body: { uploadId, offset, data: chunk.toString('base64'), sha256: sha256(chunk) },
        });
        if (last.status !== 200) {
            return last;
        }
    }
    return last;
}

export async function uploadSingle(
    target: Target,
    visitor: Visitor,
    file: { name: string; bytes: Buffer; type?: string; description?: string },
): Promise<Reply> {
    return callApp(target, 'POST', 'upload', {
        token: visitor.token,
        body: { rid: visitor.rid, file: { name: file.name, type: file.type, data: file.bytes.toString('base64') }, description: file.description },
    });
}

/** Installs a packaged app beside ours as an admin does (`POST /api/apps`, multipart field `app`). */
export async function installApp(target: Target, zipPath: string): Promise<string> {
    const form = new FormData();
    form.append('app', new Blob([readFileSync(zipPath)]), 'app.zip');
    const { 'content-type': _json, ...headers } = await adminHeaders(target);
    const response = await fetch(`${target.url}/api/apps`, { method: 'POST', headers, body: form });
    const body = await response.json();
    if (!response.ok || !body.app?.id) {
        throw new Error(`installing ${zipPath} failed: ${response.status} ${JSON.stringify(body)}`);
    }
    return body.app.id;
}

export async function removeApp(target: Target, appId: string): Promise<void> {
    await fetch(`${target.url}/api/apps/${appId}`, { method: 'DELETE', headers: await adminHeaders(target) });
}

/** One document of the app's log, as Rocket.Chat stores it (the engine's ILoggerStorageEntry). */
export interface AppLogEntry {
    appId: string;
    method: string;
    entries: Array<{ severity: string; method: string; caller: string; args: unknown[] }>;
    _createdAt: string;
}

/** The app's whole log, newest first, as an admin reads it (`GET /api/apps/:id/logs`, 100 a page). */
export async function appLogs(target: Target): Promise<AppLogEntry[]> {
    const headers = await adminHeaders(target);
    const logs: AppLogEntry[] = [];
    for (;;) {
        const response = await fetch(`${target.url}/api/apps/${APP_ID}/logs?offset=${logs.length}&count=100`, { headers });
        const page = await response.json();
        if (!response.ok) {
            throw new Error(`reading the app's log failed: ${response.status} ${JSON.stringify(page)}`);
        }
        logs.push(...page.logs);
        if (page.logs.length === 0 || logs.length >= page.total) {
            return logs;
        }
    }
}

/**
 * The kinds of the app's records stored for one upload (sessions with their state), read from the
 * database file of a local host started with `dataDir` as it is now. Local host only.
 */
export function storedKinds(dataDir: string, uploadId: string): string[] {
    const db = new Database(join(dataDir, 'host.sqlite'), { readonly: true, fileMustExist: true });
    try {
        const rows = db
            .prepare('SELECT p.data FROM persistence p JOIN persistence_assoc a ON a.record_id = p.id WHERE a.assoc = ?')
            .all(`misc:livechat-upload:upload:${uploadId}`) as Array<{ data: string }>;
        return rows
            .map((r) => JSON.parse(r.data))
            .map((data) => (data.kind === 'session' ? `session ${data.state}${data.posting ? ' posting' : ''}` : String(data.kind)))
            .sort();
    } finally {
        db.close();
    }
}

/** Runs `check` until it passes or `withinMs` is over (then throws its last failure). */
export async function eventually(check: () => void | Promise<void>, withinMs = 10_000): Promise<void> {
    const until = Date.now() + withinMs;
    for (;;) {
        try {
            return await check();
        } catch (e) {
            if (Date.now() > until) throw e;
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
    }
}
