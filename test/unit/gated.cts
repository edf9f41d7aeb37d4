/**
 * The fakes of test/fakes.cts with every bridge call of one request routed through
 * a controller that can hold a call (before it runs, or after it ran and before the app sees the
 * result), fail it, or make every later call of the request fail ("the server died"). Each request
 * gets its own controller, so a test decides the exact interleaving of two requests' calls.
 */
import { CompleteUploadEndpoint } from '../../endpoints/complete-endpoint';
import { UploadSessionsEndpoint } from '../../endpoints/uploads-endpoint';
import { randomBytes } from 'crypto';

import { CHUNK_SIZE_BYTES } from '../../lib/requests';
import { type ServerState } from '../../lib/services/server-state';
import { APP_SETTING_IDS } from '../../lib/settings';
import { createAccessors, createWorld, type FakeAccessors, type FakeWorld } from '../fakes.cjs';
import { call, chunkOf, type EndpointAnswer, type EndpointClass, type Method, resumable, sha } from './api.cjs';

interface Deferred {
    promise: Promise<void>;
    resolve(): void;
}

function deferred(): Deferred {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    return { promise, resolve };
}

export interface Hook {
    /** Resolves when the call was reached (before) or has run (after). */
    reached: Promise<void>;
    /** Lets the held call go on. */
    release(): void;
}

interface HookEntry {
    name: string;
    phase: 'before' | 'after';
    match: (args: unknown[]) => boolean;
    reached: Deferred;
    release: Deferred;
    fail?: Error;
    fired: boolean;
}

/** The association ids (without the model) of a call's arguments, for matching. */
export const idsOf = (arg: unknown): string[] =>
    (Array.isArray(arg) ? arg : [arg])
        .filter((a) => a && typeof (a as { getID?: unknown }).getID === 'function')
        .map((a) => (a as { getID(): string }).getID());

export class Controller {
    private readonly hooks: HookEntry[] = [];
    /** Every later bridge call of this request fails: its server died. */
    public dead = false;

    /** Holds the first call `name` whose arguments match, before it runs or after it ran. */
    public hold(name: string, match: (args: unknown[]) => boolean, phase: 'before' | 'after' = 'before'): Hook {
        const entry: HookEntry = { name, phase, match, reached: deferred(), release: deferred(), fired: false };
        this.hooks.push(entry);
        return { reached: entry.reached.promise, release: () => entry.release.resolve() };
    }

    /** Signals (without holding) when the first matching call has run. */
    public watch(name: string, match: (args: unknown[]) => boolean): Promise<void> {
        const hook = this.hold(name, match, 'after');
        hook.release();
        return hook.reached;
    }

    /** Makes the first matching call fail before it runs. */
    public fail(name: string, match: (args: unknown[]) => boolean, error = new Error(`${name} failed`)): void {
        const entry: HookEntry = { name, phase: 'before', match, reached: deferred(), release: deferred(), fail: error, fired: false };
        entry.release.resolve();
        this.hooks.push(entry);
    }

    public async around<T>(name: string, args: unknown[], run: () => Promise<T>): Promise<T> {
        await this.at(name, args, 'before');
        if (this.dead) {
            throw new Error(`${name}: the server died`);
        }
        const result = await run();
        await this.at(name, args, 'after');
        return result;
    }

    private async at(name: string, args: unknown[], phase: 'before' | 'after'): Promise<void> {
        for (const entry of this.hooks) {
            if (!entry.fired && entry.name === name && entry.phase === phase && entry.match(args)) {
                entry.fired = true;
                entry.reached.resolve();
                await entry.release.promise;
                if (entry.fail) {
                    throw entry.fail;
                }
            }
        }
    }
}

