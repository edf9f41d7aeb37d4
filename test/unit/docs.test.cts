import { execFileSync } from 'child_process';
import { readFileSync } from 'fs';
import { join } from 'path';

import { describe, expect, it } from '@jest/globals';

import type { IAppAccessors, IConfigurationExtend, IEnvironmentRead, ILogger } from '@rocket.chat/apps-engine/definition/accessors';
import type { IApi, IApiEndpoint } from '@rocket.chat/apps-engine/definition/api';
import type { IAppInfo } from '@rocket.chat/apps-engine/definition/metadata';
import type { IProcessor } from '@rocket.chat/apps-engine/definition/scheduler';
import type { ISetting } from '@rocket.chat/apps-engine/definition/settings';

import { LivechatUploadApp } from '../../LivechatUploadApp';
import { ERRORS, type ErrorCode, errorFieldsOf } from '../../lib/errors';
import { APP_SETTING_DEFINITIONS, BYTES_PER_MIB, ENGINE_SAFE_MAX_FILE_SIZE_BYTES } from '../../lib/settings';

const root = join(__dirname, '..', '..');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');

/** What the engine calls at install; protected on App, so reached through this view of it. */
interface Configurable {
    extendConfiguration(configuration: IConfigurationExtend, environment: IEnvironmentRead): Promise<void>;
}

/** Boots the app class with a recording configuration, as the engine does at install. */
async function registeredConfiguration() {
    const endpoints: IApiEndpoint[] = [];
    const settings: ISetting[] = [];
    const processors: IProcessor[] = [];
    // Only what the constructor and extendConfiguration use: the rest of each interface is never called.
    const info = { name: 'Livechat Upload', requiredApiVersion: '^1.44.0', author: {} } as IAppInfo;
    const logger = { debug: () => undefined } as unknown as ILogger;
    const app = new LivechatUploadApp(info, logger, {} as IAppAccessors);
    const configuration = {
        settings: { provideSetting: async (s: ISetting) => void settings.push(s) },
        api: { provideApi: async (api: IApi) => void endpoints.push(...api.endpoints) },
        scheduler: { registerProcessors: async (p: IProcessor[] = []) => void processors.push(...p) },
    };
    await (app as unknown as Configurable).extendConfiguration(configuration as unknown as IConfigurationExtend, {} as IEnvironmentRead);
    return { endpoints, settings, processors };
}

/** The HTTP methods a route really implements: those its own class defines (the rest answer 405). */
function ownMethods(endpoint: object): string[] {
    const proto = Object.getPrototypeOf(endpoint);
    return ['get', 'post', 'put', 'patch', 'delete'].filter((m) => Object.prototype.hasOwnProperty.call(proto, m));
}

const codes = Object.keys(ERRORS) as ErrorCode[];

/** Each code with its status and the names of its extra fields, as lib/errors.ts declares them. */
const declaredErrors = Object.fromEntries(
    codes.map((code) => [code, { status: ERRORS[code].status, fields: Object.keys(errorFieldsOf(code)).sort() }]),
);

describe('docs/API.md', () => {
    it('lists every error code with the status and extra fields lib/errors.ts declares, and no other', () => {
        // Rows of the error table: | `code` | status | meaning | extra fields (each field name in backticks) |
        const rows = [...read('docs/API.md').matchAll(/^\|\s*`([a-z0-9-]+)`\s*\|\s*(\d{3})\s*\|[^|]*\|([^|]*)\|/gm)].map((m) => [
            m[1],
            { status: Number(m[2]), fields: [...m[3].matchAll(/`([A-Za-z0-9]+)`/g)].map((f) => f[1]).sort() },
        ]);
        expect(Object.fromEntries(rows)).toEqual(declaredErrors);
    });
});

