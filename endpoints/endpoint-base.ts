import type { IHttp, IModify, IPersistence, IRead } from '@rocket.chat/apps-engine/definition/accessors';
import { ApiEndpoint } from '@rocket.chat/apps-engine/definition/api';
import type { IApiEndpointInfo, IApiRequest, IApiResponse } from '@rocket.chat/apps-engine/definition/api';
import type { IApp } from '@rocket.chat/apps-engine/definition/IApp';

import { type Answer, answerError, asUploadError } from '../lib/errors';
import { buildCorsHeaders } from '../lib/cors';
import { readVisitorToken, summarizeRequestForLog } from '../lib/requests';
import { readEffectiveConfig, readGateConfig } from '../lib/services/config-service';
import type { EffectiveConfig } from '../lib/config';
import type { ServerState } from '../lib/services/server-state';
import type { UploadContext } from '../lib/services/uploads';

export type Handler = (request: IApiRequest, ctx: UploadContext) => Promise<Answer>;

/**
 * What every route shares, in core's order: the visitor token (403), upload enabled (400), then
 * the route's own work; every answer gets CORS headers; an `UploadError` becomes its coded
 * answer, anything else a generic 500 whose detail goes to the app log only.
 */
export abstract class EndpointBase extends ApiEndpoint {
    /** `state`: this server's locks and session cache, one per app process (`ServerState`). */
    constructor(
        app: IApp,
        protected readonly state: ServerState,
    ) {
        super(app);
    }

    protected async handle(request: IApiRequest, read: IRead, modify: IModify, persis: IPersistence, handler: Handler): Promise<IApiResponse> {
        // Work a handler leaves for after its answer starts once the answer is on its way, whatever it is.
        const later: Array<() => Promise<void>> = [];
        try {
            return await this.answer(request, read, modify, persis, handler, later);
        } finally {
            if (later.length > 0) {
                const logger = this.app.getLogger();
                const onError = (e: unknown): void =>
                    logger.error('work after the answer failed', { error: e instanceof Error ? e.message : String(e) });
                later.forEach((work) => this.state.afterAnswer(work, onError));
            }
        }
    }

    private async answer(
        request: IApiRequest,
        read: IRead,
        modify: IModify,
        persis: IPersistence,
        handler: Handler,
        later: Array<() => Promise<void>>,
    ): Promise<IApiResponse> {
        const logger = this.app.getLogger();
        const gate = await readGateConfig(read, this.state.settings);
        gate.problems.forEach((problem) => logger.error('setting ignored', problem));
        const cors = buildCorsHeaders(headerOf(request, 'origin'), gate.corsOrigins);
        const reply = (answer: Answer): IApiResponse => ({
            status: answer.status,
            headers: { ...cors, ...answer.headers, 'content-type': 'application/json' },
            content: answer.content,
        });
        try {
            const visitorToken = readVisitorToken(request.headers);
            if (visitorToken === undefined) {
                return reply(answerError('unauthorized'));
            }
            if (!gate.enabled) {
                return reply(answerError('error-file-upload-disabled'));
            }
            let config: Promise<EffectiveConfig> | undefined;
            const loadConfig = (): Promise<EffectiveConfig> =>
                (config ??= readEffectiveConfig(read, gate.values, this.state.settings).then((resolved) => {
                    resolved.problems.filter((p) => !gate.problems.includes(p)).forEach((problem) => logger.error('setting ignored', problem));
                    return resolved.config;
                }));
            const ctx: UploadContext = {
                read,
                modify,
                persis,
                logger,
                state: this.state,
                config: loadConfig,
                visitorToken,
                nowMs: this.state.now(),
                afterAnswer: (work) => void later.push(work),
            };
            return reply(await handler(request, ctx));
        } catch (e) {
            const known = asUploadError(e);
            if (known) {
                logger.info('upload refused', { route: this.path, code: known.code, ...summarizeRequestForLog(request.content), ...known.details });
                return reply(answerError(known.code, known.details));
            }
            logger.error('upload failed', {
                route: this.path,
                ...summarizeRequestForLog(request.content),
                error: e instanceof Error ? e.message : String(e),
            });
            return reply(answerError('error-server'));
        }
    }

    public get(request: IApiRequest, _e: IApiEndpointInfo, read: IRead, modify: IModify, _h: IHttp, persis: IPersistence): Promise<IApiResponse> {
        return this.notAllowed(request, read, modify, persis);
    }

    public post(request: IApiRequest, _e: IApiEndpointInfo, read: IRead, modify: IModify, _h: IHttp, persis: IPersistence): Promise<IApiResponse> {
        return this.notAllowed(request, read, modify, persis);
    }

    public put(request: IApiRequest, _e: IApiEndpointInfo, read: IRead, modify: IModify, _h: IHttp, persis: IPersistence): Promise<IApiResponse> {
        return this.notAllowed(request, read, modify, persis);
    }

    public patch(request: IApiRequest, _e: IApiEndpointInfo, read: IRead, modify: IModify, _h: IHttp, persis: IPersistence): Promise<IApiResponse> {
        return this.notAllowed(request, read, modify, persis);
    }

    public delete(request: IApiRequest, _e: IApiEndpointInfo, read: IRead, modify: IModify, _h: IHttp, persis: IPersistence): Promise<IApiResponse> {
        return this.notAllowed(request, read, modify, persis);
    }

    public head(request: IApiRequest, _e: IApiEndpointInfo, read: IRead, modify: IModify, _h: IHttp, persis: IPersistence): Promise<IApiResponse> {
        return this.notAllowed(request, read, modify, persis);
    }

    /** Methods a route does not override answer 405 with a code, not the runtime's 500. */
    private notAllowed(request: IApiRequest, read: IRead, modify: IModify, persis: IPersistence): Promise<IApiResponse> {
        return this.handle(request, read, modify, persis, async () => answerError('error-method-not-allowed'));
    }

    /** The CORS preflight: no token needed, nothing read but the allowed origins. */
    public async options(request: IApiRequest, _endpoint: IApiEndpointInfo, read: IRead): Promise<IApiResponse> {
        const { corsOrigins } = await readGateConfig(read, this.state.settings);
        return { status: 204, headers: buildCorsHeaders(headerOf(request, 'origin'), corsOrigins) };
    }
}

function headerOf(request: IApiRequest, name: string): string | undefined {
    const value = request.headers ? request.headers[name] : undefined;
    return typeof value === 'string' ? value : undefined;
}
