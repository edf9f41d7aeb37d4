import { APP_SETTINGS, type AppSettingKey, BYTES_PER_MIB, CONTENT_CHECKS, type ContentCheck, MS_PER_HOUR, SERVER_SETTINGS } from './settings';

/** What every check uses: the app's settings and the server's combined. */
export interface EffectiveConfig {
    enabled: boolean;
    /** The smallest of the server's limit, the app's limit and the engine limit. */
    maxFileSizeBytes: number;
    /** Completions (reading the file back, one `uploadBuffer`) this server runs at once; others wait their turn. */
    maxConcurrentCompletions: number;
    serverWhiteList: string[];
    serverBlackList: string[];
    allowedTypes: string[];
    blockedTypes: string[];
    blockActiveContent: boolean;
    contentCheck: ContentCheck;
    stripMetadata: boolean;
    sessionTtlMs: number;
    maxOpenSessions: number;
    maxStagedBytes: number;
    corsOrigins: string[];
}

export interface ResolvedConfig {
    config: EffectiveConfig;
    /** Admin values that could not be used, for the app's log (a configuration error, not a client error). */
    problems: string[];
}

type Values = Record<string, unknown>;

/** Splits a comma-separated media type list, as core's `FileUpload_MediaType*List` settings are written. */
export function parseTypeList(value: unknown): string[] {
    if (typeof value !== 'string') {
        return [];
    }
    return value
        .split(',')
        .map((t) => t.trim().toLowerCase())
        .filter((t) => t.length > 0);
}

/** The keys of `settings` whose default is of type `T`. */
type KeysOf<S extends Record<string, unknown>, T> = { [K in keyof S]: S[K] extends { packageValue: T } | { defaultValue: T } ? K : never }[keyof S];

/** An app setting's value, or its default when unset. */
function appValue(values: Values, key: AppSettingKey): unknown {
    const value = values[APP_SETTINGS[key].id];
    return value === undefined || value === null ? APP_SETTINGS[key].packageValue : value;
}

function readBoolean(values: Values, id: string, fallback: boolean, problems: string[]): boolean {
    const value = values[id];
    if (value === undefined || value === null) {
        return fallback;
    }
    if (typeof value === 'boolean') {
        return value;
    }
    if (value === 'true' || value === 'false') {
        return value === 'true';
    }
    problems.push(`${id}: expected true or false, using ${fallback}`);
    return fallback;
}

const readAppBoolean = (app: Values, key: KeysOf<typeof APP_SETTINGS, boolean>, problems: string[]): boolean =>
    readBoolean(app, APP_SETTINGS[key].id, APP_SETTINGS[key].packageValue, problems);

const readServerBoolean = (server: Values, key: KeysOf<typeof SERVER_SETTINGS, boolean>, problems: string[]): boolean =>
    readBoolean(server, SERVER_SETTINGS[key].id, SERVER_SETTINGS[key].defaultValue, problems);

/** A positive number setting of the app; an unusable value falls back to the default. */
function readPositiveNumber(app: Values, key: KeysOf<typeof APP_SETTINGS, number>, problems: string[]): number {
    const { id, packageValue: fallback } = APP_SETTINGS[key];
    const value = app[id];
    if (value === undefined || value === null || value === '') {
        return fallback;
    }
    const n = typeof value === 'number' ? value : Number(value);
    if (!Number.isFinite(n) || n <= 0) {
        problems.push(`${id}: expected a positive number, got ${JSON.stringify(value)}, using ${fallback}`);
        return fallback;
    }
    return n;
}

function readServerMaxFileSize(server: Values, problems: string[]): number {
    const { id, defaultValue } = SERVER_SETTINGS.maxFileSizeBytes;
    const raw = server[id];
    const n = typeof raw === 'number' ? raw : Number(raw);
    // 0 is kept: Rocket.Chat's store then refuses every file that is not empty (docs/ROCKETCHAT.md, "Server settings").
    if (raw === undefined || raw === null || raw === '') {
        return defaultValue;
    }
    if (!Number.isFinite(n) || n < -1) {
        problems.push(`${id}: unusable value ${JSON.stringify(raw)}, using the default`);
        return defaultValue;
    }
    // -1 means "no limit" in core (apps/meteor/app/livechat/imports/server/rest/upload.ts).
    return n === -1 ? Number.POSITIVE_INFINITY : n;
}

function readContentCheck(app: Values, problems: string[]): ContentCheck {
    const { id, packageValue: fallback } = APP_SETTINGS.contentCheck;
    const value = app[id];
    if (value === undefined || value === null || value === '') {
        return fallback;
    }
    const known = CONTENT_CHECKS.find((check) => check === value);
    if (known === undefined) {
        problems.push(`${id}: unknown value ${JSON.stringify(value)}, using ${fallback}`);
        return fallback;
    }
    return known;
}

/** One of Rocket.Chat's media type lists, or core's default when the server gives none. */
function readServerTypeList(server: Values, key: 'whiteList' | 'blackList'): string[] {
    const { id, defaultValue } = SERVER_SETTINGS[key];
    return parseTypeList(server[id] ?? defaultValue);
}

/**
 * Combines the app's settings and the server's into the values the checks use. Never fails:
 * an unusable admin value falls back to its default and is reported in `problems`.
 */
export function resolveConfig(app: Values, server: Values): ResolvedConfig {
    const problems: string[] = [];
    const appMaxBytes = readPositiveNumber(app, 'maxFileSizeMb', problems) * BYTES_PER_MIB;
    const engineMaxBytes = readPositiveNumber(app, 'engineMaxFileSizeMb', problems) * BYTES_PER_MIB;
    const serverMaxBytes = readServerMaxFileSize(server, problems);
    const corsSetting = appValue(app, 'corsOrigins');
    const corsOrigins = parseOriginList(typeof corsSetting === 'string' ? corsSetting : APP_SETTINGS.corsOrigins.packageValue);
    const config: EffectiveConfig = {
        enabled:
            readAppBoolean(app, 'enabled', problems) &&
            readServerBoolean(server, 'fileUploadEnabled', problems) &&
            readServerBoolean(server, 'livechatUploadEnabled', problems),
        maxFileSizeBytes: Math.floor(Math.min(appMaxBytes, serverMaxBytes, engineMaxBytes)),
        maxConcurrentCompletions: Math.max(1, Math.floor(readPositiveNumber(app, 'maxConcurrentCompletions', problems))),
        serverWhiteList: readServerTypeList(server, 'whiteList'),
        serverBlackList: readServerTypeList(server, 'blackList'),
        allowedTypes: parseTypeList(appValue(app, 'allowedTypes')),
        blockedTypes: parseTypeList(appValue(app, 'blockedTypes')),
        blockActiveContent: readAppBoolean(app, 'blockActiveContent', problems),
        contentCheck: readContentCheck(app, problems),
        stripMetadata: readAppBoolean(app, 'stripMetadata', problems),
        sessionTtlMs: readPositiveNumber(app, 'sessionTtlHours', problems) * MS_PER_HOUR,
        maxOpenSessions: Math.floor(readPositiveNumber(app, 'maxOpenSessions', problems)),
        maxStagedBytes: readPositiveNumber(app, 'maxStagedMb', problems) * BYTES_PER_MIB,
        corsOrigins: corsOrigins.length > 0 ? corsOrigins : ['*'],
    };
    return { config, problems };
}

/** Splits the allowed origins setting; origins keep their case, lose a trailing slash. */
function parseOriginList(value: string): string[] {
    return value
        .split(/[\s,]+/)
        .map((o) => o.trim().replace(/\/+$/, ''))
        .filter((o) => o.length > 0);
}
