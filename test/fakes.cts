/**
 * Small typed fakes of the accessors the app uses, built fresh per test. They behave like
 * Rocket.Chat where the app can see it: persistence matches records carrying all given
 * associations, upserts by association; the upload creator stores the bytes and posts the file
 * message as the visitor, in the engine's message shape. Readers answer `null` for a missing
 * room, visitor, message or record, as the runtime does (msgpack keeps no `undefined`).
 */
import type {
    IHttp,
    ILivechatRead,
    ILogger,
    IMessageBuilder,
    IMessageRead,
    IModify,
    IPersistence,
    IPersistenceRead,
    IRead,
    IRoomRead,
    IServerSettingRead,
    ISettingRead,
    IUploadCreator,
    IUploadRead,
    IUserRead,
} from '@rocket.chat/apps-engine/definition/accessors';
import type { IApiRequest } from '@rocket.chat/apps-engine/definition/api';
import type { IApp } from '@rocket.chat/apps-engine/definition/IApp';
import type { ILivechatRoom, IVisitor } from '@rocket.chat/apps-engine/definition/livechat';
import type { IMessage, IMessageAttachment, IMessageFile, IMessageRaw } from '@rocket.chat/apps-engine/definition/messages';
import type { RocketChatAssociationRecord } from '@rocket.chat/apps-engine/definition/metadata';
import type { RoomType } from '@rocket.chat/apps-engine/definition/rooms';
import type { IUpload } from '@rocket.chat/apps-engine/definition/uploads';
import type { IUser, IUserLookup } from '@rocket.chat/apps-engine/definition/users';

import { type CoordinationTiming, ServerState } from '../lib/services/server-state';

/**
 * An engine method as the runtime answers it: `null` where the engine's type says `undefined` or
 * nothing found (msgpack keeps no `undefined`).
 */
type AsRuntime<F> = F extends (...args: infer A) => Promise<infer R> ? (...args: A) => Promise<R | null> : F;

/** The methods `K` of the engine interface `T`: the part of it the app calls, which a fake implements. */
type Part<T, K extends keyof T> = { [P in K]: AsRuntime<T[P]> };

/** The readers the app uses, each with the methods it calls, typed as the engine declares them. */
export interface FakeRead {
    getPersistenceReader(): Part<IPersistenceRead, 'read' | 'readByAssociation' | 'readByAssociations'>;
    getEnvironmentReader(): { getSettings(): Part<ISettingRead, 'getValueById'>; getServerSettings(): Part<IServerSettingRead, 'getValueById'> };
    getLivechatReader(): Part<ILivechatRead, 'getLivechatVisitorByToken'>;
    getRoomReader(): Part<IRoomRead, 'getById' | 'getMessages'>;
    getMessageReader(): Part<IMessageRead, 'getById'>;
    getUploadReader(): Part<IUploadRead, 'getById'>;
    getUserReader(): Part<IUserRead, 'getAppUser'>;
}

export interface FakeModify {
    getCreator(): { getUploadCreator(): Part<IUploadCreator, 'uploadBuffer'> };
    getUpdater(): {
        message(messageId: string, updater: IUser): Promise<IMessageBuilder>;
        finish(builder: object): Promise<void>;
    };
}

export type FakePersistence = Part<
    IPersistence,
    | 'create'
    | 'createWithAssociation'
    | 'createWithAssociations'
    | 'updateByAssociation'
    | 'updateByAssociations'
    | 'removeByAssociation'
    | 'removeByAssociations'
>;

export interface FakeAccessors {
    read: FakeRead;
    modify: FakeModify;
    persis: FakePersistence;
}

/**
 * The fakes as the engine's full interfaces, which the app's endpoints take. The one place where
 * that is asserted: the fakes implement the methods the app calls (typed above), nothing more, and a
 * call to any other method fails the test with a TypeError.
 */
export function asEngineAccessors(fakes: FakeAccessors): { read: IRead; modify: IModify; persis: IPersistence; http: IHttp } {
    return {
        read: fakes.read as unknown as IRead,
        modify: fakes.modify as unknown as IModify,
        persis: fakes.persis as unknown as IPersistence,
        http: {} as IHttp,
    };
}

/**
 * A record of an engine type with only the fields given: what the runtime sends that the app reads.
 * The fields given are checked against the type; the ones left out are not there at run time either.
 */
function partial<T>(fields: Partial<T>): T {
    return fields as T;
}

