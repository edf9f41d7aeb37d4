// startHost(): the real Apps-Engine AppManager (1.62.0, or the one main.ts's --engine chose) with this host's bridges, behind an Express
// server shaped like Rocket.Chat (app routes + the REST in rest/).
import express from 'express';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { AppManager } from '@rocket.chat/apps-engine/server/AppManager';
import { AppStatusUtils } from '@rocket.chat/apps-engine/definition/AppStatus';
import type { ILoggerStorageEntry } from '@rocket.chat/apps-engine/server/logging';
import type { ProxiedApp } from '@rocket.chat/apps-engine/server/ProxiedApp';
import { Store, randomId, type Doc } from './store';
import { Converters } from './converters';
import { Chat, type RoomDoc, type VisitorDoc } from './chat';
import type { HostContext } from './context';
import { HostBridges } from './bridges';
import { ServerSettings } from './bridges/settings';
import { HostLogStorage, HostMetadataStorage, HostSourceStorage } from './storage';
import { syncAppSettingsAcrossInstances } from './app-settings-sync';
import { authenticate, createAdmin, createRestRouter } from './rest';
import { forgetAppManagerInstance } from './process-wide';
import AdmZip from 'adm-zip';
import { activeEngineDir, useEngine } from './engines';

export interface HostOptions {
    /** TCP port; 0 picks a free one (default 3000). */
    port?: number;
    host?: string;
    /** Folder for host.sqlite and uploads/; ignored with `memory`. Default: <repo>/.data */
    dataDir?: string;
    memory?: boolean;
    /** App package to install (or update) at start. */
    zipPath?: string;
    adminUser?: string;
    adminPassword?: string;
    /** Seed a department with an agent and a visitor with an open room. */
    seed?: boolean;
    /** Print app log entries and host events to stderr. */
    verbose?: boolean;
}

export interface SeedInfo {
    departmentId: string;
    agentUsername: string;
    visitorToken: string;
    rid: string;
}

export interface Host {
    url: string;
    port: number;
    appId?: string;
    appPaths: string[];
    adminUser: string;
    adminPassword: string;
    seed?: SeedInfo;
    store: Store;
    chat: Chat;
    settings: ServerSettings;
    manager: AppManager;
    /** Pid of the app's Deno child, when the app is running. */
    denoPid(): number | undefined;
    /** Registers (or reuses) a visitor and opens a room for it, as a widget would. */
    openVisitorRoom(token?: string, name?: string): { visitor: VisitorDoc; room: RoomDoc };
    stop(): Promise<void>;
}

const repoRoot = path.resolve(__dirname, '..', '..');

/**
 * The app's Deno runtime controller: getRuntimeController() from Apps-Engine 1.57 on, getDenoRuntime() up to
 * 1.55.1, none in 1.42.1 (its apps run inside this process).
 */
function runtimeOf(app: ProxiedApp | undefined): ReturnType<ProxiedApp['getRuntimeController']> | undefined {
    const old = app as unknown as { getDenoRuntime?: () => ReturnType<ProxiedApp['getRuntimeController']> } | undefined;
    return old?.getDenoRuntime ? old.getDenoRuntime() : app?.getRuntimeController?.();
}

function appIdOf(zip: Buffer): string | undefined {
    // The engine parses app.json for real later; here only the id is needed to find an installed copy.
    const entry = new AdmZip(zip).getEntry('app.json');
    return entry ? JSON.parse(entry.getData().toString('utf8')).id : undefined;
}

function seed(ctx: HostContext, chat: Chat): SeedInfo {
    const now = new Date();
    let agent = ctx.store.findOne('users', (u: Doc) => u.username === 'agent');
    if (!agent) {
        agent = ctx.store.put('users', {
            _id: randomId(),
            username: 'agent',
            name: 'Local Agent',
            type: 'user',
            active: true,
            roles: ['user', 'livechat-agent'],
            status: 'online',
            statusLivechat: 'available',
            statusConnection: 'online',
            emails: [{ address: 'agent@localhost', verified: true }],
            createdAt: now,
            _updatedAt: now,
        });
    }
    let dep = ctx.store.findOne('departments', (d: Doc) => d.name === 'Support');
    if (!dep) {
        dep = ctx.store.put('departments', {
            _id: randomId(),
            name: 'Support',
            enabled: true,
            showOnRegistration: true,
            showOnOfflineForm: true,
            email: 'support@localhost',
            numAgents: 1,
            _updatedAt: now,
        });
        ctx.store.put('departmentAgents', {
            _id: randomId(),
            departmentId: dep._id,
            agentId: agent._id,
            username: agent.username,
            count: 0,
            order: 0,
        });
    }
    const seeded = ctx.store.get<Doc & { visitorToken: string }>('kv', 'seed-visitor');
    const token = seeded?.visitorToken ?? `visitor-${randomId(24)}`;
    ctx.store.put('kv', { _id: 'seed-visitor', visitorToken: token });
    const visitor = chat.registerVisitor({
        token,
        name: 'Local Visitor',
        department: dep._id,
    });
    const room = chat.openRoomOf(token) ?? chat.openRoom(visitor);
    return {
        departmentId: dep._id,
        agentUsername: agent.username as string,
        visitorToken: token,
        rid: room._id,
    };
}

