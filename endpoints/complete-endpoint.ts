import type { IHttp, IModify, IPersistence, IRead } from '@rocket.chat/apps-engine/definition/accessors';
import type { IApiEndpointInfo, IApiRequest, IApiResponse } from '@rocket.chat/apps-engine/definition/api';

import { parseCompleteRequest } from '../lib/requests';
import { completeSession } from '../lib/services/uploads';
import { EndpointBase } from './endpoint-base';

/** `POST uploads/complete`: finishes a resumable upload explicitly; idempotent. */
export class CompleteUploadEndpoint extends EndpointBase {
    public path = 'uploads/complete';

    public post(request: IApiRequest, _e: IApiEndpointInfo, read: IRead, modify: IModify, _h: IHttp, persis: IPersistence): Promise<IApiResponse> {
        return this.handle(request, read, modify, persis, (req, ctx) => completeSession(ctx, parseCompleteRequest(req.content).uploadId));
    }
}
