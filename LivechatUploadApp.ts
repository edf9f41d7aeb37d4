import type {
    IAppAccessors,
    IConfigurationExtend,
    IConfigurationModify,
    IEnvironmentRead,
    IHttp,
    ILogger,
    IRead,
} from '@rocket.chat/apps-engine/definition/accessors';
import { ApiSecurity, ApiVisibility } from '@rocket.chat/apps-engine/definition/api';
import { App } from '@rocket.chat/apps-engine/definition/App';
import type { IAppInfo } from '@rocket.chat/apps-engine/definition/metadata';
import type { ISetting } from '@rocket.chat/apps-engine/definition/settings';
import { StartupType } from '@rocket.chat/apps-engine/definition/scheduler';

import { CompleteUploadEndpoint } from './endpoints/complete-endpoint';
import { LimitsEndpoint } from './endpoints/limits-endpoint';
import { UploadFileEndpoint } from './endpoints/upload-endpoint';
import { UploadSessionsEndpoint } from './endpoints/uploads-endpoint';
import { APP_SETTING_DEFINITIONS } from './lib/settings';
import { ServerState } from './lib/services/server-state';
import { removeExpiredSessions } from './lib/services/uploads';

/** How often expired uploads are ended, and removed once `EXPIRY_GRACE_MS` has passed after that. */
const CLEANUP_INTERVAL = '5 minutes';

export class LivechatUploadApp extends App {
    /** This server's locks, caches and completion slots: Rocket.Chat runs one app process per server. */
    private readonly serverState = new ServerState();

    constructor(info: IAppInfo, logger: ILogger, accessors: IAppAccessors) {
        super(info, logger, accessors);
    }

    /** An admin saved one of the app's settings: the next request reads them again. */
    public async onSettingUpdated(_setting: ISetting, _modify: IConfigurationModify, _read: IRead, _http: IHttp): Promise<void> {
        this.serverState.settings.forgetAppSettings();
    }

    protected async extendConfiguration(configuration: IConfigurationExtend, _environment: IEnvironmentRead): Promise<void> {
        await Promise.all(APP_SETTING_DEFINITIONS.map((setting) => configuration.settings.provideSetting(setting)));
        await configuration.api.provideApi({
            visibility: ApiVisibility.PUBLIC,
            security: ApiSecurity.UNSECURE,
            endpoints: [
                new LimitsEndpoint(this, this.serverState),
                new UploadFileEndpoint(this, this.serverState),
                new UploadSessionsEndpoint(this, this.serverState),
                new CompleteUploadEndpoint(this, this.serverState),
            ],
        });
        await configuration.scheduler.registerProcessors([
            {
                id: 'remove-expired-uploads',
                startupSetting: { type: StartupType.RECURRING, interval: CLEANUP_INTERVAL },
                processor: async (_job, read, _modify, _http, persis) => {
                    const removed = await removeExpiredSessions(read, persis, Date.now());
                    if (removed > 0) {
                        this.getLogger().info('expired upload sessions removed', { removed });
                    }
                },
            },
        ]);
    }
}
