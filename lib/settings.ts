import type { ISetting } from '@rocket.chat/apps-engine/definition/settings';
import type { SettingType } from '@rocket.chat/apps-engine/definition/settings/SettingType';

/** The app's MB settings count MiB. */
export const BYTES_PER_MIB = 1024 * 1024;

export const MS_PER_HOUR = 60 * 60 * 1000;

/**
 * The default of the engine limit setting: the largest file one `uploadBuffer` call carries through a
 * stock Apps-Engine runtime inside its 30 s call timeout with room to spare
 * (docs/ROCKETCHAT.md, "The upload accessor's cost"). Measured on 2 cores: one call of 16 MiB took 1.95 s and one of 50 MiB 19.8 s
 * on a quiet machine (`npm run bench`, docs/PERFORMANCE.md); completing a 16 MiB upload took 1.9–2.4 s
 * on every supported engine (`npm run compat`, docs/COMPATIBILITY.md). The margin is kept for slower or
 * busier servers: a single call past ~44 s restarts the app's runtime (docs/ENGINE.md, H3).
 * An engine with the fixes of docs/ENGINE.md carries far more; admins raise the limit there.
 */
export const ENGINE_SAFE_MAX_FILE_SIZE_BYTES = 16 * BYTES_PER_MIB;

export const CONTENT_CHECKS = ['off', 'standard', 'strict'] as const;
export type ContentCheck = (typeof CONTENT_CHECKS)[number];

// `SettingType` is an enum in the engine; lib/ imports engine types only, so its string values are
// spelled here (the engine compares the strings).
const BOOLEAN = 'boolean' as SettingType;
const NUMBER = 'int' as SettingType;
const STRING = 'string' as SettingType;
const SELECT = 'select' as SettingType;

interface AppSetting<T> {
    /** Stored with the admin's value and used as the i18n key: never change an id. */
    id: string;
    type: SettingType;
    /** The default, used too when the admin's value is unusable. */
    packageValue: T;
    /** The choices of a select setting, each labelled by the i18n key `<id>_<value>`. */
    values?: readonly string[];
}

const setting = <T extends boolean | number | string>(id: string, type: SettingType, packageValue: T): AppSetting<T> => ({ id, type, packageValue });

/**
 * Every setting the app provides, in the order the admin sees them: its id, type and default. The
 * id is also the i18n key of its label (`<id>_Description` for the help text). Adding a setting is
 * one line here, its strings in `i18n/en.json` and a row in the README's settings table (both
 * checked by test/unit/docs.test.cts), and reading it in `resolveConfig`.
 */
export const APP_SETTINGS = {
    enabled: setting('livechat_upload_enabled', BOOLEAN, true),
    maxFileSizeMb: setting('livechat_upload_max_file_size_mb', NUMBER, ENGINE_SAFE_MAX_FILE_SIZE_BYTES / BYTES_PER_MIB),
    allowedTypes: setting('livechat_upload_allowed_types', STRING, ''),
    blockedTypes: setting('livechat_upload_blocked_types', STRING, ''),
    blockActiveContent: setting('livechat_upload_block_active_content', BOOLEAN, true),
    contentCheck: { ...setting<ContentCheck>('livechat_upload_content_check', SELECT, 'standard'), values: CONTENT_CHECKS },
    stripMetadata: setting('livechat_upload_strip_metadata', BOOLEAN, true),
    sessionTtlHours: setting('livechat_upload_session_ttl_hours', NUMBER, 24),
    maxOpenSessions: setting('livechat_upload_max_open_sessions', NUMBER, 5),
    maxStagedMb: setting('livechat_upload_max_staged_mb', NUMBER, 100),
    engineMaxFileSizeMb: setting('livechat_upload_engine_max_file_size_mb', NUMBER, ENGINE_SAFE_MAX_FILE_SIZE_BYTES / BYTES_PER_MIB),
    maxConcurrentCompletions: setting('livechat_upload_max_concurrent_completions', NUMBER, 2),
    corsOrigins: setting('livechat_upload_cors_origins', STRING, '*'),
};

export type AppSettingKey = keyof typeof APP_SETTINGS;

/**
 * Rocket.Chat's own settings the checks combine with the app's, each with core's default, which
 * is used when the server has no such setting or no value (docs/ROCKETCHAT.md, "Server settings").
 */
export const SERVER_SETTINGS = {
    fileUploadEnabled: { id: 'FileUpload_Enabled', defaultValue: true },
    maxFileSizeBytes: { id: 'FileUpload_MaxFileSize', defaultValue: 104857600 },
    whiteList: { id: 'FileUpload_MediaTypeWhiteList', defaultValue: '' },
    blackList: { id: 'FileUpload_MediaTypeBlackList', defaultValue: 'image/svg+xml' },
    livechatUploadEnabled: { id: 'Livechat_fileupload_enabled', defaultValue: true },
};

export type ServerSettingKey = keyof typeof SERVER_SETTINGS;

function mapIds<K extends string>(settings: Record<K, { id: string }>): Record<K, string> {
    return Object.fromEntries(Object.entries<{ id: string }>(settings).map(([key, { id }]) => [key, id])) as Record<K, string>;
}

/** The app's setting ids by key, e.g. `APP_SETTING_IDS.enabled` is `livechat_upload_enabled`. */
export const APP_SETTING_IDS = mapIds<AppSettingKey>(APP_SETTINGS);

/** Rocket.Chat's setting ids by key, e.g. `SERVER_SETTING_IDS.maxFileSizeBytes` is `FileUpload_MaxFileSize`. */
export const SERVER_SETTING_IDS = mapIds<ServerSettingKey>(SERVER_SETTINGS);

/** The `ISetting` definitions the app provides to Rocket.Chat, built from `APP_SETTINGS`. */
export const APP_SETTING_DEFINITIONS: ISetting[] = Object.values<AppSetting<unknown>>(APP_SETTINGS).map(({ id, type, packageValue, values }) => ({
    id,
    type,
    packageValue,
    required: false,
    public: false,
    i18nLabel: id,
    i18nDescription: `${id}_Description`,
    ...(values && { values: values.map((key) => ({ key, i18nLabel: `${id}_${key}` })) }),
}));
