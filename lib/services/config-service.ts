import type { IRead } from '@rocket.chat/apps-engine/definition/accessors';

import { type ResolvedConfig, resolveConfig } from '../config';
import { APP_SETTING_IDS, SERVER_SETTING_IDS } from '../settings';
import { type SettingsCache } from './server-state';

/** Reads `ids` (each a round trip through the runtime) unless `cache` has them fresh, and caches what it read. */
async function readValues(
    ids: string[],
    read: (id: string) => Promise<unknown>,
    cache: SettingsCache | undefined,
    kind: 'app' | 'server',
): Promise<Record<string, unknown>> {
    const values: Record<string, unknown> = {};
    await Promise.all(
        ids.map(async (id) => {
            const cached = cache?.get(kind, id);
            if (cached) {
                values[id] = cached.value;
                return;
            }
            try {
                values[id] = await read(id);
            } catch {
                // A setting this server does not have (an older version) counts as unset.
                values[id] = undefined;
            }
            cache?.put(kind, id, values[id]);
        }),
    );
    return values;
}

/** Raw setting values by id, as read so far in one request. */
export interface SettingValues {
    app: Record<string, unknown>;
    server: Record<string, unknown>;
}

/** Reads the ids not in `known` (each read is a round trip through the runtime, unless cached) and adds them. */
async function readSettingValues(
    read: IRead,
    appIds: string[],
    serverIds: string[],
    known: SettingValues,
    cache: SettingsCache | undefined,
): Promise<SettingValues> {
    const environment = read.getEnvironmentReader();
    const [app, server] = await Promise.all([
        readValues(
            appIds.filter((id) => !(id in known.app)),
            (id) => environment.getSettings().getValueById(id),
            cache,
            'app',
        ),
        readValues(
            serverIds.filter((id) => !(id in known.server)),
            (id) => environment.getServerSettings().getValueById(id),
            cache,
            'server',
        ),
    ]);
    return { app: { ...known.app, ...app }, server: { ...known.server, ...server } };
}

/**
 * Reads the app's settings and the server's upload settings and combines them (see `resolveConfig`).
 * Values already read in this request (`known`) are not read again, nor those `cache` holds fresh.
 * Needs the `server-setting.read` permission for the server's.
 */
export async function readEffectiveConfig(
    read: IRead,
    known: SettingValues = { app: {}, server: {} },
    cache?: SettingsCache,
): Promise<ResolvedConfig> {
    const { app, server } = await readSettingValues(read, Object.values(APP_SETTING_IDS), Object.values(SERVER_SETTING_IDS), known, cache);
    return resolveConfig(app, server);
}

/**
 * What every request needs before anything else: whether uploads are on and which origins may call.
 * Reads only those four settings; `values` hands them on to `readEffectiveConfig`.
 */
export async function readGateConfig(
    read: IRead,
    cache?: SettingsCache,
): Promise<{ enabled: boolean; corsOrigins: string[]; problems: string[]; values: SettingValues }> {
    const values = await readSettingValues(
        read,
        [APP_SETTING_IDS.enabled, APP_SETTING_IDS.corsOrigins],
        [SERVER_SETTING_IDS.fileUploadEnabled, SERVER_SETTING_IDS.livechatUploadEnabled],
        { app: {}, server: {} },
        cache,
    );
    // Only the four gate settings are set here: the other fields of this config are defaults, unused.
    const { config, problems } = resolveConfig(values.app, values.server);
    return { enabled: config.enabled, corsOrigins: config.corsOrigins, problems, values };
}