/** A message as the engine hands it to apps, plus what Rocket.Chat's converter adds for a visitor. */
export interface FakeMessage extends IMessageRaw {
    file: IMessageFile;
    attachments: IMessageAttachment[];
    token: string;
    _unmappedProperties_: { files: Array<{ _id: string; name: string }> };
}

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
    messages: FakeMessage[];
    files: StoredFile[];
    records: PersistedRecord[];
    logs: FakeLogEntry[];
    /** Ids of the settings read, in order: each read is a round trip through the runtime. */
    settingReads: string[];
    /** Every other bridge call the app made, in order (`persistence.readByAssociation`, `room.getById`, …). */
    bridgeCalls: string[];
    /** The most uploadBuffer calls that were running at the same moment. */
    peakConcurrentUploads: number;
    /** Makes the next uploadBuffer throw, as a scanning app's IPreFileUpload would. */
    rejectUploads?: string;
    /**
     * Makes the room's message read fail once after the next upload posted its message: the app's
     * request fails after the file is in the room, as when a server dies or a call times out there.
     */
    failAfterUpload?: string;
    /**
     * Makes uploads store the file and post no message, as Rocket.Chat's does when the room closed or
     * livechat was turned off between its store and its post (`sendFileLivechatMessage` returns false).
     */
    storeWithoutPosting?: boolean;
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
export const FAST_TIMING: CoordinationTiming = { waitLimitMs: 2_000, pollMs: 10, claimRenewMs: 50, claimStaleMs: 300, settingsTtlMs: 0 };

/** Another server of the same cluster: its own locks and cache, the same persistence and rooms. */
export function createServer(timing: CoordinationTiming = FAST_TIMING, now?: () => number): ServerState {
    return new ServerState(timing, now);
}

let counter = 0;
/** uploadBuffer calls running now, across every accessor set of the test (one runtime). */
let running = 0;
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
        bridgeCalls: [],
        peakConcurrentUploads: 0,
        uploadCalls: 0,
        server: undefined as unknown as ServerState,
        clockOffsetMs: 0,
    };
    world.server = createServer(FAST_TIMING, () => Date.now() + world.clockOffsetMs);
    return world;
}

const keyOf = (association: RocketChatAssociationRecord): string => `${association.getModel()}:${association.getID()}`;

function matches(record: PersistedRecord, keys: string[]): boolean {
    return keys.every((k) => record.keys.includes(k));
}

function roomOf(world: FakeWorld, id: string): ILivechatRoom | null {
    const room = world.rooms.find((r) => r.id === id);
    if (!room) {
        return null;
    }
    const visitor = world.visitors.find((v) => v.token === room.visitorToken) ?? partial<IVisitor>({ token: room.visitorToken });
    return partial<ILivechatRoom>({ id: room.id, type: room.type as RoomType, isOpen: room.isOpen || undefined, visitor });
}

