// Rocket.Chat's REST for deploying and administering: what `rc-apps deploy` and an admin call
// (apps/meteor/app/api/server/v1/{misc,settings}.ts, apps/meteor/ee/server/apps/communication/rest.ts).
import express, { type Request, type Response, type Router } from 'express';
import { timingSafeEqual } from 'node:crypto';
import type { AppManager } from '@rocket.chat/apps-engine/server/AppManager';
import { AppStatus } from '@rocket.chat/apps-engine/definition/AppStatus';
import type { HostContext } from '../context';
import type { ServerSettings } from '../bridges/settings';
import { randomId, type Doc } from '../store';
import { answerUnauthorized, authenticate, hash, publicUser, requireAdmin } from './auth';
import { parseMultipart } from './multipart';

// `rc-apps deploy` sends compiled zips only to servers whose version satisfies >=3.8 (semver.coerce), so
// the host reports a Rocket.Chat version: the one whose app-route body parsing it reproduces (7.6+).
export const HOST_VERSION = '7.6.0-local-host';

/** Rocket.Chat's answer for an app id it does not know (apps/meteor/ee/server/apps/communication/rest.ts). */
function answerNoApp(req: Request, res: Response): void {
    res.status(404).json({ success: false, error: `No App found by the id of: ${req.params.id}` });
}

