// The admin settings speak the languages Rocket.Chat's admins use most: every file in i18n/ has
// exactly en.json's keys, and keeps what an admin types or reads literally (codes, media types,
// origins, numbers, the docs path, format names) as en.json has it.
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';

import { describe, expect, it } from '@jest/globals';

const dir = join(__dirname, '..', '..', 'i18n');
const read = (file: string): Record<string, string> => JSON.parse(readFileSync(join(dir, file), 'utf8'));
const en = read('en.json');
const translations = readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'en.json');

/** Literal tokens: error codes, the docs path, media types and lists of them, URLs, numbers, format and protocol names. */
const LITERAL =
    /error-[a-z-]+|docs\/[A-Za-z]+\.md|[a-z]+\/\*(?:,[a-z]+\/[a-z]+)?|https:\/\/[a-z.]+[a-z]|\b\d+\b|\b(?:EXIF|XMP|IPTC|JPEG|PNG|WebP|HTML|SVG|XML|JavaScript|GPS|CORS|Rocket\.Chat|Apps-Engine)\b|(?<=^|\s)\*(?=\s|$)/g;

describe('i18n/', () => {
    it('has the admin settings in at least de, es, fr, pt-BR, ru, ja, zh, it, pl and tr', () => {
        expect(translations.map((f) => f.replace(/\.json$/, ''))).toEqual(
            expect.arrayContaining(['de', 'es', 'fr', 'pt-BR', 'ru', 'ja', 'zh', 'it', 'pl', 'tr']),
        );
    });

    it.each(translations.map((f) => [f]))('%s has exactly the keys of en.json, each a non-empty string', (file) => {
        const strings = read(file);
        expect(Object.keys(strings).sort()).toEqual(Object.keys(en).sort());
        expect(Object.entries(strings).filter(([, value]) => typeof value !== 'string' || value.trim() === '')).toEqual([]);
    });

    it.each(translations.map((f) => [f]))('%s keeps every literal token of en.json', (file) => {
        const strings = read(file);
        const lost = Object.entries(en).flatMap(([key, english]) =>
            [...new Set(english.match(LITERAL) ?? [])].filter((token) => !strings[key].includes(token)).map((token) => `${key}: ${token}`),
        );
        expect(lost).toEqual([]);
    });

    it.each(translations.map((f) => [f]))('%s translates the descriptions (none is left in English)', (file) => {
        const strings = read(file);
        expect(Object.keys(en).filter((key) => key.endsWith('_Description') && strings[key] === en[key])).toEqual([]);
    });
});
