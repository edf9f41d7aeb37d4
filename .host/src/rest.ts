// Rocket.Chat-shaped REST around the app: what `rc-apps deploy`, an admin, a livechat widget and the
// end-to-end tests call. Paths and answer shapes follow Rocket.Chat (apps/meteor/app/api/server/v1/*,
// apps/meteor/app/livechat/server/api/v1/*, apps/meteor/ee/server/apps/communication/rest.ts).
// CORS: none. Rocket.Chat's API_Enable_CORS is off by default and its livechat widget runs same-origin in
// an iframe; app routes never get CORS headers from Rocket.Chat (the app answers its own preflights).
import express, { type Request, type Response, type Router } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AppManager } from '@rocket.chat/apps-engine/server/AppManager';
import { AppStatus } from '@rocket.chat/apps-engine/definition/AppStatus';
import type { HostContext } from './context';
import type { Chat, RoomDoc } from './chat';
import type { ServerSettings } from './bridges/settings';
import type { UploadDoc } from './bridges/uploads';
import { randomId, type Doc } from './store';

// `rc-apps deploy` sends compiled zips only to servers whose version satisfies >=3.8 (semver.coerce), so
// the host reports a Rocket.Chat version: the one whose app-route body parsing it reproduces (7.6+).
export const HOST_VERSION = '7.6.0-local-host';

const hash = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Parses one multipart/form-data body (what `rc-apps deploy` sends): fields and files by name. */
export function parseMultipart(body: Buffer, contentType: string): Map<string, { filename?: string; data: Buffer }> {
    const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
    const parts = new Map<string, { filename?: string; data: Buffer }>();
    if (!m) return parts;
    const boundary = Buffer.from(`--${m[1] ?? m[2]}`);
    let pos = body.indexOf(boundary);
    while (pos !== -1) {
        const start = pos + boundary.length;
        if (body.subarray(start, start + 2).toString() === '--') break;
        const headerEnd = body.indexOf('\r\n\r\n', start);
        const next = body.indexOf(boundary, headerEnd);
        if (headerEnd === -1 || next === -1) break;
        const headers = body.subarray(start + 2, headerEnd).toString('utf8');
        const name = /name="([^"]*)"/i.exec(headers)?.[1];
        const filename = /filename="([^"]*)"/i.exec(headers)?.[1];
        if (name) parts.set(name, { filename, data: body.subarray(headerEnd + 4, next - 2) });
        pos = next;
    }
    return parts;
}

export interface RestDeps {
    ctx: HostContext;
    chat: Chat;
    settings: ServerSettings;
    manager: AppManager;
    adminUser: string;
    adminPassword: string;
}

export function createAdmin(ctx: HostContext, username: string, password: string): Doc {
    const existing = ctx.store.findOne('users', (u: Doc) => u.username === username);
    const now = new Date();
    const doc = {
        _id: existing?._id ?? randomId(),
        username,
        name: 'Administrator',
        type: 'user',
        active: true,
        roles: ['admin', 'user'],
        status: 'online',
        emails: [{ address: `${username}@localhost`, verified: true }],
        createdAt: existing?.createdAt ?? now,
        _updatedAt: now,
        services: { password: { sha256: hash(password) } },
    };
    return ctx.store.put('users', doc);
}

/** Rocket.Chat's REST authentication: X-User-Id + X-Auth-Token headers. */
export function authenticate(ctx: HostContext, req: Request): Doc | undefined {
    const userId = req.header('x-user-id');
    const token = req.header('x-auth-token');
    if (!userId || !token) return undefined;
    const login = ctx.store.get('loginTokens', hash(token));
    return login && login.userId === userId ? ctx.store.get('users', userId) : undefined;
}

const isAdmin = (u: Doc | undefined): boolean => Array.isArray(u?.roles) && (u!.roles as string[]).includes('admin');
const publicUser = (u: Doc): Doc => {
    const { services: _s, ...rest } = u;
    return rest as Doc;
};