describe('docs/openapi.json', () => {
    const spec = JSON.parse(read('docs/openapi.json'));

    it('is an OpenAPI 3 document', () => {
        expect(spec.openapi).toMatch(/^3\./);
    });

    it('describes exactly the routes and methods the app registers', async () => {
        const { endpoints } = await registeredConfiguration();
        const registered = Object.fromEntries(endpoints.map((e) => [`/${e.path}`, ownMethods(e).sort()]));
        const documented = Object.fromEntries(Object.entries(spec.paths).map(([path, ops]) => [path, Object.keys(ops as object).sort()]));
        expect(documented).toEqual(registered);
    });

    it('has no route path with a colon (broken on engines 1.43–1.59)', async () => {
        const { endpoints } = await registeredConfiguration();
        expect(endpoints.map((e) => e.path).filter((p: string) => p.includes(':'))).toEqual([]);
    });

    it('names every error code of lib/errors.ts in the error schema', () => {
        expect([...spec.components.schemas.Error.properties.error.enum].sort()).toEqual(Object.keys(ERRORS).sort());
    });

    it('declares every extra error field with its type and the codes that carry it, as lib/errors.ts does', () => {
        const { success: _s, error: _e, reason: _r, message: _m, ...extra } = spec.components.schemas.Error.properties;
        const documented = Object.fromEntries(
            Object.entries(extra as Record<string, { type: string; 'x-error-codes': string[] }>).map(([name, p]) => [
                name,
                { type: p.type, codes: [...p['x-error-codes']].sort() },
            ]),
        );
        const declared: Record<string, { type: string; codes: string[] }> = {};
        for (const code of codes) {
            for (const [name, type] of Object.entries(errorFieldsOf(code))) {
                declared[name] ??= { type: type.replace('?', ''), codes: [] };
                declared[name].codes.push(code);
            }
        }
        Object.values(declared).forEach((d) => d.codes.sort());
        expect(documented).toEqual(declared);
    });
});

describe('settings', () => {
    it('provides every setting and registers the expiry job', async () => {
        const { settings, processors } = await registeredConfiguration();
        expect(settings.map((s) => s.id)).toEqual(APP_SETTING_DEFINITIONS.map((s) => s.id));
        expect(processors.map((p) => p.id)).toEqual(['remove-expired-uploads']);
        expect(processors[0].startupSetting).toMatchObject({ type: 'recurring' });
    });

    it("is listed in the README's settings table, by its English label, with its default", () => {
        const en = JSON.parse(read('i18n/en.json'));
        const section =
            read('README.md')
                .split(/^## /m)
                .find((part) => part.startsWith('Settings\n')) ?? '';
        const rows = section
            .split('\n')
            .filter((line) => line.startsWith('|'))
            .slice(2)
            .map((line) => line.split('|').map((cell) => cell.replace(/`/g, '').trim()));
        const shownDefault = (value: unknown): string => (value === true ? 'on' : value === false ? 'off' : value === '' ? 'empty' : String(value));
        expect(rows.map(([, label, shown]) => [label, shown.replace(/^empty .*/, 'empty')])).toEqual(
            APP_SETTING_DEFINITIONS.map((s) => [en[s.i18nLabel], shownDefault(s.packageValue)]),
        );
    });

    it('has an English label and description for every setting and select value', () => {
        const en = JSON.parse(read('i18n/en.json'));
        const keys = APP_SETTING_DEFINITIONS.flatMap((s) => [s.i18nLabel, s.i18nDescription, ...(s.values ?? []).map((v) => v.i18nLabel)]);
        expect(keys.filter((k) => !(k! in en))).toEqual([]);
    });
});

describe('docs/ROCKETCHAT.md', () => {
    const tracked = execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' })
        .split('\n')
        .filter((path) => /\.(ts|cts|mts|mjs|cjs|js|md|json|sh)$/.test(path) && path !== 'package-lock.json');
    const texts = tracked.map((path) => [path, read(path)] as const);

    it('has every section the code and docs cite', () => {
        const sections = [...read('docs/ROCKETCHAT.md').matchAll(/^## (.+)$/gm)].map((m) => m[1]);
        const cited = texts.flatMap(([path, text]) =>
            [...text.matchAll(/ROCKETCHAT\.md\)?,\s*"([^"]+)"/g)].map((m) => [path, m[1].replace(/\s+/g, ' ')] as const),
        );
        expect(cited.length).toBeGreaterThan(5);
        expect(cited.filter(([, section]) => !sections.includes(section))).toEqual([]);
    });

    it('is where facts about Rocket.Chat are cited, not a file outside the repository or a path of one machine', () => {
        expect(texts.filter(([, text]) => /HOST\.md|\/work\//.test(text)).map(([path]) => path)).toEqual([]);
    });
});

describe('app.json and package.json', () => {
    it('describe the app with the largest file it takes', () => {
        const limit = `${ENGINE_SAFE_MAX_FILE_SIZE_BYTES / BYTES_PER_MIB} MiB`;
        expect([JSON.parse(read('app.json')).description, JSON.parse(read('package.json')).description]).toEqual([
            expect.stringContaining(limit),
            expect.stringContaining(limit),
        ]);
    });
});
