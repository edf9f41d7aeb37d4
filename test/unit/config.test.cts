import { describe, expect, it } from '@jest/globals';

import { resolveConfig } from '../../lib/config';
import { isMediaTypeAllowed } from '../../lib/media-types';
import { APP_SETTING_IDS, ENGINE_SAFE_MAX_FILE_SIZE_BYTES, SERVER_SETTING_IDS } from '../../lib/settings';

const MIB = 1024 * 1024;

describe('resolveConfig: the effective size limit', () => {
    it.each([
        ['the server limit when it is the smallest', { [SERVER_SETTING_IDS.maxFileSizeBytes]: 1000 }, {}, 1000],
        [
            "the app's limit when it is the smallest",
            { [SERVER_SETTING_IDS.maxFileSizeBytes]: 50 * MIB },
            { [APP_SETTING_IDS.maxFileSizeMb]: 2 },
            2 * MIB,
        ],
        [
            'the engine-safe limit when the server has none (-1)',
            { [SERVER_SETTING_IDS.maxFileSizeBytes]: -1 },
            { [APP_SETTING_IDS.maxFileSizeMb]: 500 },
            ENGINE_SAFE_MAX_FILE_SIZE_BYTES,
        ],
        [
            "0 when the server says 0, as Rocket.Chat's store refuses every file that is not empty then",
            { [SERVER_SETTING_IDS.maxFileSizeBytes]: 0 },
            { [APP_SETTING_IDS.maxFileSizeMb]: 500 },
            0,
        ],
    ])('takes %s', (_what, server, app, expected) => {
        expect(resolveConfig(app, server).config.maxFileSizeBytes).toBe(expected);
    });

    it('reports a bad admin value as a problem and keeps the default', () => {
        const { config, problems } = resolveConfig({ [APP_SETTING_IDS.maxFileSizeMb]: -3, [APP_SETTING_IDS.contentCheck]: 'paranoid' }, {});
        expect(config.maxFileSizeBytes).toBe(ENGINE_SAFE_MAX_FILE_SIZE_BYTES);
        expect(config.contentCheck).toBe('standard');
        expect(problems).toHaveLength(2);
        expect(problems[0]).toContain(APP_SETTING_IDS.maxFileSizeMb);
    });

    it.each([
        [SERVER_SETTING_IDS.fileUploadEnabled, 'server'],
        [SERVER_SETTING_IDS.livechatUploadEnabled, 'server'],
        [APP_SETTING_IDS.enabled, 'app'],
    ])('is disabled when %s is false', (id, where) => {
        const values = { [id]: false };
        const { config } = where === 'app' ? resolveConfig(values, {}) : resolveConfig({}, values);
        expect(config.enabled).toBe(false);
    });

    it("uses core's default black list (image/svg+xml) when the server gives none", () => {
        expect(resolveConfig({}, {}).config.serverBlackList).toEqual(['image/svg+xml']);
    });

    it('splits allowed origins and drops trailing slashes', () => {
        expect(resolveConfig({ [APP_SETTING_IDS.corsOrigins]: 'https://a.example/, https://b.example' }, {}).config.corsOrigins).toEqual([
            'https://a.example',
            'https://b.example',
        ]);
    });
});

describe("isMediaTypeAllowed: core's list rules", () => {
    it.each([
        ['allows anything with empty lists', 'image/png', [], [], true],
        ['allows anything with a * white list', 'video/mp4', ['*'], [], true],
        ['refuses a black-listed type', 'image/svg+xml', [], ['image/svg+xml'], false],
        ['refuses a type matched by a black-list wildcard', 'video/mp4', [], ['video/*'], false],
        ['checks the black list before the white list', 'image/png', ['image/png'], ['image/png'], false],
        ['allows a white-listed type', 'application/pdf', ['application/pdf'], [], true],
        ['allows a type matched by a white-list wildcard', 'image/jpeg', ['image/*'], [], true],
        ['refuses a type missing from a white list', 'text/plain', ['image/*'], [], false],
        ['compares case-insensitively', 'IMAGE/PNG', ['image/png'], [], true],
    ])('%s', (_what, type, white, black, expected) => {
        expect(isMediaTypeAllowed(type as string, white as string[], black as string[])).toBe(expected);
    });
});
