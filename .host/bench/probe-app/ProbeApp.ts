import { randomBytes } from 'crypto';

import type {
    IAppAccessors,
    IConfigurationExtend,
    IEnvironmentRead,
    IHttp,
    ILogger,
    IModify,
    IPersistence,
    IRead,
} from '@rocket.chat/apps-engine/definition/accessors';
import {
    ApiEndpoint,
    ApiSecurity,
    ApiVisibility,
    type IApiEndpointInfo,
    type IApiRequest,
    type IApiResponse,
} from '@rocket.chat/apps-engine/definition/api';
import { App } from '@rocket.chat/apps-engine/definition/App';
import { type IAppInfo, RocketChatAssociationModel, RocketChatAssociationRecord } from '@rocket.chat/apps-engine/definition/metadata';

// In the source tree a re-export of lib/cheap-json-buffer.ts; the bench builds the probe with that file itself.
import { withCheapToJson } from './cheap-json-buffer';

/**
 * `POST probe {rid, visitorToken, sizeBytes, cheapToJson?}`: allocates random bytes, times one
 * `uploadBuffer` of them (passed through the app's `withCheapToJson` when asked, as the app does).
 */
class ProbeEndpoint extends ApiEndpoint {
    public path = 'probe';

    public async post(request: IApiRequest, _e: IApiEndpointInfo, read: IRead, modify: IModify, _h: IHttp, _p: IPersistence): Promise<IApiResponse> {
        const { rid, visitorToken, sizeBytes, cheapToJson } = request.content as {
            rid: string;
            visitorToken: string;
            sizeBytes: number;
            cheapToJson?: boolean;
        };
        const room = await read.getRoomReader().getById(rid);
        if (!room) {
            return { status: 404, content: { error: 'no room' } };
        }
        const bytes = randomBytes(sizeBytes);
        const started = Date.now();
        const upload = await modify
            .getCreator()
            .getUploadCreator()
            .uploadBuffer(cheapToJson ? withCheapToJson(bytes) : bytes, { filename: 'probe.bin', room, visitorToken });
        return { status: 200, content: { uploadMs: Date.now() - started, uploadId: upload?.id, size: upload?.size } };
    }
}

/**
 * `GET`, `POST`, `PATCH noop`: answers at once without reading anything, so a call costs only what the
 * server and the runtime spend on any request with that body: the floor of every app route.
 */
class NoopEndpoint extends ApiEndpoint {
    public path = 'noop';

    public async get(): Promise<IApiResponse> {
        return { status: 200, content: { success: true } };
    }

    public async patch(): Promise<IApiResponse> {
        return { status: 200, content: { success: true } };
    }

    public async post(): Promise<IApiResponse> {
        return { status: 200, content: { success: true } };
    }
}

const key = (...parts: Array<string | number>): RocketChatAssociationRecord =>
    new RocketChatAssociationRecord(RocketChatAssociationModel.MISC, ['bench', ...parts].join(':'));

/**
 * `POST readback {chunks, chunkBytes}`: stores chunk records as the app's SessionStore does (base64,
 * inserted with three associations), then times reading them back one by one (as completion does)
 * and all in one call.
 */
class ReadbackEndpoint extends ApiEndpoint {
    public path = 'readback';

