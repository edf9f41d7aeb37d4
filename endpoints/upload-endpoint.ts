import type { IHttp, IModify, IPersistence, IRead } from '@rocket.chat/apps-engine/definition/accessors';
import type { IApiEndpointInfo, IApiRequest, IApiResponse } from '@rocket.chat/apps-engine/definition/api';

import { parseSingleUploadRequest, readIdempotencyKey } from '../lib/requests';
import { uploadSingle } from '../lib/services/uploads';
import { UploadEndpoint } from './endpoint-base';

/** `POST upload`: a small file in one JSON request, optionally with an `Idempotency-Key`; answers the posted message. */
export class UploadFileEndpoint extends UploadEndpoint {
    public path = 'upload';

    public post(request: IApiRequest, _e: IApiEndpointInfo, read: IRead, modify: IModify, _h: IHttp, persis: IPersistence): Promise<IApiResponse> {
        return this.handle(request, read, modify, persis, (req, ctx) =>
            uploadSingle(ctx, parseSingleUploadRequest(req.content), readIdempotencyKey(req.headers)),
        );
    }
}
