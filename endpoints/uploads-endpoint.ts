import type { IHttp, IModify, IPersistence, IRead } from '@rocket.chat/apps-engine/definition/accessors';
import type { IApiEndpointInfo, IApiRequest, IApiResponse } from '@rocket.chat/apps-engine/definition/api';

import { parseChunkRequest, parseCreateSessionRequest, parseUploadIdQuery, readIdempotencyKey } from '../lib/requests';
import { abortSession, acceptChunk, createSession, readStatus } from '../lib/services/uploads';
import { EndpointBase } from './endpoint-base';

/** `uploads`: the resumable upload — create (POST, optionally with an `Idempotency-Key`), status (GET), chunk (PATCH), abort (DELETE). */
export class UploadSessionsEndpoint extends EndpointBase {
    public path = 'uploads';

    public post(request: IApiRequest, _e: IApiEndpointInfo, read: IRead, modify: IModify, _h: IHttp, persis: IPersistence): Promise<IApiResponse> {
        return this.handle(request, read, modify, persis, (req, ctx) =>
            createSession(ctx, parseCreateSessionRequest(req.content), readIdempotencyKey(req.headers)),
        );
    }

    public get(request: IApiRequest, _e: IApiEndpointInfo, read: IRead, modify: IModify, _h: IHttp, persis: IPersistence): Promise<IApiResponse> {
        return this.handle(request, read, modify, persis, (req, ctx) => readStatus(ctx, parseUploadIdQuery(req.query).uploadId));
    }

    public patch(request: IApiRequest, _e: IApiEndpointInfo, read: IRead, modify: IModify, _h: IHttp, persis: IPersistence): Promise<IApiResponse> {
        return this.handle(request, read, modify, persis, (req, ctx) => acceptChunk(ctx, parseChunkRequest(req.content)));
    }

    public delete(request: IApiRequest, _e: IApiEndpointInfo, read: IRead, modify: IModify, _h: IHttp, persis: IPersistence): Promise<IApiResponse> {
        return this.handle(request, read, modify, persis, (req, ctx) => abortSession(ctx, parseUploadIdQuery(req.query).uploadId));
    }
}
