import type { IHttp, IModify, IPersistence, IRead } from '@rocket.chat/apps-engine/definition/accessors';
import type { IApiEndpointInfo, IApiRequest, IApiResponse } from '@rocket.chat/apps-engine/definition/api';

import { describeLimits } from '../lib/services/uploads';
import { UploadEndpoint } from './endpoint-base';

/** `GET limits`: the effective size limit, chunk size and type lists, before a file is picked. */
export class LimitsEndpoint extends UploadEndpoint {
    public path = 'limits';

    public get(request: IApiRequest, _e: IApiEndpointInfo, read: IRead, modify: IModify, _h: IHttp, persis: IPersistence): Promise<IApiResponse> {
        return this.handle(request, read, modify, persis, (_request, ctx) => describeLimits(ctx));
    }
}
