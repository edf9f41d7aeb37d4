import type { ISetting } from '@rocket.chat/apps-engine/definition/settings';
import type { SettingType } from '@rocket.chat/apps-engine/definition/settings/SettingType';

/** The app's own setting ids; the i18n keys are the same ids (`<id>_Description` for help text). */
export const SETTING = {
    enabled: 'livechat_upload_enabled',
    maxFileSizeMb: 'livechat_upload_max_file_size_mb',
    allowedTypes: 'livechat_upload_allowed_types',
    blockedTypes: 'livechat_upload_blocked_types',
    blockActiveContent: 'livechat_upload_block_active_content',
    contentCheck: 'livechat_upload_content_check',
    stripMetadata: 'livechat_upload_strip_metadata',
    sessionTtlHours: 'livechat_upload_session_ttl_hours',
    maxOpenSessions: 'livechat_upload_max_open_sessions',
    maxStagedMb: 'livechat_upload_max_staged_mb',
    corsOrigins: 'livechat_upload_cors_origins',
} as const;

/** Rocket.Chat's own settings the checks combine with the app's (HOST.md §3, core's defaults). */
export const SERVER_SETTING = {
    fileUploadEnabled: 'FileUpload_Enabled',
    maxFileSize: 'FileUpload_MaxFileSize',
    whiteList: 'FileUpload_MediaTypeWhiteList',
    blackList: 'FileUpload_MediaTypeBlackList',
    livechatUploadEnabled: 'Livechat_fileupload_enabled',
} as const;

export type ContentCheck = 'off' | 'standard' | 'strict';

// `SettingType` is an enum in the engine; lib/ imports engine types only, so its string values are
// spelled here (the engine compares the strings).
const BOOLEAN = 'boolean' as SettingType;
const NUMBER = 'int' as SettingType;
const STRING = 'string' as SettingType;
const SELECT = 'select' as SettingType;

function setting(id: string, type: SettingType, packageValue: unknown, extra: Partial<ISetting> = {}): ISetting {
    return {
        id,
        type,
        packageValue,
        required: false,
        public: false,
        i18nLabel: id,
        i18nDescription: `${id}_Description`,
        ...extra,
    };
}

/** Every setting the app provides, in the order the admin sees them. */
export const SETTINGS: ISetting[] = [
    setting(SETTING.enabled, BOOLEAN, true),
    setting(SETTING.maxFileSizeMb, NUMBER, 16),
    setting(SETTING.allowedTypes, STRING, ''),
    setting(SETTING.blockedTypes, STRING, ''),
    setting(SETTING.blockActiveContent, BOOLEAN, true),
    setting(SETTING.contentCheck, SELECT, 'standard', {
        values: [
            { key: 'off', i18nLabel: `${SETTING.contentCheck}_off` },
            { key: 'standard', i18nLabel: `${SETTING.contentCheck}_standard` },
            { key: 'strict', i18nLabel: `${SETTING.contentCheck}_strict` },
        ],
    }),
    setting(SETTING.stripMetadata, BOOLEAN, true),
    setting(SETTING.sessionTtlHours, NUMBER, 24),
    setting(SETTING.maxOpenSessions, NUMBER, 5),
    setting(SETTING.maxStagedMb, NUMBER, 100),
    setting(SETTING.corsOrigins, STRING, '*'),
];