export function createRestRouter(deps: RestDeps): Router {
    const { ctx, chat, settings, manager } = deps;
    const r = express.Router();
    const json = express.json();
    const unauthorized = (res: Response): void => void res.status(401).json({ status: 'error', message: 'You must be logged in to do this.' });
    const forbidden = (res: Response): void =>
        void res.status(403).json({ success: false, error: 'User does not have the permissions required for this action [error-unauthorized]' });
    const admin = (req: Request, res: Response): Doc | undefined => {
        const user = authenticate(ctx, req);
        if (!user) return void unauthorized(res);
        if (!isAdmin(user)) return void forbidden(res);
        return user;
    };

    // ---- server info, login ------------------------------------------------------------------
    r.get('/api/info', (_req, res) => void res.json({ version: HOST_VERSION, appsEngineVersion: '1.62.0', success: true }));

    r.post('/api/v1/login', json, (req, res) => {
        const { user, username, password } = req.body ?? {};
        const name = username ?? user;
        const doc = ctx.store.findOne('users', (u: Doc) => u.username === name && u.type === 'user');
        const stored = (doc?.services as { password?: { sha256?: string } } | undefined)?.password?.sha256;
        const given = typeof password === 'string' ? hash(password) : typeof password?.digest === 'string' ? undefined : undefined;
        if (!doc || !stored || !given || !timingSafeEqual(Buffer.from(stored), Buffer.from(given))) {
            return void res.status(401).json({ status: 'error', error: 'Unauthorized', message: 'Unauthorized' });
        }
        const authToken = randomId(43);
        ctx.store.put('loginTokens', { _id: hash(authToken), userId: doc._id, when: new Date() });
        res.json({ status: 'success', data: { userId: doc._id, authToken, me: publicUser(doc) } });
    });

    r.get('/api/v1/me', (req, res) => {
        const user = authenticate(ctx, req);
        if (!user) return unauthorized(res);
        res.json({ ...publicUser(user), success: true });
    });

    r.post('/api/v1/settings/:id', json, (req, res) => {
        if (!admin(req, res)) return;
        if (!req.body || !('value' in req.body)) return void res.status(400).json({ success: false, error: 'Match error' });
        try {
            if (!settings.set(req.params.id, req.body.value))
                return void res.status(400).json({ success: false, error: `Setting ${req.params.id} not found` });
        } catch (e) {
            return void res.status(400).json({ success: false, error: (e as Error).message });
        }
        res.json({ success: true });
    });

    r.get('/api/v1/settings/:id', (req, res) => {
        if (!admin(req, res)) return;
        const value = settings.get(req.params.id);
        if (value === undefined) return void res.status(404).json({ success: false, error: 'not found' });
        res.json({ _id: req.params.id, value, success: true });
    });

    // ---- apps (deploy, settings) ------------------------------------------------------------
    const appInfo = async (id: string) => {
        const app = manager.getOneById(id);
        if (!app) return undefined;
        const info = app.getInfo();
        return { ...info, status: await app.getStatus(), languages: [], private: true, installationSource: 'private' };
    };

    r.get('/api/apps/:id', async (req, res) => {
        if (!admin(req, res)) return;
        const app = await appInfo(req.params.id);
        if (!app) return void res.status(404).json({ success: false, error: `No App found by the id of: ${req.params.id}` });
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
        const user = admin(req, res);
        if (!user) return;
        const form = await readForm(req);
        const zip = form.get('app')?.data;
        if (!zip) {
            return void res
                .status(400)
                .json(
                    update
                        ? { success: false, error: 'Failed to get a file to install for the App. ' }
                        : { success: false, error: 'app_file_error', message: 'Failed to get a file to install for the App. ' },
                );
        }
        const appUser = (await ctx.conv.user(user)) as never;
        const permissionsGranted = permissionsOf(form) as never;
        try {
            const aff = update
                ? await manager.update(zip, permissionsGranted, { loadApp: true, user: appUser } as never)
                : await manager.add(zip, { enable: false, permissionsGranted, user: appUser });
            const info: Record<string, unknown> = { ...aff.getAppInfo() };
            if (aff.hasStorageError())
                return void res.status(400).json({
                    success: false,
                    ...(!update && { error: 'app_storage_error' }),
                    status: 'storage_error',
                    messages: [aff.getStorageError()],
                });
            if (aff.hasAppUserError()) {
                const e = aff.getAppUserError() as { message?: string; username?: string };
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
            res.json({ app: info, implemented: aff.getImplementedInferfaces(), licenseValidation: aff.getLicenseValidationResult(), success: true });
        } catch (e) {
            res.status(400).json({ success: false, error: (e as Error).message });
        }
    };
    r.post('/api/apps', (req, res) => void install(req, res, false));
    r.post('/api/apps/:id', (req, res) => void install(req, res, true));

    r.delete('/api/apps/:id', async (req, res) => {
        const user = admin(req, res);
        if (!user) return;
        const prl = manager.getOneById(req.params.id);
        if (!prl) return void res.status(404).json({ success: false, error: `No App found by the id of: ${req.params.id}` });
        const info: Record<string, unknown> = { ...prl.getInfo() };
        try {
            await manager.remove(prl.getID(), { user: (await ctx.conv.user(user)) as never });
            info.status = AppStatus.DISABLED;
        } catch {
            info.status = await prl.getStatus();
            return void res.status(400).json({ app: info, success: false });
        }
        res.json({ app: info, success: true });
    });

    r.get('/api/apps/:id/settings', (req, res) => {
        if (!admin(req, res)) return;
        const app = manager.getOneById(req.params.id);
        if (!app) return void res.status(404).json({ success: false, error: `No App found by the id of: ${req.params.id}` });
        const all = { ...app.getStorageItem().settings };
        for (const k of Object.keys(all)) if (all[k].hidden) delete all[k];
        res.json({ settings: all, success: true });
    });

    r.post('/api/apps/:id/settings', json, async (req, res) => {
        if (!admin(req, res)) return;
        const app = manager.getOneById(req.params.id);
        if (!app) return void res.status(404).json({ success: false, error: `No App found by the id of: ${req.params.id}` });
        if (!req.body?.settings) return void res.status(400).json({ success: false, error: 'The settings to update must be present.' });
        // as Rocket.Chat: each posted setting whose value differs is stored AS POSTED (its admin UI posts whole
        // setting objects; a bare {id, value} replaces the stored setting's other fields, there as here)
        const current = app.getStorageItem().settings;
        const updated = [];
        for (const s of req.body.settings as Array<{ id: string; value: unknown }>) {
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
        if (!admin(req, res)) return;
        if (!manager.getOneById(req.params.id))
            return void res.status(404).json({ success: false, error: `No App found by the id of: ${req.params.id}` });
        const offset = Number.parseInt(String(req.query.offset ?? 0), 10) || 0;
        const count = Math.min(Number.parseInt(String(req.query.count ?? 50), 10) || 50, 100);
        const { logs, total } = await manager.getLogStorage().findPaginated({ appId: req.params.id }, { skip: offset, limit: count });
        res.json({ offset, logs, count: logs.length, total, success: true });
    });

    // ---- livechat ---------------------------------------------------------------------------
    const fail = (res: Response, error: string, status = 400): void => void res.status(status).json({ success: false, error });

    r.post('/api/v1/livechat/visitor', json, (req, res) => {
        const v = req.body?.visitor;
        if (!v || typeof v.token !== 'string' || !v.token) return fail(res, "Match error: Missing key 'token'");
        if (v.department && !ctx.store.findOne('departments', (d: Doc) => d._id === v.department || d.name === v.department))
            return fail(res, 'error-invalid-department');
        const visitor = chat.registerVisitor(v);
        res.json({ visitor, success: true });
    });

    r.get('/api/v1/livechat/room', (req, res) => {
        const token = String(req.query.token ?? '');
        const rid = req.query.rid ? String(req.query.rid) : undefined;
        const visitor = token ? chat.visitorByToken(token) : undefined;
        if (!visitor) return fail(res, 'invalid-token');
        const existing = chat.openRoomOf(token, rid);
        if (existing) return void res.json({ room: existing, newRoom: false, success: true });
        if (rid && ctx.store.get('rooms', rid)) return fail(res, 'room-closed');
        if (!chat.pickAgent(visitor.department)) return fail(res, 'no-agent-online');
        res.json({ room: chat.openRoom(visitor, rid), newRoom: true, success: true });
    });

    r.post('/api/v1/livechat/room.close', json, (req, res) => {
        const { rid, token } = req.body ?? {};
        const visitor = typeof token === 'string' ? chat.visitorByToken(token) : undefined;
        if (!visitor) return fail(res, 'invalid-token');
        const room = ctx.store.get<RoomDoc>('rooms', String(rid));
        if (!room || room.v?.token !== token) return fail(res, 'invalid-room');
        if (!room.open) return fail(res, 'room-closed');
        chat.closeRoom(room, { type: 'visitor', _id: visitor._id, username: visitor.username }, 'Closed by visitor');
        res.json({ rid, comment: 'Closed by visitor', success: true });
    });

    r.get('/api/v1/livechat/messages.history/:rid', (req, res) => {
        const token = String(req.query.token ?? '');
        const visitor = token ? chat.visitorByToken(token) : undefined;
        if (!visitor) return fail(res, 'invalid-token');
        const room = ctx.store.get<RoomDoc>('rooms', req.params.rid);
        if (!room || room.v?.token !== token) return fail(res, 'invalid-room');
        const limit = req.query.limit ? Math.min(Number(req.query.limit), 100) : 20;
        const messages = chat.roomMessages(room._id, { limit, skip: Number(req.query.offset ?? 0) || 0 });
        res.json({ messages, success: true });
    });

    // ---- file download ------------------------------------------------------------------------
    // FileUpload.requestCanAccessFiles: protected files need a user (rc_uid + rc_token, query or cookie)
    // or a livechat visitor (rc_token + rc_rid + rc_room_type=l) whose room holds the file.
    r.get('/file-upload/:id/:name', (req, res) => {
        const upload = ctx.store.get<UploadDoc>('uploads', req.params.id);
        if (!upload) return void res.sendStatus(404);
        const cookies = Object.fromEntries(
            (req.header('cookie') ?? '')
                .split(';')
                .map((c) => c.trim().split('=').map(decodeURIComponent))
                .filter((p) => p.length === 2),
        );
        const param = (k: string): string | undefined => (req.query[k] as string | undefined) ?? cookies[k];
        const allowed = (() => {
            if (!settings.get<boolean>('FileUpload_ProtectFiles')) return true;
            const uid = param('rc_uid') ?? req.header('x-user-id');
            const utoken = param('rc_token') ?? req.header('x-auth-token');
            if (uid && utoken) {
                const login = ctx.store.get('loginTokens', hash(utoken));
                if (login?.userId === uid) return true;
            }
            if (param('rc_room_type') === 'l' && param('rc_token') && param('rc_rid')) {
                const room = ctx.store.get<RoomDoc>('rooms', param('rc_rid')!);
                return !!room && room.v?.token === param('rc_token') && upload.rid === room._id;
            }
            return false;
        })();
        if (!allowed) return void res.sendStatus(403);
        const bytes = ctx.store.readBytes(upload._id);
        if (!bytes) return void res.sendStatus(404);
        const disposition = req.query.download !== undefined ? 'attachment' : 'inline';
        res.set({
            'Content-Type': upload.type,
            'Content-Length': String(bytes.length),
            'Content-Disposition': `${disposition}; filename*=UTF-8''${encodeURIComponent(upload.name)}`,
            'Cache-Control': 'max-age=31536000',
        });
        res.end(bytes);
    });

    return r;
}
