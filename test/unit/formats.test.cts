/**
 * Keeps the format table (lib/formats.ts), its list in docs/FORMATS.md and the fixtures in
 * test/fixtures/formats in step, as file-type keeps its code, supported list, readme and fixtures.
 */
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';

import { describe, expect, it } from '@jest/globals';

import { MEDIA_FORMATS, type MediaFormat } from '../../lib/formats';
import { isSameFormat, mimeFromFileName, normalizeMediaType } from '../../lib/media-types';
import { stripImageMetadata } from '../../lib/metadata';
import { sniffFileType } from '../../lib/sniff';

const root = join(__dirname, '..', '..');
const fixturesDir = join(root, 'test', 'fixtures', 'formats');

/** Fixture paths are media types: `image/png` holds a PNG. */
const fixtureTypes = readdirSync(fixturesDir).flatMap((top) => readdirSync(join(fixturesDir, top)).map((sub) => `${top}/${sub}`));
const readFixture = (type: string): Buffer => readFileSync(join(fixturesDir, type));

const needsFixture = (format: MediaFormat): boolean => format.signature !== undefined || format.metadata !== undefined;

/** One row of the docs' table, as its cells read once Markdown and padding are removed. */
function documentedRow(format: MediaFormat): string[] {
    const list = (items: readonly string[] | undefined, prefix = '') => (items ?? []).map((item) => `${prefix}${item}`).join(', ');
    const recognised = { magic: 'magic number', text: 'text rule' };
    return [
        format.type,
        list(format.extensions, '.'),
        format.signature ? recognised[format.signature.kind] : '',
        format.active ? 'yes' : '',
        format.metadata ? 'yes' : '',
        format.container ?? '',
        list(format.aliases),
    ];
}

/** The rows of the table under "## Recognised formats" in docs/FORMATS.md, cells without backticks. */
function readDocumentedRows(): string[][] {
    const text = readFileSync(join(root, 'docs', 'FORMATS.md'), 'utf8');
    const section = text.split(/^## /m).find((part) => part.startsWith('Recognised formats')) ?? '';
    return section
        .split('\n')
        .filter((line) => line.startsWith('|'))
        .slice(2) // header and separator
        .map((line) =>
            line
                .slice(1, -1)
                .split('|')
                .map((cell) => cell.replace(/`/g, '').trim()),
        );
}

describe('the format table', () => {
    it('names each media type, alias and extension in one row only', () => {
        const names = MEDIA_FORMATS.flatMap((f) => [f.type, ...(f.aliases ?? [])]);
        const extensions = MEDIA_FORMATS.flatMap((f) => f.extensions ?? []);
        expect(names.filter((name, i) => names.indexOf(name) !== i)).toEqual([]);
        expect(extensions.filter((extension, i) => extensions.indexOf(extension) !== i)).toEqual([]);
        expect(names.filter((name) => name !== name.toLowerCase() || !/^[a-z]+\/[a-z0-9.+-]+$/.test(name))).toEqual([]);
        expect(extensions.filter((extension) => !/^[a-z0-9]+$/.test(extension))).toEqual([]);
    });

    it('gives every container a member recognised by its magic number', () => {
        const containers = new Set(MEDIA_FORMATS.map((f) => f.container).filter((c) => c !== undefined));
        const withMagic = new Set(MEDIA_FORMATS.filter((f) => f.signature?.kind === 'magic').map((f) => f.container));
        expect([...containers].filter((c) => !withMagic.has(c))).toEqual([]);
    });

    it('maps every extension of a row to that row, and every alias to its type', () => {
        for (const format of MEDIA_FORMATS) {
            for (const extension of format.extensions ?? [])
                expect([extension, mimeFromFileName(`file.${extension.toUpperCase()}`)]).toEqual([extension, format.type]);
            for (const alias of format.aliases ?? []) expect([alias, normalizeMediaType(alias)]).toEqual([alias, format.type]);
        }
    });
});

describe('test/fixtures/formats', () => {
    it('holds one fixture for each format with a signature or a metadata walker, and no other', () => {
        expect(fixtureTypes.sort()).toEqual(
            MEDIA_FORMATS.filter(needsFixture)
                .map((f) => f.type)
                .sort(),
        );
    });

    const sniffable = MEDIA_FORMATS.filter((f) => f.signature !== undefined);
    it.each(sniffable.map((f) => [f.type, f] as const))('sniffs the %s fixture as its own type', (type, format) => {
        const found = sniffFileType(readFixture(type));
        expect(found?.mime).toBe(type);
        expect(found?.active === true).toBe(format.active === true);
    });

    const unsniffable = MEDIA_FORMATS.filter((f) => f.signature === undefined && needsFixture(f));
    it.each(unsniffable.map((f) => [f.type] as const))('sniffs the %s fixture as a type of the same format', (type) => {
        const found = sniffFileType(readFixture(type));
        expect(found && isSameFormat(found.mime, type)).toBe(true);
    });

    const cleaned = MEDIA_FORMATS.filter((f) => f.metadata !== undefined);
    it.each(cleaned.map((f) => [f.type] as const))('removes the metadata of the %s fixture and keeps it the same format', (type) => {
        const fixture = readFixture(type);
        const first = stripImageMetadata(fixture, type);
        expect(first.malformed).toBeUndefined();
        expect(first.removed.length).toBeGreaterThan(0);
        expect(sniffFileType(first.bytes)?.mime).toBe(sniffFileType(fixture)?.mime);
        expect(Buffer.from(stripImageMetadata(first.bytes, type).bytes).equals(Buffer.from(first.bytes))).toBe(true); // a second pass changes nothing
    });
});

describe('docs/FORMATS.md', () => {
    it('lists every row of the format table, in its order, with what the table says', () => {
        expect(readDocumentedRows()).toEqual(MEDIA_FORMATS.map(documentedRow));
    });
});
