// App HTTP endpoints, as apps/meteor/app/apps/server/bridges/{router,api}.ts: one Express router per app
// under /api/apps/public/:appId and /api/apps/private/:appId/:hash, body parsing ONLY
// urlencoded({extended:false}) + json() with their default 100 KB limit, every method passed (router.all).
import express, { type IRouter, type Request, type Response } from 'express';
import { ApiBridge } from '@rocket.chat/apps-engine/server/bridges/ApiBridge';
import type { AppApi } from '@rocket.chat/apps-engine/server/managers/AppApi';
import type { IApiRequest } from '@rocket.chat/apps-engine/definition/api';
import type { RequestMethod } from '@rocket.chat/apps-engine/definition/accessors';
import type { HostContext } from '../context';

export type Authenticate = (req: Request) => Record<string, unknown> | undefined;

export class HostApiBridge extends ApiBridge {
    readonly appRouters = new Map<string, IRouter>();
    readonly server = express.Router();

    constructor(
        private readonly ctx: HostContext,
        private readonly authenticate: Authenticate,
    ) {
        super();
        this.server.use('/api/apps/private/:appId/:hash', express.urlencoded({ extended: false }), express.json());
        this.server.use('/api/apps/public/:appId', express.urlencoded({ extended: false }), express.json());
        this.server.use('/api/apps/private/:appId/:hash', (req: Request & { _privateHash?: string }, res: Response) => {
            const router = this.appRouters.get(req.params.appId);
            if (!router) return void res.sendStatus(404);
            req._privateHash = req.params.hash;
            router(req, res, () => res.sendStatus(404));
        });
        this.server.use('/api/apps/public/:appId', (req: Request, res: Response) => {
            const router = this.appRouters.get(req.params.appId);
            if (!router) return void res.sendStatus(404);
            router(req, res, () => res.sendStatus(404));
        });
    }

    /** Paths the app registered, for the start-up banner and the ready check. */
    registeredPaths(appId: string): string[] {
        return (this.appRouters.get(appId)?.stack ?? []).map((l: { route?: { path: string } }) => l.route?.path ?? '').filter(Boolean);
    }

    protected async registerApi({ endpoint }: AppApi, appId: string): Promise<void> {
        if (typeof endpoint.path !== 'string') throw new Error('Invalid Api parameter provided, it must be a valid IApi object.');
        let router = this.appRouters.get(appId);
        if (!router) {
            router = express.Router();
            this.appRouters.set(appId, router);
        }
        let routePath = endpoint.path.trim();
        if (!routePath.startsWith('/')) routePath = `/${routePath}`;
        router.all(routePath, (req: Request & { _privateHash?: string; user?: unknown }, res: Response) => {
            // authenticationMiddleware({ rejectUnauthorized: !!endpoint.authRequired })
            const user = this.authenticate(req);
            if (endpoint.authRequired && !user)
                return void res.status(401).json({
                    status: 'error',
                    message: 'You must be logged in to do this.',
                });
            this.execute(appId, endpoint.path, req, user, res);
        });
    }

    private async execute(
        appId: string,
        path: string,
        req: Request & { _privateHash?: string },
        user: Record<string, unknown> | undefined,
        res: Response,
    ): Promise<void> {
        const request: IApiRequest = {
            method: req.method.toLowerCase() as RequestMethod,
            headers: req.headers as Record<string, string>,
            query: (req.query as Record<string, string>) || {},
            params: req.params || {},
            content: req.body,
            privateHash: req._privateHash,
            user: user && ((await this.ctx.conv.user(user as never)) as never),
        };
        try {
            const { status, headers = {}, content } = await this.ctx.manager!.getApiManager().executeApi(appId, path, request);
            res.set(headers);
            res.status(status);
            res.send(content);
        } catch (reason) {
            res.status(500).send((reason as Error)?.message);
        }
    }

    protected async unregisterApis(appId: string): Promise<void> {
        this.appRouters.delete(appId);
    }
}
