import type { IRead } from '@rocket.chat/apps-engine/definition/accessors';

import { type ResolvedConfig, resolveConfig } from '../config';
import { SERVER_SETTING, SETTING } from '../settings';

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

async function readSettings(read: IRead, appIds: string[], serverIds: string[]): Promise<ResolvedConfig> {
    const environment = read.getEnvironmentReader();
    const [app, server] = await Promise.all([
        readValues(appIds, (id) => environment.getSettings().getValueById(id)),
        readValues(serverIds, (id) => environment.getServerSettings().getValueById(id)),
    ]);
    return resolveConfig(app, server);
}

/**
 * Reads the app's settings and the server's upload settings and combines them (see `resolveConfig`).
 * Needs the `server-setting.read` permission for the server's.
 */
export function readEffectiveConfig(read: IRead): Promise<ResolvedConfig> {
    return readSettings(read, Object.values(SETTING), Object.values(SERVER_SETTING));
}

/**
 * What every request needs before anything else: whether uploads are on and which origins may call.
 * Reads only those four settings (each read is a round trip through the runtime); the other fields
 * of the result are defaults and must not be used.
 */
export async function readGateConfig(read: IRead): Promise<{ enabled: boolean; corsOrigins: string[]; problems: string[] }> {
    const { config, problems } = await readSettings(
        read,
        [SETTING.enabled, SETTING.corsOrigins],
        [SERVER_SETTING.fileUploadEnabled, SERVER_SETTING.livechatUploadEnabled],
    );
    return { enabled: config.enabled, corsOrigins: config.corsOrigins, problems };
}
