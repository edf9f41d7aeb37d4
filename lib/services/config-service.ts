import type { IRead } from '@rocket.chat/apps-engine/definition/accessors';

import { type ResolvedConfig, resolveConfig } from '../config';
import { APP_SETTING_IDS, SERVER_SETTING_IDS } from '../settings';

async function readValues(ids: string[], read: (id: string) => Promise<unknown>): Promise<Record<string, unknown>> {
    const values: Record<string, unknown> = {};
    await Promise.all(
        ids.map(async (id) => {
            try {
                values[id] = await read(id);
            } catch {
                // A setting this server does not have (an older version) counts as unset.
                values[id] = undefined;
            }
        }),
    );
    return values;
}

/** Raw setting values by id, as read so far in one request. */
export interface SettingValues {
    app: Record<string, unknown>;
    server: Record<string, unknown>;
}

/** Reads the ids not in `known` (each read is a round trip through the runtime) and adds them. */
async function readSettingValues(read: IRead, appIds: string[], serverIds: string[], known: SettingValues): Promise<SettingValues> {
    const environment = read.getEnvironmentReader();
    const [app, server] = await Promise.all([
        readValues(
            appIds.filter((id) => !(id in known.app)),
            (id) => environment.getSettings().getValueById(id),
        ),
        readValues(
            serverIds.filter((id) => !(id in known.server)),
            (id) => environment.getServerSettings().getValueById(id),
        ),
    ]);
    return { app: { ...known.app, ...app }, server: { ...known.server, ...server } };
}

/**
 * Reads the app's settings and the server's upload settings and combines them (see `resolveConfig`).
 * Values already read in this request (`known`) are not read again.
 * Needs the `server-setting.read` permission for the server's.
 */
export async function readEffectiveConfig(read: IRead, known: SettingValues = { app: {}, server: {} }): Promise<ResolvedConfig> {
    const { app, server } = await readSettingValues(read, Object.values(APP_SETTING_IDS), Object.values(SERVER_SETTING_IDS), known);
    return resolveConfig(app, server);
}

/**
 * What every request needs before anything else: whether uploads are on and which origins may call.
 * Reads only those four settings; `values` hands them on to `readEffectiveConfig`.
 */
export async function readGateConfig(read: IRead): Promise<{ enabled: boolean; corsOrigins: string[]; problems: string[]; values: SettingValues }> {
    const values = await readSettingValues(
        read,
        [APP_SETTING_IDS.enabled, APP_SETTING_IDS.corsOrigins],
        [SERVER_SETTING_IDS.fileUploadEnabled, SERVER_SETTING_IDS.livechatUploadEnabled],
        { app: {}, server: {} },
    );
    // Only the four gate settings are set here: the other fields of this config are defaults, unused.
    const { config, problems } = resolveConfig(values.app, values.server);
    return { enabled: config.enabled, corsOrigins: config.corsOrigins, problems, values };
}
