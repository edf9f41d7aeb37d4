import { readFileSync } from 'fs';
import { join } from 'path';

import { describe, expect, it } from '@jest/globals';

import { resolveConfig } from '../../lib/config';
import { checkFileBytes } from '../../lib/file-checks';
import { failureOf } from './failure.cjs';

const fixture = (type: string): Buffer => readFileSync(join(__dirname, '..', 'fixtures', 'formats', type));
const text = Buffer.from('just some text\n');
const config = resolveConfig({}, {}).config;

describe('checkFileBytes with the default settings', () => {
    it.each([
        ['keeps the name an APNG claims for PNG bytes', fixture('image/apng'), 'anim.apng', undefined, 'image/apng'],
        ['keeps the name an M4A claims for MP4 bytes', fixture('audio/mp4'), 'song.m4a', undefined, 'audio/mp4'],
        ['takes a PNG declared as image/x-png as image/png', fixture('image/png'), 'photo', 'image/x-png', 'image/png'],
        ['refines plain text by a CSV name', text, 'table.csv', undefined, 'text/csv'],
        ['names unnamed PDF bytes by their content', fixture('application/pdf'), 'scan', undefined, 'application/pdf'],
    ])('%s', (_outcome, bytes, name, declared, type) => {
        expect(checkFileBytes(bytes, name, declared, config).type).toBe(type);
    });

    it('removes the metadata of an APNG', () => {
        expect(checkFileBytes(fixture('image/apng'), 'anim.apng', undefined, config).removedMetadata).toEqual(['png:tEXt']);
    });

    it.each([
        ['PNG bytes named .jpg', fixture('image/png'), 'photo.jpg', undefined],
        ['text named .mkv (Matroska has a magic number)', text, 'film.mkv', undefined],
        ['text named .odt (ODF is a ZIP)', text, 'letter.odt', undefined],
        ['text declared audio/webm', text, 'clip', 'audio/webm'],
        ['ZIP bytes declared image/png', fixture('application/zip'), 'x', 'image/png'],
    ])('refuses %s with error-content-mismatch', (_what, bytes, name, declared) => {
        expect(failureOf(() => checkFileBytes(bytes, name, declared, config))).toEqual({ code: 'error-content-mismatch', details: {} });
    });
});
