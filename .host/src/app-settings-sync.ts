// App settings across instances on one store. When an admin saves an app's setting, Rocket.Chat
// tells its other instances (AppServerNotifier → AppServerListener.onAppSettingUpdated in
// apps/meteor/ee/server/apps/communication/websockets.ts), and each applies it with the engine's
// `updateAppSetting`: the app there gets `onSettingUpdated` too. Hosts sharing one data folder have
// no such broadcast, so each looks at the stored settings every second and applies what another
// instance wrote.
import type { AppManager } from '@rocket.chat/apps-engine/server/AppManager';
import type { ISetting } from '@rocket.chat/apps-engine/definition/settings';
import type { IAppStorageItem } from '@rocket.chat/apps-engine/server/storage/IAppStorageItem';

import type { Doc, Store } from './store';

const LOOK_EVERY_MS = 1_000;

/** Starts looking; the returned function stops it. */
export function syncAppSettingsAcrossInstances(manager: AppManager, store: Store): () => void {
    // The values as last seen in the store: only a value that changed there since is applied, so a
    // save on this instance (memory first, then the store) is never undone by an older stored value.
    const seen = new Map<string, string>();
    const lookedAt = (): Array<[string, string, ISetting]> =>
        store
            .find<IAppStorageItem & Doc>('apps')
            .flatMap((item) => Object.values(item.settings ?? {}).map((s): [string, string, ISetting] => [`${item.id}/${s.id}`, item.id, s]));
    for (const [key, , setting] of lookedAt()) seen.set(key, JSON.stringify(setting.value));

    let running = false;
    const look = async (): Promise<void> => {
        if (running) return;
        running = true;
        try {
            for (const [key, appId, stored] of lookedAt()) {
                const value = JSON.stringify(stored.value);
                if (seen.get(key) === value) continue;
                seen.set(key, value);
                const app = manager.getOneById(appId);
                if (app && JSON.stringify(app.getStorageItem().settings?.[stored.id]?.value) !== value) {
                    await manager.getSettingsManager().updateAppSetting(appId, stored);
                }
            }
        } finally {
            running = false;
        }
    };
    const timer = setInterval(() => void look().catch(() => undefined), LOOK_EVERY_MS);
    timer.unref();
    return () => clearInterval(timer);
}
