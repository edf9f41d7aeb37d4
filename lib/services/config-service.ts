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

/**
 * Reads the app's settings and the server's upload settings and combines them (see `resolveConfig`).
 * Needs the `server-setting.read` permission for the server's.
 */
export async function readEffectiveConfig(read: IRead): Promise<ResolvedConfig> {
    const environment = read.getEnvironmentReader();
    const [app, server] = await Promise.all([
        readValues(Object.values(SETTING), (id) => environment.getSettings().getValueById(id)),
        readValues(Object.values(SERVER_SETTING), (id) => environment.getServerSettings().getValueById(id)),
    ]);
    return resolveConfig(app, server);
}