    public async post(request: IApiRequest, _e: IApiEndpointInfo, read: IRead, _m: IModify, _h: IHttp, persis: IPersistence): Promise<IApiResponse> {
        const { chunks, chunkBytes } = request.content as { chunks: number; chunkBytes: number };
        const id = randomBytes(8).toString('hex');
        const reader = read.getPersistenceReader();
        let started = Date.now();
        for (let index = 0; index < chunks; index += 1) {
            const data = randomBytes(chunkBytes).toString('base64');
            await persis.createWithAssociations({ index, data }, [key('chunk', id, index), key('chunks', id), key('upload', id)]);
        }
        const writeMs = Date.now() - started;
        started = Date.now();
        const parts: Buffer[] = [];
        for (let index = 0; index < chunks; index += 1) {
            const [record] = (await reader.readByAssociation(key('chunk', id, index))) as Array<{ data: string }>;
            parts.push(Buffer.from(record.data, 'base64'));
        }
        const oneByOneBytes = Buffer.concat(parts).length;
        const oneByOneMs = Date.now() - started;
        started = Date.now();
        const all = (await reader.readByAssociation(key('chunks', id))) as Array<{ data: string }>;
        const allAtOnceBytes = Buffer.concat(all.map((r) => Buffer.from(r.data, 'base64'))).length;
        const allAtOnceMs = Date.now() - started;
        await persis.removeByAssociation(key('upload', id));
        return { status: 200, content: { writeMs, oneByOneMs, oneByOneBytes, allAtOnceMs, allAtOnceBytes } };
    }
}

/**
 * `PATCH store?steps=bytes,mark,slot&chunkSizeBytes=N` with a chunk body: stores the chunk's base64
 * data as the app's SessionStore does, one step per bridge call named in `steps` — `bytes` (the
 * data, inserted under its slot and hash), `mark` (the small mark record), `slot` (the slot's marks
 * read back) — and answers like a middle chunk. What storing a chunk costs at least, whatever the app
 * decides. The slot is `offset / chunkSizeBytes`: the bench passes the app's `limits.chunkSizeBytes`,
 * so the slots stay the app's if its chunk size changes; without it the answer is a 400.
 */
class StoreEndpoint extends ApiEndpoint {
    public path = 'store';

    public async patch(request: IApiRequest, _e: IApiEndpointInfo, read: IRead, _m: IModify, _h: IHttp, persis: IPersistence): Promise<IApiResponse> {
        const { uploadId, offset, data, sha256 } = request.content as { uploadId: string; offset: number; data: string; sha256?: string };
        const steps = String(request.query?.steps ?? 'bytes').split(',');
        const chunkSizeBytes = Number(request.query?.chunkSizeBytes);
        if (!Number.isInteger(chunkSizeBytes) || chunkSizeBytes <= 0) {
            return { status: 400, content: { error: 'chunkSizeBytes (a positive integer) is required in the query' } };
        }
        const index = Math.floor(offset / chunkSizeBytes);
        const hash = sha256 ?? 'last';
        if (steps.includes('bytes')) {
            await persis.createWithAssociations({ kind: 'chunk', index, sha256: hash, data }, [
                key('chunk', uploadId, index, hash),
                key('chunk', uploadId, index),
                key('chunks', uploadId),
                key('upload', uploadId),
            ]);
        }
        if (steps.includes('mark')) {
            await persis.createWithAssociations({ kind: 'mark', index, length: data.length, sha256: hash }, [
                key('mark', uploadId, index, hash),
                key('mark', uploadId, index),
                key('marks', uploadId),
                key('upload', uploadId),
            ]);
        }
        if (steps.includes('slot')) {
            await read.getPersistenceReader().readByAssociation(key('mark', uploadId, index));
        }
        // Buffer.byteLength counts base64 from its length and padding, without decoding.
        return { status: 200, content: { success: true, uploadId, offset: offset + Buffer.byteLength(data, 'base64'), chunkSizeBytes } };
    }
}

export class ProbeApp extends App {
    constructor(info: IAppInfo, logger: ILogger, accessors: IAppAccessors) {
        super(info, logger, accessors);
    }

    protected async extendConfiguration(configuration: IConfigurationExtend, _environment: IEnvironmentRead): Promise<void> {
        await configuration.api.provideApi({
            visibility: ApiVisibility.PUBLIC,
            security: ApiSecurity.UNSECURE,
            endpoints: [new ProbeEndpoint(this), new ReadbackEndpoint(this), new NoopEndpoint(this), new StoreEndpoint(this)],
        });
    }
}
