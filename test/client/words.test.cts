// Every error code a visitor can meet has words in every language the client speaks. The codes
// come from the app's table (lib/errors.ts), so a new code fails here until it is worded.
import { describe, expect, it } from '@jest/globals';

import { readFileSync } from 'fs';
import { join } from 'path';

import { ERRORS } from '../../lib/errors';
import { describeUploadError, UploadHttpError } from '../../.client/src/index';
import { CLIENT_CODES, CODE_SENTENCES, LOCALES, SENTENCE_IDS, SENTENCES } from '../../.client/src/words';

const serverCodes = Object.keys(ERRORS);
const everyCode = [...serverCodes, ...CLIENT_CODES];

describe('visitor words for error codes', () => {
    it('covers at least the languages of the admin settings', () => {
        expect([...LOCALES].sort()).toEqual(['de', 'en', 'es', 'fr', 'it', 'ja', 'pl', 'pt-BR', 'ru', 'tr', 'zh']);
    });

    it('maps every code of lib/errors.ts and the client codes to a sentence, and nothing else', () => {
        const missing = everyCode.filter((code) => !Object.prototype.hasOwnProperty.call(CODE_SENTENCES, code));
        expect(missing).toEqual([]);
        expect(Object.keys(CODE_SENTENCES).sort()).toEqual([...everyCode].sort());
    });

    it.each(LOCALES.map((l) => [l]))('has every sentence in %s, non-empty, and no sentence nobody uses', (locale) => {
        const sentences = SENTENCES[locale];
        expect(Object.keys(sentences).sort()).toEqual([...SENTENCE_IDS].sort());
        for (const id of SENTENCE_IDS) expect(sentences[id].trim().length).toBeGreaterThan(5);
        const used = new Set([...Object.values(CODE_SENTENCES), 'failed', 'sizeLimit', 'tooLargeForServer', 'serverBusy']);
        expect(SENTENCE_IDS.filter((id) => !used.has(id))).toEqual([]);
        expect(sentences.sizeLimit.split('{size}')).toHaveLength(2);
    });

    it.each(LOCALES.filter((l) => l !== 'en').map((l) => [l]))('translates every sentence into %s (none is left in English)', (locale) => {
        const untranslated = SENTENCE_IDS.filter((id) => SENTENCES[locale][id] === SENTENCES.en[id]);
        expect(untranslated).toEqual([]);
    });

    it.each(serverCodes.map((c) => [c]))('words %s in every language, never with the generic fallback', (code) => {
        const status = ERRORS[code as keyof typeof ERRORS].status;
        for (const locale of LOCALES) {
            const words = describeUploadError(new UploadHttpError(status, code), locale);
            expect(words).toBe(SENTENCES[locale][CODE_SENTENCES[code as keyof typeof CODE_SENTENCES]]);
        }
    });
});

describe("the visitor page's own words (.client/page/words.json)", () => {
    const pageWords: Record<string, Record<string, string>> = JSON.parse(readFileSync(join(__dirname, '../../.client/page/words.json'), 'utf8'));
    const placeholders = (text: string) => (text.match(/\{\w+\}/g) ?? []).sort();

    it('speaks the languages of the library', () => {
        expect(Object.keys(pageWords).sort()).toEqual([...LOCALES].sort());
    });

    it.each(LOCALES.filter((l) => l !== 'en').map((l) => [l]))('has every sentence of English in %s, with the same placeholders', (locale) => {
        const words = pageWords[locale];
        expect(Object.keys(words).sort()).toEqual(Object.keys(pageWords.en).sort());
        const wrong = Object.keys(pageWords.en).filter(
            (key) => JSON.stringify(placeholders(words[key])) !== JSON.stringify(placeholders(pageWords.en[key])),
        );
        expect(wrong).toEqual([]);
        expect(Object.entries(words).filter(([, text]) => text.trim() === '')).toEqual([]);
    });
});
