import { type ContentCheck, SERVER_SETTING, SETTING } from './settings';

const MIB = 1024 * 1024;

/**
 * The largest file one `uploadBuffer` call carries through the Apps-Engine runtime inside its 30 s
 * call timeout with room to spare. The runtime JSON-stringifies every Buffer it sends to the host
 * (HOST.md §4). Measured with `npm run bench` on 2 cores (docs/PERFORMANCE.md): the runtime took at
 * most 30 MiB (≈18 s) and timed out at 40 MiB; completing a 16 MiB upload took 8.7–8.9 s, a 3.4×
 * margin for a slower or busier server, against 2.7× at 20 MiB.
 */
export const ENGINE_SAFE_MAX_FILE_SIZE_BYTES = 16 * MIB;

/** The app's own default limit, in MiB: the engine-safe one. */
export const DEFAULT_MAX_FILE_SIZE_MB = ENGINE_SAFE_MAX_FILE_SIZE_BYTES / MIB;

/** Rocket.Chat's default `FileUpload_MaxFileSize`; core also falls back to it when the value is 0. */
export const SERVER_DEFAULT_MAX_FILE_SIZE_BYTES = 104857600;

/** What every check uses: the app's settings and the server's combined. */
export interface EffectiveConfig {
    enabled: boolean;
    /** The smallest of the server's limit, the app's limit and the engine-safe limit. */
    maxFileSizeBytes: number;
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

function readPositiveNumber(values: Values, id: string, fallback: number, problems: string[]): number {
    const value = values[id];
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
    const raw = server[SERVER_SETTING.maxFileSize];
    const n = typeof raw === 'number' ? raw : Number(raw);
    if (raw === undefined || raw === null || raw === '' || n === 0) {
        return SERVER_DEFAULT_MAX_FILE_SIZE_BYTES;
    }
    if (!Number.isFinite(n) || n < -1) {
        problems.push(`${SERVER_SETTING.maxFileSize}: unusable value ${JSON.stringify(raw)}, using the default`);
        return SERVER_DEFAULT_MAX_FILE_SIZE_BYTES;
    }
    // -1 means "no limit" in core (apps/meteor/app/livechat/imports/server/rest/upload.ts).
    return n === -1 ? Number.POSITIVE_INFINITY : n;
}

function readContentCheck(values: Values, problems: string[]): ContentCheck {
    const value = values[SETTING.contentCheck];
    if (value === undefined || value === null || value === '') {
        return 'standard';
    }
    if (value === 'off' || value === 'standard' || value === 'strict') {
        return value;
    }
    problems.push(`${SETTING.contentCheck}: unknown value ${JSON.stringify(value)}, using standard`);
    return 'standard';
}

/**
 * Combines the app's settings and the server's into the values the checks use. Never fails:
 * an unusable admin value falls back to its default and is reported in `problems`.
 */
export function resolveConfig(app: Values, server: Values): ResolvedConfig {
    const problems: string[] = [];
    const appMaxBytes = readPositiveNumber(app, SETTING.maxFileSizeMb, DEFAULT_MAX_FILE_SIZE_MB, problems) * MIB;
    const serverMaxBytes = readServerMaxFileSize(server, problems);
    const corsOrigins = typeof app[SETTING.corsOrigins] === 'string' ? parseOriginList(app[SETTING.corsOrigins] as string) : ['*'];
    const config: EffectiveConfig = {
        enabled:
            readBoolean(app, SETTING.enabled, true, problems) &&
            readBoolean(server, SERVER_SETTING.fileUploadEnabled, true, problems) &&
            readBoolean(server, SERVER_SETTING.livechatUploadEnabled, true, problems),
        maxFileSizeBytes: Math.floor(Math.min(appMaxBytes, serverMaxBytes, ENGINE_SAFE_MAX_FILE_SIZE_BYTES)),
        serverWhiteList: parseTypeList(server[SERVER_SETTING.whiteList]),
        serverBlackList: parseTypeList(server[SERVER_SETTING.blackList] ?? 'image/svg+xml'),
        allowedTypes: parseTypeList(app[SETTING.allowedTypes]),
        blockedTypes: parseTypeList(app[SETTING.blockedTypes]),
        blockActiveContent: readBoolean(app, SETTING.blockActiveContent, true, problems),
        contentCheck: readContentCheck(app, problems),
        stripMetadata: readBoolean(app, SETTING.stripMetadata, true, problems),
        sessionTtlMs: readPositiveNumber(app, SETTING.sessionTtlHours, 24, problems) * 3600 * 1000,
        maxOpenSessions: Math.floor(readPositiveNumber(app, SETTING.maxOpenSessions, 5, problems)),
        maxStagedBytes: readPositiveNumber(app, SETTING.maxStagedMb, 100, problems) * MIB,
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