/** `GET /api/info`, login, `me`, server settings, and the apps REST (install, update, remove, app settings, app log). */
export function createDeployAndAdminRouter(ctx: HostContext, settings: ServerSettings, manager: AppManager): Router {
    const r = express.Router();
    const json = express.json();

    r.get(
        '/api/info',
        (_req, res) =>
            void res.json({
                version: HOST_VERSION,
                appsEngineVersion: '1.62.0',
                success: true,
            }),
    );

    r.post('/api/v1/login', json, (req, res) => {
        const { user, username, password } = req.body ?? {};
        const name = username ?? user;
        const doc = ctx.store.findOne('users', (u: Doc) => u.username === name && u.type === 'user');
        const stored = (doc?.services as { password?: { sha256?: string } } | undefined)?.password?.sha256;
        const given = typeof password === 'string' ? hash(password) : typeof password?.digest === 'string' ? undefined : undefined;
        if (!doc || !stored || !given || !timingSafeEqual(Buffer.from(stored), Buffer.from(given))) {
            return void res.status(401).json({
                status: 'error',
                error: 'Unauthorized',
                message: 'Unauthorized',
            });
        }
        const authToken = randomId(43);
        ctx.store.put('loginTokens', {
            _id: hash(authToken),
            userId: doc._id,
            when: new Date(),
        });
        res.json({
            status: 'success',
            data: { userId: doc._id, authToken, me: publicUser(doc) },
        });
    });

    r.get('/api/v1/me', (req, res) => {
        const user = authenticate(ctx, req);
        if (!user) return answerUnauthorized(res);
        res.json({ ...publicUser(user), success: true });
    });

    r.post('/api/v1/settings/:id', json, (req, res) => {
        if (!requireAdmin(ctx, req, res)) return;
        if (!req.body || !('value' in req.body)) return void res.status(400).json({ success: false, error: 'Match error' });
        try {
            if (!settings.set(req.params.id, req.body.value))
                return void res.status(400).json({
                    success: false,
                    error: `Setting ${req.params.id} not found`,
                });
        } catch (e) {
            return void res.status(400).json({ success: false, error: (e as Error).message });
        }
        res.json({ success: true });
    });

    r.get('/api/v1/settings/:id', (req, res) => {
        if (!requireAdmin(ctx, req, res)) return;
        const value = settings.get(req.params.id);
        if (value === undefined) return void res.status(404).json({ success: false, error: 'not found' });
        res.json({ _id: req.params.id, value, success: true });
    });

    const appInfo = async (id: string) => {
        const app = manager.getOneById(id);
        if (!app) return undefined;
        const info = app.getInfo();
        return {
            ...info,
            status: await app.getStatus(),
            languages: [],
            private: true,
            installationSource: 'private',
        };
    };

    r.get('/api/apps/:id', async (req, res) => {
        if (!requireAdmin(ctx, req, res)) return;
        const app = await appInfo(req.params.id);
        if (!app) return void answerNoApp(req, res);
        res.json({ app, success: true });
    });

    const readForm = (req: Request): Promise<Map<string, { filename?: string; data: Buffer }>> =>
        new Promise((resolve, reject) => {
            const chunks: Buffer[] = [];
            req.on('data', (c: Buffer) => chunks.push(c));
            req.on('end', () => resolve(parseMultipart(Buffer.concat(chunks), req.header('content-type') ?? '')));
            req.on('error', reject);
        });
    const permissionsOf = (form: Map<string, { data: Buffer }>): unknown[] | undefined => {
        try {
            const p = JSON.parse(form.get('permissions')?.data.toString('utf8') || '');
            return p.length ? p : undefined;
        } catch {
            return undefined;
        }
    };

    // POST /api/apps (install: add disabled, then enable) and POST /api/apps/:id (update), as Rocket.Chat's apps REST
    const install = async (req: Request, res: Response, update: boolean) => {
        const user = requireAdmin(ctx, req, res);
        if (!user) return;
        const form = await readForm(req);
        const zip = form.get('app')?.data;
        if (!zip) {
            return void res.status(400).json(
                update
                    ? {
                          success: false,
                          error: 'Failed to get a file to install for the App. ',
                      }
                    : {
                          success: false,
                          error: 'app_file_error',
                          message: 'Failed to get a file to install for the App. ',
                      },
            );
        }
        const appUser = (await ctx.conv.user(user)) as never;
        const permissionsGranted = permissionsOf(form) as never;
        try {
            const aff = update
                ? await manager.update(zip, permissionsGranted, {
                      loadApp: true,
                      user: appUser,
                  } as never)
                : await manager.add(zip, {
                      enable: false,
                      permissionsGranted,
                      user: appUser,
                  });
            const info: Record<string, unknown> = { ...aff.getAppInfo() };
            if (aff.hasStorageError())
                return void res.status(400).json({
                    success: false,
                    ...(!update && { error: 'app_storage_error' }),
                    status: 'storage_error',
                    messages: [aff.getStorageError()],
                });
            if (aff.hasAppUserError()) {
                const e = aff.getAppUserError() as {
                    message?: string;
                    username?: string;
                };
                return void res.status(400).json({
                    success: false,
                    ...(!update && { error: 'app_user_error' }),
                    status: 'app_user_error',
                    messages: [e.message],
                    payload: { username: e.username },
                });
            }
            info.status = await aff.getApp().getStatus();
            if (!update) {
                try {
                    info.status = await (await manager.changeStatus(info.id as string, AppStatus.MANUALLY_ENABLED)).getStatus();
                } catch (e) {
                    ctx.log(`app installed but could not be enabled: ${(e as Error).message}`);
                }
            }
            res.json({
                app: info,
                implemented: aff.getImplementedInferfaces(),
                licenseValidation: aff.getLicenseValidationResult(),
                success: true,
            });
        } catch (e) {
            res.status(400).json({ success: false, error: (e as Error).message });
        }
    };
    r.post('/api/apps', (req, res) => void install(req, res, false));
    r.post('/api/apps/:id', (req, res) => void install(req, res, true));

    r.delete('/api/apps/:id', async (req, res) => {
        const user = requireAdmin(ctx, req, res);
        if (!user) return;
        const prl = manager.getOneById(req.params.id);
        if (!prl) return void answerNoApp(req, res);
        const info: Record<string, unknown> = { ...prl.getInfo() };
        try {
            await manager.remove(prl.getID(), {
                user: (await ctx.conv.user(user)) as never,
            });
            info.status = AppStatus.DISABLED;
        } catch {
            info.status = await prl.getStatus();
            return void res.status(400).json({ app: info, success: false });
        }
        res.json({ app: info, success: true });
    });

    r.get('/api/apps/:id/settings', (req, res) => {
        if (!requireAdmin(ctx, req, res)) return;
        const app = manager.getOneById(req.params.id);
        if (!app) return void answerNoApp(req, res);
        const all = { ...app.getStorageItem().settings };
        for (const k of Object.keys(all)) if (all[k].hidden) delete all[k];
        res.json({ settings: all, success: true });
    });

    r.post('/api/apps/:id/settings', json, async (req, res) => {
        if (!requireAdmin(ctx, req, res)) return;
        const app = manager.getOneById(req.params.id);
        if (!app) return void answerNoApp(req, res);
        if (!req.body?.settings)
            return void res.status(400).json({
                success: false,
                error: 'The settings to update must be present.',
            });
        // as Rocket.Chat: each posted setting whose value differs is stored AS POSTED (its admin UI posts whole
        // setting objects; a bare {id, value} replaces the stored setting's other fields, there as here)
        const current = app.getStorageItem().settings;
        const updated = [];
        for (const s of req.body.settings as Array<{
            id: string;
            value: unknown;
        }>) {
            if (current[s.id] && current[s.id].value !== s.value) {
                await manager.getSettingsManager().updateAppSetting(req.params.id, s as never);
                updated.push(s);
            }
        }
        res.json({ updated, success: true });
    });

    // The app's log as an admin reads it (ee/server/apps/communication/endpoints/appLogsHandler.ts, permission
    // manage-apps): what the engine stored through logStorage.storeEntries, newest first, paginated like
    // getPaginationItems (count defaults to 50 and is capped at 100, the API_Default_Count / API_Upper_Count_Limit defaults).
    r.get('/api/apps/:id/logs', async (req, res) => {
        if (!requireAdmin(ctx, req, res)) return;
        if (!manager.getOneById(req.params.id)) return void answerNoApp(req, res);
        const offset = Number.parseInt(String(req.query.offset ?? 0), 10) || 0;
        const count = Math.min(Number.parseInt(String(req.query.count ?? 50), 10) || 50, 100);
        const { logs, total } = await manager.getLogStorage().findPaginated({ appId: req.params.id }, { skip: offset, limit: count });
        res.json({ offset, logs, count: logs.length, total, success: true });
    });

    return r;
}