export async function startHost(options: HostOptions = {}): Promise<Host> {
    useEngine(activeEngineDir()); // its Deno launcher first on PATH; fails if the engine is not prepared
    const verbose = !!options.verbose;
    const log = (msg: string): void => {
        if (verbose) process.stderr.write(`[host] ${msg}\n`);
    };
    const dataDir = options.memory ? undefined : path.resolve(options.dataDir ?? path.join(repoRoot, '.data'));
    const store = new Store(dataDir);
    const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'livechat-upload-host-'));
    let url = '';
    const ctx: HostContext = {
        store,
        conv: new Converters(store),
        tempDir,
        siteUrl: () => url,
        log,
    };
    const chat = new Chat(ctx);
    const settings = new ServerSettings(ctx);
    const bridges = new HostBridges(ctx, chat, settings, (req) => authenticate(ctx, req));

    const echo = (entry: ILoggerStorageEntry): void => {
        if (!verbose) return;
        for (const e of entry.entries ?? [])
            process.stderr.write(`[app ${entry.appId}] ${e.severity} ${e.method ?? ''} ${JSON.stringify(e.args).slice(0, 500)}\n`);
    };
    forgetAppManagerInstance();
    const manager = new AppManager({
        metadataStorage: new HostMetadataStorage(store),
        sourceStorage: new HostSourceStorage(store),
        logStorage: new HostLogStorage(store, echo),
        bridges,
        tempFilePath: tempDir,
    });
    ctx.manager = manager;

    const app = express();
    app.disable('x-powered-by');
    app.set('env', 'production'); // errors (413 …) answered as a production Rocket.Chat's connect stack does
    app.use(bridges.api.server);
    const adminUser = options.adminUser ?? process.env.HOST_ADMIN_USER ?? 'admin';
    const adminPassword = options.adminPassword ?? process.env.HOST_ADMIN_PASSWORD ?? 'admin';
    app.use(createRestRouter({ ctx, chat, settings, manager }));

    const server: Server = await new Promise((resolve, reject) => {
        const s = app.listen(options.port ?? 3000, options.host ?? '127.0.0.1', () => resolve(s));
        s.once('error', reject);
    });
    const port = (server.address() as AddressInfo).port;
    url = `http://${options.host ?? '127.0.0.1'}:${port}`;

    let stopSettingsSync = (): void => undefined;
    const stop = async (): Promise<void> => {
        stopSettingsSync();
        bridges.scheduler.stopAll();
        for (const a of await manager.get().catch(() => []))
            await runtimeOf(a)
                ?.stopApp()
                .catch(() => undefined);
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
        await closed;
        store.close();
        fs.rmSync(tempDir, { recursive: true, force: true });
        forgetAppManagerInstance();
    };

    try {
        settings.seedDefaults();
        const admin = createAdmin(ctx, adminUser, adminPassword);
        const seedInfo = options.seed ? seed(ctx, chat) : undefined;
        // as Rocket.Chat's orchestrator at start-up: load the stored apps, then enable those that were enabled
        await manager.load();
        await manager.enableAll();
        stopSettingsSync = syncAppSettingsAcrossInstances(manager, store);

        let appId: string | undefined;
        if (options.zipPath) {
            const zip = fs.readFileSync(options.zipPath);
            appId = appIdOf(zip);
            const user = (await ctx.conv.user(admin)) as never;
            const installed = appId ? manager.getOneById(appId) : undefined;
            const unchanged = installed && store.readBytes(`app-${appId}.zip`)?.equals(zip);
            if (!unchanged) {
                const aff = installed
                    ? await manager.update(zip, undefined as never, { loadApp: true, user } as never)
                    : await manager.add(zip, { enable: true, user });
                if (aff.hasStorageError()) throw new Error(`App install failed: ${aff.getStorageError()}`);
                if (aff.hasAppUserError()) throw new Error(`App install failed: ${JSON.stringify(aff.getAppUserError())}`);
                appId = aff.getAppInfo()?.id ?? appId;
            }
            const proxied = appId ? manager.getOneById(appId) : undefined;
            if (!proxied) throw new Error('App install failed: the engine did not load the app');
            const status = await proxied.getStatus();
            if (!AppStatusUtils.isEnabled(status))
                throw new Error(`App installed but not enabled (status ${status}); see the app logs with --verbose`);
        }

        return {
            url,
            port,
            appId,
            appPaths: appId ? bridges.api.registeredPaths(appId) : [],
            adminUser,
            adminPassword,
            seed: seedInfo,
            store,
            chat,
            settings,
            manager,
            denoPid: () =>
                appId ? (runtimeOf(manager.getOneById(appId)) as unknown as { deno?: { pid?: number } } | undefined)?.deno?.pid : undefined,
            openVisitorRoom: (token = `visitor-${randomId(24)}`, name = 'Visitor') => {
                const visitor = chat.registerVisitor({
                    token,
                    name,
                    department: seedInfo?.departmentId,
                });
                return {
                    visitor,
                    room: chat.openRoomOf(token) ?? chat.openRoom(visitor),
                };
            },
            stop,
        };
    } catch (e) {
        await stop().catch(() => undefined);
        throw e;
    }
}
