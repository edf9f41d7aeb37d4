// Server settings: Rocket.Chat's ids and defaults for what an app may read, changeable through
// POST /api/v1/settings/:id. Bridge as apps/meteor/app/apps/server/bridges/settings.ts.
import { ServerSettingBridge } from '@rocket.chat/apps-engine/server/bridges/ServerSettingBridge';
import type { ISetting } from '@rocket.chat/apps-engine/definition/settings';
import type { HostContext } from '../context';
import type { Doc } from '../store';

type SettingType = 'boolean' | 'int' | 'string' | 'select' | 'code';
interface SettingDoc extends Doc {
    value: unknown;
    packageValue: unknown;
    type: SettingType;
    public: boolean;
    _updatedAt: Date;
    ts: Date;
}

/** Rocket.Chat's defaults (apps/meteor/server/settings/*.ts) for the settings this project touches. */
export const SERVER_SETTING_DEFAULTS: Record<string, { value: unknown; type: SettingType; public?: boolean }> = {
    FileUpload_Enabled: { value: true, type: 'boolean', public: true },
    FileUpload_MaxFileSize: { value: 104857600, type: 'int', public: true },
    FileUpload_MediaTypeWhiteList: { value: '', type: 'string', public: true },
    FileUpload_MediaTypeBlackList: {
        value: 'image/svg+xml',
        type: 'string',
        public: true,
    },
    FileUpload_ProtectFiles: { value: true, type: 'boolean' },
    FileUpload_RotateImages: { value: true, type: 'boolean' },
    FileUpload_Storage_Type: { value: 'GridFS', type: 'select' },
    Livechat_enabled: { value: true, type: 'boolean', public: true },
    Livechat_fileupload_enabled: { value: true, type: 'boolean', public: true },
    Livechat_title: { value: 'Rocket.Chat', type: 'string', public: true },
    API_Enable_CORS: { value: false, type: 'boolean' },
    API_CORS_Origin: { value: '*', type: 'string' },
    Site_Name: { value: 'Rocket.Chat', type: 'string', public: true },
    Language: { value: 'en', type: 'string', public: true },
};

// Never handed to apps (Rocket.Chat keeps a longer list of secrets in the bridge).
const DISALLOWED = new Set(['Accounts_RegistrationForm_SecretURL', 'SMTP_Password', 'Cloud_Workspace_Client_Secret']);

export class ServerSettings {
    constructor(private readonly ctx: HostContext) {}

    /** Writes Rocket.Chat's defaults for settings not stored yet (a changed value survives restarts). */
    seedDefaults(): void {
        const now = new Date();
        for (const [id, def] of Object.entries(SERVER_SETTING_DEFAULTS)) {
            if (!this.ctx.store.get('settings', id)) {
                this.ctx.store.put<SettingDoc>('settings', {
                    _id: id,
                    value: def.value,
                    packageValue: def.value,
                    type: def.type,
                    public: !!def.public,
                    ts: now,
                    _updatedAt: now,
                });
            }
        }
        const site = this.ctx.store.get<SettingDoc>('settings', 'Site_Url');
        this.ctx.store.put<SettingDoc>('settings', {
            _id: 'Site_Url',
            value: this.ctx.siteUrl(),
            packageValue: 'http://localhost:3000',
            type: 'string',
            public: true,
            ts: site?.ts ?? now,
            _updatedAt: now,
        });
    }

    get<T = unknown>(id: string): T | undefined {
        return this.ctx.store.get<SettingDoc>('settings', id)?.value as T | undefined;
    }

    /** Changes a stored setting; false when no such setting exists. Values are coerced to the setting's type. */
    set(id: string, value: unknown): boolean {
        const doc = this.ctx.store.get<SettingDoc>('settings', id);
        if (!doc) return false;
        const coerced = doc.type === 'boolean' ? value === true || value === 'true' : doc.type === 'int' ? Number(value) : String(value);
        if (doc.type === 'int' && !Number.isFinite(coerced)) throw new Error(`Invalid value for ${id}`);
        this.ctx.store.update<SettingDoc>('settings', id, {
            value: coerced,
            _updatedAt: new Date(),
        });
        return true;
    }

    toApp(doc: SettingDoc): ISetting {
        return {
            id: doc._id,
            type: doc.type as ISetting['type'],
            packageValue: doc.packageValue,
            value: doc.value,
            public: doc.public,
            required: false,
            i18nLabel: doc._id,
            createdAt: doc.ts,
            updatedAt: doc._updatedAt,
        } as ISetting;
    }

    all(): SettingDoc[] {
        return this.ctx.store.find<SettingDoc>('settings');
    }
}

export class HostServerSettingBridge extends ServerSettingBridge {
    constructor(
        private readonly ctx: HostContext,
        private readonly settings: ServerSettings,
    ) {
        super();
    }

    protected async getAll(): Promise<Array<ISetting>> {
        return this.settings
            .all()
            .filter((s) => !DISALLOWED.has(s._id))
            .map((s) => this.settings.toApp(s));
    }

    protected async getOneById(id: string): Promise<ISetting> {
        if (!(await this.isReadableById(id))) throw new Error(`The setting "${id}" is not readable.`);
        const doc = this.ctx.store.get<SettingDoc>('settings', id);
        // as Rocket.Chat: an unknown id yields undefined and the engine's reader reports "No Server Setting found"
        return (doc ? this.settings.toApp(doc) : undefined) as ISetting;
    }

    protected async isReadableById(id: string): Promise<boolean> {
        return !DISALLOWED.has(id);
    }

    protected async updateOne(setting: ISetting): Promise<void> {
        if (!this.settings.set(setting.id, setting.value)) throw new Error(`The setting "${setting.id}" does not exist`);
    }

    protected async incrementValue(id: string, value: number): Promise<void> {
        this.settings.set(id, Number(this.settings.get(id) ?? 0) + value);
    }

    protected async hideGroup(): Promise<void> {
        throw new Error('ServerSettingBridge.hideGroup is not supported by the local host');
    }

    protected async hideSetting(): Promise<void> {
        throw new Error('ServerSettingBridge.hideSetting is not supported by the local host');
    }
}
