/**
 * Small typed fakes of the accessors the app uses, built fresh per test. They behave like
 * Rocket.Chat where the app can see it: persistence matches records carrying all given
 * associations, upserts by association; the upload creator stores the bytes and posts the file
 * message as the visitor, in the engine's message shape. Readers answer `null` for a missing
 * room, visitor, message or record, as the runtime does (msgpack keeps no `undefined`).
 */
import type { IApiRequest } from '@rocket.chat/apps-engine/definition/api';

import { type CoordinationTiming, ServerState } from '../lib/services/server-state';

export interface StoredFile {
    id: string;
    name: string;
    rid: string;
    bytes: Buffer;
}

interface PersistedRecord {
    id: string;
    data: Record<string, unknown>;
    keys: string[];
}

export interface FakeLogEntry {
    level: string;
    items: unknown[];
}

export interface FakeWorld {
    visitors: Array<{ id: string; token: string; username: string; name: string }>;
    rooms: Array<{ id: string; type: string; isOpen: boolean; visitorToken: string }>;
    appSettings: Record<string, unknown>;
    serverSettings: Record<string, unknown>;
    messages: Array<Record<string, any>>;
    files: StoredFile[];
    records: PersistedRecord[];
    logs: FakeLogEntry[];
    /** Ids of the settings read, in order: each read is a round trip through the runtime. */
    settingReads: string[];
    /** Makes the next uploadBuffer throw, as a scanning app's IPreFileUpload would. */
    rejectUploads?: string;
    /**
     * Makes the room's message read fail once after the next upload posted its message: the app's
     * request fails after the file is in the room, as when a server dies or a call times out there.
     */
    failAfterUpload?: string;
    /** Milliseconds each uploadBuffer takes, so that other requests interleave with it. */
    uploadDelayMs?: number;
    /** Upload calls made (including rejected ones). */
    uploadCalls: number;
    /** The app process of the one server most tests talk to; `createServer` makes more. */
    server: ServerState;
    /** Added to the servers' clock: a test moves time on without waiting. */
    clockOffsetMs: number;
}

/** Waits short enough for unit tests, in the same proportions as the app's defaults. */
export const FAST_TIMING: CoordinationTiming = { waitLimitMs: 2_000, pollMs: 10, claimRenewMs: 50, claimStaleMs: 300 };

/** Another server of the same cluster: its own locks and cache, the same persistence and rooms. */
export function createServer(timing: CoordinationTiming = FAST_TIMING, now?: () => number): ServerState {
    return new ServerState(timing, now);
}

let counter = 0;
const nextId = (prefix: string): string => `${prefix}${(counter += 1).toString().padStart(6, '0')}`;

export function createWorld(): FakeWorld {
    const world: FakeWorld = {
        visitors: [{ id: 'visitor1', token: 'token-A', username: 'guest-1', name: 'Ada Visitor' }],
        rooms: [
            { id: 'roomA', type: 'l', isOpen: true, visitorToken: 'token-A' },
            { id: 'roomClosed', type: 'l', isOpen: false, visitorToken: 'token-A' },
            { id: 'roomB', type: 'l', isOpen: true, visitorToken: 'token-B' },
        ],
        appSettings: {},
        serverSettings: {
            FileUpload_Enabled: true,
            FileUpload_MaxFileSize: 104857600,
            FileUpload_MediaTypeWhiteList: '',
            FileUpload_MediaTypeBlackList: 'image/svg+xml',
            Livechat_fileupload_enabled: true,
        },
        messages: [],
        files: [],
        records: [],
        logs: [],
        settingReads: [],
        uploadCalls: 0,
        server: undefined as unknown as ServerState,
        clockOffsetMs: 0,
    };
    world.server = createServer(FAST_TIMING, () => Date.now() + world.clockOffsetMs);
    return world;
}

const keyOf = (association: any): string => `${association.getModel()}:${association.getID()}`;

function matches(record: PersistedRecord, keys: string[]): boolean {
    return keys.every((k) => record.keys.includes(k));
}

function roomOf(world: FakeWorld, id: string): any {
    const room = world.rooms.find((r) => r.id === id);
    if (!room) {
        return null;
    }
    const visitor = world.visitors.find((v) => v.token === room.visitorToken) ?? { token: room.visitorToken };
    return { id: room.id, type: room.type, isOpen: room.isOpen || undefined, visitor };
}

