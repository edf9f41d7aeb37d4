// Rocket.Chat-shaped REST around the app: what `rc-apps deploy`, an admin, a livechat widget and the
// end-to-end tests call, one router per concern. Paths and answer shapes follow Rocket.Chat.
// CORS: none. App routes never get CORS headers from Rocket.Chat (the app answers its own preflights).
import express, { type Router } from 'express';
import type { AppManager } from '@rocket.chat/apps-engine/server/AppManager';
import type { HostContext } from '../context';
import type { Chat } from '../chat';
import type { ServerSettings } from '../bridges/settings';
import { createDeployAndAdminRouter } from './deploy-admin';
import { createFilesRouter } from './files';
import { createLivechatRouter } from './livechat';

export { authenticate, createAdmin } from './auth';

export interface RestDeps {
    ctx: HostContext;
    chat: Chat;
    settings: ServerSettings;
    manager: AppManager;
}

export function createRestRouter({ ctx, chat, settings, manager }: RestDeps): Router {
    const r = express.Router();
    r.use(createDeployAndAdminRouter(ctx, settings, manager));
    r.use(createLivechatRouter(ctx, chat));
    r.use(createFilesRouter(ctx, settings));
    return r;
}