export function createAccessors(world: FakeWorld): FakeAccessors {
    let failNextMessageRead = false;
    const note = (call: string): void => void world.bridgeCalls.push(call);
    /** The message each builder the updater handed out edits. */
    const drafts = new WeakMap<object, FakeMessage>();
    const persistenceReader: ReturnType<FakeRead['getPersistenceReader']> = {
        read: async (id: string) => (note('persistence.read'), world.records.find((r) => r.id === id)?.data ?? null),
        readByAssociation: async (a) => (
            note('persistence.readByAssociation'),
            world.records.filter((r) => matches(r, [keyOf(a)])).map((r) => structuredClone(r.data))
        ),
        readByAssociations: async (as) => (
            note('persistence.readByAssociations'),
            world.records.filter((r) => matches(r, as.map(keyOf))).map((r) => structuredClone(r.data))
        ),
    };
    const persis: FakePersistence = {
        create: async (data) => (note('persistence.create'), add(world, data, [])),
        createWithAssociation: async (data, a) => (note('persistence.createWithAssociation'), add(world, data, [keyOf(a)])),
        createWithAssociations: async (data, as) => (note('persistence.createWithAssociations'), add(world, data, as.map(keyOf))),
        updateByAssociation: async (a, data, upsert) => (note('persistence.updateByAssociation'), upsertRecord(world, [keyOf(a)], data, upsert)),
        updateByAssociations: async (as, data, upsert) => (
            note('persistence.updateByAssociations'),
            upsertRecord(world, as.map(keyOf), data, upsert)
        ),
        removeByAssociation: async (a) => (note('persistence.removeByAssociation'), removeRecords(world, [keyOf(a)])),
        removeByAssociations: async (as) => (note('persistence.removeByAssociations'), removeRecords(world, as.map(keyOf))),
    };
    const read: FakeRead = {
        getPersistenceReader: () => persistenceReader,
        getEnvironmentReader: () => ({
            getSettings: () => ({
                getValueById: async (id) => {
                    world.settingReads.push(id);
                    return world.appSettings[id];
                },
            }),
            getServerSettings: () => ({
                getValueById: async (id) => {
                    world.settingReads.push(id);
                    if (!(id in world.serverSettings)) {
                        throw new Error(`no setting ${id}`);
                    }
                    return world.serverSettings[id];
                },
            }),
        }),
        getLivechatReader: () => ({
            getLivechatVisitorByToken: async (token) => (
                note('livechat.getLivechatVisitorByToken'),
                world.visitors.find((v) => v.token === token) ?? null
            ),
        }),
        getRoomReader: () => ({
            getById: async (id) => (note('room.getById'), roomOf(world, id)),
            getMessages: async (rid, options = {}) => {
                note('room.getMessages');
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
            getById: async (id) => {
                const m = world.messages.find((x) => x.id === id);
                // The fake keeps the sender as IMessageRaw names it ({ _id, username, name }), which is what
                // the app reads (toCoreMessage); IMessage's type would have a full IUser there.
                return m ? ({ ...structuredClone(m), room: roomOf(world, m.roomId) } as unknown as IMessage) : null;
            },
        }),
        getUploadReader: () => ({
            getById: async (id) => {
                const file = world.files.find((f) => f.id === id);
                return file ? partial<IUpload>({ id: file.id, name: file.name, size: String(file.bytes.length) }) : null;
            },
        }),
        getUserReader: () => ({
            getAppUser: async () => partial<IUser>({ id: 'app-user', username: 'livechat-upload.bot', name: 'Livechat Upload' }),
        }),
    };
    const modify: FakeModify = {
        getCreator: () => ({
            getUploadCreator: () => ({
                uploadBuffer: async (bytes, descriptor) => {
                    note('upload.uploadBuffer');
                    world.uploadCalls += 1;
                    running += 1;
                    world.peakConcurrentUploads = Math.max(world.peakConcurrentUploads, running);
                    if (world.uploadDelayMs) {
                        await new Promise((resolve) => setTimeout(resolve, world.uploadDelayMs));
                    }
                    running -= 1;
                    if (world.rejectUploads) {
                        throw new Error(world.rejectUploads);
                    }
                    const visitor = world.visitors.find((v) => v.token === descriptor.visitorToken)!;
                    const room = descriptor.room as ILivechatRoom;
                    const file = { id: nextId('file'), name: descriptor.filename, rid: room.id, bytes: Buffer.from(bytes) };
                    world.files.push(file);
                    if (world.storeWithoutPosting) {
                        return partial<IUpload>({ id: file.id, name: file.name, size: String(bytes.length) });
                    }
                    world.messages.push({
                        id: nextId('msg'),
                        roomId: file.rid,
                        sender: { _id: visitor.id, username: visitor.username, name: visitor.name },
                        createdAt: new Date(),
                        updatedAt: new Date(),
                        text: '',
                        file: { _id: file.id, name: file.name, type: 'application/octet-stream' },
                        ...(visitor.name && { alias: visitor.name }),
                        token: visitor.token,
                        attachments: [
                            { title: { value: file.name, link: `/file-upload/${file.id}/${file.name}`, displayDownloadLink: true }, type: 'file' },
                        ],
                        _unmappedProperties_: { files: [{ _id: file.id, name: file.name }] },
                    });
                    failNextMessageRead = world.failAfterUpload !== undefined;
                    return partial<IUpload>({ id: file.id, name: file.name, size: String(bytes.length) });
                },
            }),
        }),
        getUpdater: () => ({
            message: async (id) => {
                const draft = structuredClone(world.messages.find((m) => m.id === id)!);
                const builder: IMessageBuilder = partial<IMessageBuilder>({
                    getAttachments: () => draft.attachments,
                    setAttachments: (attachments) => {
                        draft.attachments = attachments;
                        return builder;
                    },
                    setEditor: (user) => {
                        draft.editor = toLookup(user);
                        return builder;
                    },
                });
                drafts.set(builder, draft);
                return builder;
            },
            finish: async (builder) => {
                const draft = drafts.get(builder);
                if (!draft) {
                    throw new Error('finish() got a builder the updater did not hand out');
                }
                draft.editedAt = new Date();
                world.messages[world.messages.findIndex((m) => m.id === draft.id)] = draft;
            },
        }),
    };
    return { read, modify, persis };
}

/** A user as messages name their sender or editor. */
function toLookup(user: IUser): IUserLookup {
    return { _id: user.id, username: user.username, name: user.name };
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

/**
 * Rocket.Chat's `updateByAssociations`: the first record whose list of associations equals `keys`
 * exactly, in order (a MongoDB equality on the array), gets the data; none, and with `upsert` a
 * record is inserted, else nothing happens (docs/ROCKETCHAT.md, "App persistence and concurrency").
 */
function upsertRecord(world: FakeWorld, keys: string[], data: object, upsert?: boolean): string {
    const found = world.records.find((r) => r.keys.length === keys.length && r.keys.every((k, i) => k === keys[i]));
    if (found) {
        found.data = asStored(data);
        return found.id;
    }
    return upsert ? add(world, data, keys) : '';
}

function removeRecords(world: FakeWorld, keys: string[]): object[] {
    const removed = world.records.filter((r) => matches(r, keys));
    world.records = world.records.filter((r) => !matches(r, keys));
    return removed.map((r) => r.data);
}

/** The app as an endpoint sees it: its logger and its id. */
export function createApp(world: FakeWorld): IApp {
    const log =
        (level: string) =>
        (...items: unknown[]) =>
            world.logs.push({ level, items });
    const logger = partial<ILogger>({
        debug: log('debug'),
        info: log('info'),
        warn: log('warn'),
        error: log('error'),
        success: log('success'),
        log: log('log'),
    });
    return partial<IApp>({ getLogger: () => logger, getID: () => 'app-id' });
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