/** The fakes of one request, each bridge call going through `ctl`. */
export function gatedAccessors(world: FakeWorld, ctl: Controller): FakeAccessors {
    const fakes = createAccessors(world);
    const wrap = <T extends object>(prefix: string, target: T): T =>
        new Proxy(target, {
            get(obj, prop) {
                const value = (obj as Record<string | symbol, unknown>)[prop];
                if (typeof value !== 'function') return value;
                return (...args: unknown[]) =>
                    ctl.around(`${prefix}.${String(prop)}`, args, () => (value as (...a: unknown[]) => Promise<unknown>).apply(obj, args));
            },
        });
    const reader = wrap('reader', fakes.read.getPersistenceReader());
    const roomReader = wrap('room', fakes.read.getRoomReader());
    const uploadCreator = wrap('upload', fakes.modify.getCreator().getUploadCreator());
    return {
        read: { ...fakes.read, getPersistenceReader: () => reader, getRoomReader: () => roomReader },
        modify: { ...fakes.modify, getCreator: () => ({ getUploadCreator: () => uploadCreator }) },
        persis: wrap('persis', fakes.persis),
    };
}

/** Calls a route with the fakes of one request routed through `ctl`. */
function gatedCall(
    world: FakeWorld,
    Endpoint: EndpointClass,
    method: Method,
    content: unknown,
    options: { server: ServerState; ctl: Controller },
): Promise<EndpointAnswer> {
    return call(world, Endpoint, method, content, { token: 'token-A', server: options.server, accessors: gatedAccessors(world, options.ctl) });
}

export const gated = {
    send: (w: FakeWorld, uploadId: string, bytes: Buffer, index: number, server: ServerState, ctl: Controller) =>
        gatedCall(
            w,
            UploadSessionsEndpoint,
            'patch',
            { uploadId, offset: index * CHUNK_SIZE_BYTES, data: bytes.toString('base64'), sha256: sha(bytes) },
            { server, ctl },
        ),
    complete: (w: FakeWorld, uploadId: string, server: ServerState, ctl: Controller) =>
        gatedCall(w, CompleteUploadEndpoint, 'post', { uploadId }, { server, ctl }),
};

/** Matchers for the calls the store makes. */
export const calls = {
    /** `readSlot(id, index)`: the read of one chunk slot (its marks and the end mark). */
    readSlot: (id: string, index: number) => (args: unknown[]) => idsOf(args[0]).includes(`livechat-upload:mark:${id}:${index}`),
    /** An insert of a record of `kind` (session, chunk, mark, end, claim…), optionally with a field check. */
    insert:
        (kind: string, check: (data: Record<string, unknown>) => boolean = () => true) =>
        (args: unknown[]) =>
            (args[0] as Record<string, unknown>).kind === kind && check(args[0] as Record<string, unknown>),
    /** The renewal's look at its own claim (`renewClaim`): the only read by `claim:<id>`. */
    claimLook: () => (args: unknown[]) => idsOf(args[0]).some((id) => id.startsWith('livechat-upload:claim:')),
    claimRemoval: () => (args: unknown[]) => idsOf(args[0]).some((id) => id.startsWith('livechat-upload:claim:')),
};

/** A world whose files go through as sent (no content check, no metadata removal): these tests are about bookkeeping. */
export function plainWorld(): FakeWorld {
    const w = createWorld();
    w.appSettings[APP_SETTING_IDS.contentCheck] = 'off';
    w.appSettings[APP_SETTING_IDS.stripMetadata] = false;
    return w;
}

/** Random bytes for `chunks` chunks, the last one `last` bytes long. */
export const fileOf = (chunks: number, last = 1_000): Buffer => randomBytes(CHUNK_SIZE_BYTES * (chunks - 1) + last);

/**
 * Chunk `index` sent late to `server` (one that held the upload as open), once every server is idle
 * afterwards: what it was answered, and how many chunk records the store still holds.
 */
export async function lateChunk(
    w: FakeWorld,
    uploadId: string,
    file: Buffer,
    index: number,
    server: ServerState,
): Promise<{ status: number; error: unknown; complete: unknown; _id: unknown; chunksLeft: number }> {
    await w.server.whenIdle();
    const answer = await resumable.send(w, uploadId, chunkOf(file, index), index, { token: 'token-A', server });
    await server.whenIdle();
    const chunksLeft = w.records.filter((r) => r.data.kind === 'chunk').length;
    return { status: answer.status, error: answer.content.error, complete: answer.content.complete, _id: answer.content._id, chunksLeft };
}
