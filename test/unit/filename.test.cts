import { describe, expect, it } from '@jest/globals';
import { fileExtension, sanitizeFileName } from '../../lib/filename';

const utf8Bytes = (text: string) => Buffer.byteLength(text, 'utf8');

describe('sanitizeFileName', () => {
    it.each([
        ['keeps an ordinary name as it is', 'photo.jpg', 'photo.jpg'],
        ['keeps spaces, accents and non-Latin scripts', 'Résumé 2024 – 履歴書.pdf', 'Résumé 2024 – 履歴書.pdf'],
        ['keeps only the last segment of a path traversal', '../../etc/passwd', 'passwd'],
        ['keeps only the last segment of a Windows path', 'C:\\Users\\x\\photo.jpg', 'photo.jpg'],
        ['keeps only the last segment of a mixed path', 'a/b\\c/d.txt', 'd.txt'],
        ['removes a right-to-left override that disguises an extension', 'invoice\u202Egnp.exe', 'invoicegnp.exe'],
        ['removes bidi isolates, embeddings and marks', '\u2066a\u202Ab\u200Fc\u2069.txt', 'abc.txt'],
        ['removes zero-width characters and the BOM', '\uFEFFz\u200Be\u200Cr\u200Do\u2060.txt', 'zero.txt'],
        ['removes C0, DEL and C1 control characters', 'a\u0000b\u0007c\u007Fd\u0085e\u009F.txt', 'abcde.txt'],
        ['turns tabs and line breaks into single spaces', 'my\tfile\r\nname.txt', 'my file name.txt'],
        ['collapses runs of whitespace', 'a    b \u00A0 c.txt', 'a b c.txt'],
        ['replaces characters Windows forbids with underscores', 'a<b>c:d"e|f?g*.txt', 'a_b_c_d_e_f_g_.txt'],
        ['replaces a drive letter colon', 'C:photo.jpg', 'C_photo.jpg'],
        ['normalises to NFC', 'cafe\u0301.txt', 'caf\u00E9.txt'],
        ['removes leading dots of a hidden file', '.htaccess', 'htaccess'],
        ['removes leading dots and spaces together', ' . .env', 'env'],
        ['removes trailing dots and spaces', 'report. . .  ', 'report'],
        ['prefixes a reserved device name with an extension', 'CON.txt', '_CON.txt'],
        ['prefixes a reserved device name without an extension', 'nul', '_nul'],
        ['prefixes a reserved device name with several extensions', 'lpt9.tar.gz', '_lpt9.tar.gz'],
        ['prefixes a reserved device name with a superscript digit', 'COM\u00B9.log', '_COM\u00B9.log'],
        ['leaves a name that only starts like a device name', 'CONSOLE.txt', 'CONSOLE.txt'],
        ['removes a lone surrogate', 'a\uD800b.txt', 'ab.txt'],
    ])('%s', (_outcome, input, expected) => {
        expect(sanitizeFileName(input)).toBe(expected);
    });

    it.each([
        ['refuses an empty name', ''],
        ['refuses a name of only spaces', '   '],
        ['refuses a name that is only dots', '..'],
        ['refuses a single dot', '.'],
        ['refuses a path that ends with a separator', 'folder/'],
        ['refuses a path that ends in a parent reference', 'a/b/..'],
        ['refuses a name of only invisible characters', '\u202E\u200B\u2066'],
        ['refuses a name of only control characters', '\u0000\u0001\u001F'],
        ['refuses a value that is not a string', 42 as unknown as string],
    ])('%s', (_outcome, input) => {
        expect(sanitizeFileName(input)).toBeUndefined();
    });

    it('cuts a 300-byte name of two-byte characters to 255 bytes and keeps the extension', () => {
        const name = sanitizeFileName('é'.repeat(148) + '.jpg');
        expect(utf8Bytes('é'.repeat(148) + '.jpg')).toBe(300);
        expect(name).toBe('é'.repeat(125) + '.jpg');
        expect(utf8Bytes(name as string)).toBe(254);
    });

    it('never splits a surrogate pair when cutting emoji', () => {
        const name = sanitizeFileName('😀'.repeat(80) + '.png') as string;
        expect(name).toBe('😀'.repeat(62) + '.png');
        expect(utf8Bytes(name)).toBeLessThanOrEqual(255);
        expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(name)).toBe(false);
    });

    it('never splits a three-byte character when cutting', () => {
        const name = sanitizeFileName('履'.repeat(100) + '.pdf') as string;
        expect(name).toBe('履'.repeat(83) + '.pdf');
        expect(utf8Bytes(name)).toBe(253);
    });

    it('cuts a long name without an extension to the byte limit', () => {
        expect(sanitizeFileName('a'.repeat(300))).toBe('a'.repeat(255));
    });

    it('cuts the whole name when the extension alone is over the limit', () => {
        expect(sanitizeFileName('a.' + 'b'.repeat(300))).toBe('a.' + 'b'.repeat(253));
    });

    it('honours a smaller byte limit and keeps the extension', () => {
        expect(sanitizeFileName('abcdef.txt', 8)).toBe('abcd.txt');
    });

    it('does not leave a trailing space on a cut stem', () => {
        expect(sanitizeFileName('abc defgh.txt', 8)).toBe('abc.txt');
    });

    it('prefixes a name that cutting turns into a device name', () => {
        expect(sanitizeFileName('CONSOLE.txt', 7)).toBe('_CO.txt');
    });

    it('refuses everything when the limit is below one byte', () => {
        expect(sanitizeFileName('a.txt', 0)).toBeUndefined();
    });
});

describe('fileExtension', () => {
    it.each([
        ['returns a lower-case extension', 'PHOTO.JPG', 'jpg'],
        ['returns the last extension of several', 'archive.tar.gz', 'gz'],
        ['returns nothing for a name without a dot', 'README', ''],
        ['returns nothing for a hidden file', '.htaccess', ''],
        ['returns nothing for a trailing dot', 'file.', ''],
        ['ignores dots in folder names', 'v1.2/README', ''],
        ['reads the extension of the last Windows segment', 'C:\\x.y\\photo.Png', 'png'],
    ])('%s', (_outcome, input, expected) => {
        expect(fileExtension(input)).toBe(expected);
    });
});
