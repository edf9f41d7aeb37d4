import { readFileSync } from 'fs';
import { join } from 'path';

import { describe, expect, it } from '@jest/globals';
import AdmZip from 'adm-zip';

const root = join(__dirname, '..');
const appJson = JSON.parse(readFileSync(join(root, 'app.json'), 'utf8'));
const zipPath = join(root, 'dist', `${appJson.nameSlug}_${appJson.version}.zip`);

describe('rc-apps package at the repository root', () => {
    it('reports success', () => {
        expect(process.env.LIVECHAT_UPLOAD_PACKAGE_OUTPUT).toContain('App packaged up at');
    });

    it('zips only what the app needs at run time', () => {
        const entries = new AdmZip(zipPath)
            .getEntries()
            .map((e) => e.entryName)
            .sort();
        const unexpected = entries.filter(
            (name) =>
                !/^(LivechatUploadApp|endpoints\/[a-z-]+|lib\/[a-z-]+|lib\/services\/[a-z-]+)\.js$/.test(name) &&
                !/^i18n\/[a-z]{2}(-[A-Z]{2})?\.json$/.test(name) &&
                ![
                    '.packagedby',
                    'app.json',
                    'icon.png',
                    'package.json',
                    'package-lock.json',
                    'tsconfig.json',
                    'docs/API.md',
                    'docs/COMPATIBILITY.md',
                    'docs/ENGINE.md',
                    'docs/FORMATS.md',
                    'docs/PERFORMANCE.md',
                    'docs/ROCKETCHAT.md',
                    'docs/SECURITY.md',
                    'docs/openapi.json',
                ].includes(name),
        );
        expect(unexpected).toEqual([]);
        expect(entries).toEqual(
            expect.arrayContaining(['LivechatUploadApp.js', 'endpoints/uploads-endpoint.js', 'lib/services/uploads.js', 'icon.png', 'i18n/en.json']),
        );
        expect(entries.filter((e) => e.startsWith('test/') || e.startsWith('.host/') || e.startsWith('.client/'))).toEqual([]);
    });

    it('keeps requiredApiVersion at ^1.53.1, the lowest engine docs/COMPATIBILITY.md shows passing (the packager rewrites it from package.json when the lower bounds differ)', () => {
        const packaged = JSON.parse(new AdmZip(zipPath).readAsText('app.json'));
        expect(packaged.requiredApiVersion).toBe('^1.53.1');
        expect(appJson.requiredApiVersion).toBe('^1.53.1');
        const compatibility = readFileSync(join(root, 'docs', 'COMPATIBILITY.md'), 'utf8');
        expect(compatibility).toMatch(/^\| 1\.53\.1 +\| [^|]+\| passes +\|/m);
        expect(compatibility).toContain('`requiredApiVersion: ^1.53.1`');
    });

    it('asks for exactly the permissions the app uses', () => {
        const packaged = JSON.parse(new AdmZip(zipPath).readAsText('app.json'));
        expect(packaged.permissions.map((p: { name: string }) => p.name).sort()).toEqual([
            'api',
            'livechat-room.read',
            'livechat-visitor.read',
            'message.read',
            'message.write',
            'persistence',
            'room.read',
            'scheduler',
            'server-setting.read',
            'upload.read',
            'upload.write',
        ]);
    });
});