export function createAccessors(world: FakeWorld): { read: any; modify: any; persis: any; http: any } {
    let failNextMessageRead = false;
    const persistenceReader = {
        read: async (id: string) => world.records.find((r) => r.id === id)?.data ?? null,
        readByAssociation: async (a: any) => world.records.filter((r) => matches(r, [keyOf(a)])).map((r) => structuredClone(r.data)),
        readByAssociations: async (as: any[]) => world.records.filter((r) => matches(r, as.map(keyOf))).map((r) => structuredClone(r.data)),
    };
    const persis = {
        create: async (data: object) => add(world, data, []),
        createWithAssociation: async (data: object, a: any) => add(world, data, [keyOf(a)]),
        createWithAssociations: async (data: object, as: any[]) => add(world, data, as.map(keyOf)),
        updateByAssociation: async (a: any, data: object, upsert?: boolean) => upsertRecord(world, [keyOf(a)], data, upsert),
        updateByAssociations: async (as: any[], data: object, upsert?: boolean) => upsertRecord(world, as.map(keyOf), data, upsert),
        removeByAssociation: async (a: any) => removeRecords(world, [keyOf(a)]),
        removeByAssociations: async (as: any[]) => removeRecords(world, as.map(keyOf)),
    };
    const read = {
        getPersistenceReader: () => persistenceReader,
        getEnvironmentReader: () => ({
            getSettings: () => ({
                getValueById: async (id: string) => {
                    world.settingReads.push(id);
                    return world.appSettings[id];
                },
            }),
            getServerSettings: () => ({
                getValueById: async (id: string) => {
                    world.settingReads.push(id);
                    if (!(id in world.serverSettings)) {
                        throw new Error(`no setting ${id}`);
                    }
                    return world.serverSettings[id];
                },
            }),
        }),
        getLivechatReader: () => ({
            getLivechatVisitorByToken: async (token: string) => world.visitors.find((v) => v.token === token) ?? null,
        }),
        getRoomReader: () => ({
            getById: async (id: string) => roomOf(world, id),
            getMessages: async (rid: string, options: { limit?: number }) => {
                if (failNextMessageRead) {
                    failNextMessageRead = false;
                    throw new Error(world.failAfterUpload);
                }
                return world.messages
                    .filter((m) => m.roomId === rid)
                    .slice()
                    .reverse()
                    .slice(0, options.limit ?? 100)
                    .map((m) => structuredClone(m));
            },
        }),
        getMessageReader: () => ({
            getById: async (id: string) => {
                const m = world.messages.find((x) => x.id === id);
                return m ? { ...structuredClone(m), room: roomOf(world, m.roomId) } : null;
            },
        }),
        getUploadReader: () => ({
            getById: async (id: string) => {
                const file = world.files.find((f) => f.id === id);
                return file ? { id: file.id, name: file.name, size: String(file.bytes.length) } : null;
            },
        }),
        getUserReader: () => ({ getAppUser: async () => ({ id: 'app-user', username: 'livechat-upload.bot', name: 'Livechat Upload' }) }),
    };
    const modify = {
        getCreator: () => ({
            getUploadCreator: () => ({
                uploadBuffer: async (bytes: Buffer, descriptor: { filename: string; room: any; visitorToken: string }) => {
                    world.uploadCalls += 1;
                    if (world.uploadDelayMs) {
                        await new Promise((resolve) => setTimeout(resolve, world.uploadDelayMs));
                    }
                    if (world.rejectUploads) {
                        throw new Error(world.rejectUploads);
                    }
                    const visitor = world.visitors.find((v) => v.token === descriptor.visitorToken)!;
                    const file = { id: nextId('file'), name: descriptor.filename, rid: descriptor.room.id, bytes: Buffer.from(bytes) };
                    world.files.push(file);
                    world.messages.push({
                        id: nextId('msg'),
                        roomId: file.rid,
                        sender: { _id: visitor.id, username: visitor.username, name: visitor.name },
                        createdAt: new Date(),
                        updatedAt: new Date(),
                        text: '',
                        file: { _id: file.id, name: file.name, type: 'application/octet-stream' },
                        groupable: false,
                        token: visitor.token,
                        attachments: [
                            { title: { value: file.name, link: `/file-upload/${file.id}/${file.name}`, displayDownloadLink: true }, type: 'file' },
                        ],
                        _unmappedProperties_: { files: [{ _id: file.id, name: file.name }] },
                    });
                    failNextMessageRead = world.failAfterUpload !== undefined;
                    return { id: file.id, name: file.name, size: bytes.length };
                },
            }),
        }),
        getUpdater: () => ({
            message: async (id: string, editor: any) => {
                const message = structuredClone(world.messages.find((m) => m.id === id)!);
                return {
                    getAttachments: () => message.attachments,
                    setAttachments: (a: unknown[]) => (message.attachments = a),
                    setEditor: (u: any) => (message.editor = u),
                    getMessage: () => message,
                    _editor: editor,
                };
            },
            finish: async (builder: any) => {
                const message = builder.getMessage();
                message.editedAt = new Date();
                const index = world.messages.findIndex((m) => m.id === message.id);
                world.messages[index] = message;
            },
        }),
    };
    return { read, modify, persis, http: {} };
}

/** As the runtime's msgpack and the database store it: an unset field comes back as null. */
function asStored(data: object): Record<string, unknown> {
    return JSON.parse(JSON.stringify(data, (_key, value) => (value === undefined ? null : value)));
}

function add(world: FakeWorld, data: object, keys: string[]): string {
    const id = nextId('rec');
    world.records.push({ id, data: asStored(data), keys });
    return id;
}

function upsertRecord(world: FakeWorld, keys: string[], data: object, upsert?: boolean): string {
    const found = world.records.find((r) => matches(r, keys));
    if (found) {
        found.data = asStored(data);
        return found.id;
    }
    if (!upsert) {
        throw new Error('no record to update');
    }
    return add(world, data, keys);
}

function removeRecords(world: FakeWorld, keys: string[]): object[] {
    const removed = world.records.filter((r) => matches(r, keys));
    world.records = world.records.filter((r) => !matches(r, keys));
    return removed.map((r) => r.data);
}

export function createApp(world: FakeWorld): any {
    const log =
        (level: string) =>
        (...items: unknown[]) =>
            world.logs.push({ level, items });
    const logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), success: log('success'), log: log('log') };
    return { getLogger: () => logger, getID: () => 'app-id' };
}

export function request(
    content: unknown,
    options: { token?: string; query?: Record<string, string>; origin?: string; headers?: Record<string, string> } = {},
): IApiRequest {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
    if (options.token !== undefined) {
        headers['x-visitor-token'] = options.token;
    }
    if (options.origin !== undefined) {
        headers.origin = options.origin;
    }
    return { headers, query: options.query ?? {}, params: {}, content, privateHash: undefined } as unknown as IApiRequest;
}
