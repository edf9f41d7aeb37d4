import { describe, expect, it } from '@jest/globals';
import sharp from 'sharp';
import { isActiveContentType, mimeFromFileName } from '../../lib/media-types';
import { reasonableDetectionSizeInBytes, sniffFileType } from '../../lib/sniff';

/** Concatenates latin1 strings and byte arrays into one buffer. */
function bytesOf(...parts: Array<string | number[] | Uint8Array>): Uint8Array {
    return Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part))));
}

const le16 = (n: number) => [n & 0xff, n >> 8];
const le32 = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24];
const be32 = (n: number) => [n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];

/** A ZIP local file header (APPNOTE 4.3.7) with stored data. */
function zipEntry(name: string, data = ''): Uint8Array {
    return bytesOf(
        'PK\x03\x04',
        le16(20),
        le16(0),
        le16(0),
        le16(0),
        le16(0),
        le32(0),
        le32(data.length),
        le32(data.length),
        le16(name.length),
        le16(0),
        name,
        data,
    );
}

/** An ISO-BMFF ftyp box with a major brand and compatible brands. */
function ftyp(major: string, ...compatible: string[]): Uint8Array {
    return bytesOf(be32(16 + 4 * compatible.length), 'ftyp', major, be32(0), ...compatible, be32(8), 'mdat');
}

const image = () => sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 10, g: 120, b: 200 } } });

type Case = [outcome: string, bytes: () => Uint8Array | Promise<Uint8Array>, mime: string | undefined, active?: boolean];

const cases: Case[] = [
    ['detects a PNG from its signature', () => image().png().toBuffer(), 'image/png'],
    ['detects a JPEG from its SOI marker', () => image().jpeg().toBuffer(), 'image/jpeg'],
    ['detects a GIF from its header', () => image().gif().toBuffer(), 'image/gif'],
    ['detects a WebP from its RIFF form type', () => image().webp().toBuffer(), 'image/webp'],
    ['detects a TIFF from its byte-order header', () => image().tiff().toBuffer(), 'image/tiff'],
    ['detects a big-endian TIFF', () => bytesOf('MM\x00\x2a', be32(8)), 'image/tiff'],
    ['detects an AVIF from its ftyp brand', () => image().avif().toBuffer(), 'image/avif'],
    ['detects a HEIC from its ftyp brand', () => ftyp('heic', 'mif1', 'heic'), 'image/heic'],
    ['detects a HEIF from the mif1 brand', () => ftyp('mif1', 'mif1'), 'image/heif'],
    ['detects a BMP from its file and DIB headers', () => bytesOf('BM', le32(70), le32(0), le32(54), le32(40)), 'image/bmp'],
    ['detects an ICO from its icon directory', () => bytesOf([0, 0, 1, 0], le16(1), [16, 16]), 'image/x-icon'],
    ['detects a PDF from its header', () => bytesOf('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n'), 'application/pdf'],
    ['detects a plain ZIP', () => zipEntry('notes.txt', 'hello'), 'application/zip'],
    ['detects an empty ZIP from its end record', () => bytesOf('PK\x05\x06', new Array(18).fill(0)), 'application/zip'],
    [
        'detects a DOCX from its part names',
        () => bytesOf(zipEntry('[Content_Types].xml', '<Types/>'), zipEntry('_rels/.rels', '<R/>'), zipEntry('word/document.xml')),
        'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    ],
    [
        'detects an XLSX from its part names',
        () => bytesOf(zipEntry('[Content_Types].xml'), zipEntry('xl/workbook.xml')),
        'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    ],
    [
        'detects a PPTX from its part names',
        () => bytesOf(zipEntry('[Content_Types].xml'), zipEntry('ppt/presentation.xml')),
        'application/vnd.openxmlformats-officedocument.presentationml.presentation',
    ],
    [
        'detects an ODT from its mimetype entry',
        () => zipEntry('mimetype', 'application/vnd.oasis.opendocument.text'),
        'application/vnd.oasis.opendocument.text',
    ],
    ['detects a JAR as active content', () => zipEntry('META-INF/MANIFEST.MF', 'Manifest-Version: 1.0'), 'application/java-archive', true],
    ['detects an APK as active content', () => zipEntry('AndroidManifest.xml'), 'application/vnd.android.package-archive', true],
    ['detects GZIP', () => bytesOf([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3]), 'application/gzip'],
    ['detects 7z', () => bytesOf([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0, 4]), 'application/x-7z-compressed'],
    ['detects RAR 5', () => bytesOf('Rar!\x1a\x07\x01\x00'), 'application/vnd.rar'],
    ['detects an MP3 from its ID3 tag', () => bytesOf('ID3\x04\x00\x00', be32(0)), 'audio/mpeg'],
    ['detects an MP3 from a frame header', () => bytesOf([0xff, 0xfb, 0x90, 0x64, 0, 0, 0, 0]), 'audio/mpeg'],
    ['detects AAC from an ADTS header', () => bytesOf([0xff, 0xf1, 0x50, 0x80, 0x02, 0x1f, 0xfc]), 'audio/aac'],
    ['detects an MP4 from its ftyp brand', () => ftyp('isom', 'isom', 'iso2', 'avc1', 'mp41'), 'video/mp4'],
    ['detects an M4A from its ftyp brand', () => ftyp('M4A ', 'M4A ', 'mp42', 'isom'), 'audio/mp4'],
    ['detects a QuickTime movie from its ftyp brand', () => ftyp('qt  ', 'qt  '), 'video/quicktime'],
    ['detects a 3GP from its ftyp brand', () => ftyp('3gp4', '3gp4', 'isom'), 'video/3gpp'],
    [
        'detects a WebM from its EBML DocType',
        () => bytesOf([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x84], 'webm'),
        'video/webm',
    ],
    [
        'detects a Matroska file from its EBML DocType',
        () => bytesOf([0x1a, 0x45, 0xdf, 0xa3, 0xa3, 0x42, 0x82, 0x88], 'matroska'),
        'video/x-matroska',
    ],
    ['detects Ogg Opus', () => bytesOf('OggS\x00\x02', new Array(22).fill(0), [1, 19], 'OpusHead'), 'audio/ogg'],
    ['detects Ogg Vorbis', () => bytesOf('OggS\x00\x02', new Array(22).fill(0), [1, 30], '\x01vorbis'), 'audio/ogg'],
    ['detects a WAV from its RIFF form type', () => bytesOf('RIFF', le32(36), 'WAVEfmt ', le32(16)), 'audio/wav'],
    ['detects FLAC from its stream marker', () => bytesOf('fLaC\x00\x00\x00\x22'), 'audio/flac'],
    ['detects AMR from its storage header', () => bytesOf('#!AMR\n', [0x3c]), 'audio/amr'],
    ['detects MIDI from its header chunk', () => bytesOf('MThd', be32(6), [0, 1, 0, 2, 1, 0xe0]), 'audio/midi'],
    ['detects a Windows executable as active content', () => bytesOf('MZ\x90\x00\x03\x00\x00\x00'), 'application/x-msdownload', true],
    ['detects an ELF executable as active content', () => bytesOf([0x7f], 'ELF', [2, 1, 1, 0]), 'application/x-executable', true],
    ['detects a Mach-O executable as active content', () => bytesOf([0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1]), 'application/x-mach-binary', true],
    ['detects a shell script from its shebang as active content', () => bytesOf('#!/bin/sh\necho hi\n'), 'application/x-sh', true],
    ['detects HTML after a BOM and whitespace as active content', () => bytesOf([0xef, 0xbb, 0xbf], ' \n\t<!DOCTYPE html><p>hi'), 'text/html', true],
    ['detects HTML from an upper-case html tag', () => bytesOf('<HTML><body>x</body></HTML>'), 'text/html', true],
    ['detects HTML from a script tag', () => bytesOf('<script>alert(1)</script>'), 'text/html', true],
    ['detects HTML from an iframe tag with attributes', () => bytesOf('\r\n<IFRAME src="x">'), 'text/html', true],
    ['detects HTML from a body tag after a comment', () => bytesOf('<!-- saved page -->\n<body onload=x()>'), 'text/html', true],
    ['detects HTML from an unterminated comment', () => bytesOf('<!-- never closed'), 'text/html', true],
    [
        'detects XHTML after an XML declaration as HTML',
        () => bytesOf('<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'),
        'text/html',
        true,
    ],
    [
        'detects HTML in UTF-16 with a byte order mark',
        () => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<html><script>x</script>', 'utf16le')]),
        'text/html',
        true,
    ],
    [
        'detects SVG after a declaration, a comment and a doctype',
        () =>
            bytesOf(
                '<?xml version="1.0" encoding="UTF-8"?>\n<!-- Generator: x -->\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n<svg xmlns="http://www.w3.org/2000/svg"/>',
            ),
        'image/svg+xml',
        true,
    ],
    ['detects SVG without a declaration', () => bytesOf('<svg width="10" height="10"><script>alert(1)</script></svg>'), 'image/svg+xml', true],
    ['detects SVG with a namespace prefix', () => bytesOf('<svg:svg xmlns:svg="http://www.w3.org/2000/svg"/>'), 'image/svg+xml', true],
    [
        'detects other XML from its declaration as active content',
        () => bytesOf('<?xml version="1.0"?><note><to>x</to></note>'),
        'application/xml',
        true,
    ],
    ['detects UTF-8 text as plain text', () => Buffer.from('Grüße, 世界! 😀\nline two\r\n\ttabbed'), 'text/plain'],
    ['detects JSON as plain text', () => Buffer.from('{"a": [1, 2, 3]}\n'), 'text/plain'],
    ['detects text that starts with a less-than sign as plain text', () => Buffer.from('<3 you\n'), 'text/plain'],
    [
        'detects text cut inside a character at the detection window as plain text',
        () => Buffer.from('a'.repeat(reasonableDetectionSizeInBytes - 1) + 'é and more'),
        'text/plain',
    ],
    ['finds nothing in text with a NUL byte', () => Buffer.from('abc\x00def'), undefined],
    ['finds nothing in invalid UTF-8', () => bytesOf('abc\xc3\x28def'), undefined],
    ['finds nothing in UTF-8 truncated at the real end', () => bytesOf('abc\xe4\xb8'), undefined],
    ['finds nothing in an overlong UTF-8 encoding', () => bytesOf('a\xc0\xafb'), undefined],
    ['finds nothing in unknown binary', () => bytesOf([0x00, 0x01, 0x02, 0x03, 0xfe, 0x42]), undefined],
    ['finds nothing in an empty file', () => new Uint8Array(0), undefined],
];

describe('sniffFileType', () => {
    // A rest parameter keeps jest from taking the optional fourth column for a `done` callback.
    it.each(cases)('%s', async (...[, make, mime, active]: Case) => {
        const found = sniffFileType(await make());
        expect(found?.mime).toBe(mime);
        if (found) expect(found.active === true).toBe(active === true);
    });

    it('names extensions that match the content', async () => {
        expect(sniffFileType(await image().jpeg().toBuffer())?.extensions).toEqual(expect.arrayContaining(['jpg', 'jpeg']));
        expect(sniffFileType(await image().png().toBuffer())?.extensions).toContain('png');
    });

    it('looks no further than the detection window', () => {
        const lateHtml = Buffer.from(' '.repeat(reasonableDetectionSizeInBytes) + '<html>');
        expect(sniffFileType(lateHtml)?.mime).toBe('text/plain');
    });

    it('never throws on random bytes or on any prefix of a known header', () => {
        let seed = 11;
        const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
        const heads = ['PK\x03\x04', 'RIFF', 'OggS', '<?xml', '<!--', '<!DOCTYPE svg [', '\xff\xfe', '\x00\x00\x00\x18ftyp'];
        for (let round = 0; round < 2000; round++) {
            const head = Buffer.from(heads[round % heads.length], 'latin1');
            const tail = Buffer.from(Array.from({ length: random() % 80 }, () => random() & 0xff));
            const bytes = Buffer.concat([head, tail]);
            for (const length of [bytes.length, random() % (bytes.length + 1)]) {
                expect(() => sniffFileType(bytes.subarray(0, length))).not.toThrow();
            }
        }
    });

    it('reads a view into a larger buffer from its own offset', () => {
        const backing = Buffer.concat([Buffer.from('junk'), Buffer.from('%PDF-1.4\n')]);
        expect(sniffFileType(new Uint8Array(backing.buffer, backing.byteOffset + 4, backing.length - 4))?.mime).toBe('application/pdf');
    });
});

describe('mimeFromFileName', () => {
    it.each([
        ['photo.JPG', 'image/jpeg'],
        ['a.png', 'image/png'],
        ['a.webp', 'image/webp'],
        ['a.heic', 'image/heic'],
        ['a.svg', 'image/svg+xml'],
        ['a.html', 'text/html'],
        ['a.htm', 'text/html'],
        ['a.xml', 'application/xml'],
        ['app.js', 'text/javascript'],
        ['app.mjs', 'text/javascript'],
        ['setup.exe', 'application/x-msdownload'],
        ['x.dll', 'application/x-msdownload'],
        ['x.msi', 'application/x-msdownload'],
        ['run.bat', 'application/x-msdownload'],
        ['run.cmd', 'application/x-msdownload'],
        ['x.com', 'application/x-msdownload'],
        ['x.scr', 'application/x-msdownload'],
        ['x.ps1', 'application/x-powershell'],
        ['x.vbs', 'text/vbscript'],
        ['x.jar', 'application/java-archive'],
        ['x.apk', 'application/vnd.android.package-archive'],
        ['x.sh', 'application/x-sh'],
        ['notes.txt', 'text/plain'],
        ['data.csv', 'text/csv'],
        ['data.json', 'application/json'],
        ['README.md', 'text/markdown'],
        ['a.docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
        ['a.xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
        ['a.pptx', 'application/vnd.openxmlformats-officedocument.presentationml.presentation'],
        ['a.odt', 'application/vnd.oasis.opendocument.text'],
        ['a.zip', 'application/zip'],
        ['a.pdf', 'application/pdf'],
        ['a.mp3', 'audio/mpeg'],
        ['a.m4a', 'audio/mp4'],
        ['a.mp4', 'video/mp4'],
        ['a.mov', 'video/quicktime'],
        ['a.webm', 'video/webm'],
        ['a.ogg', 'audio/ogg'],
        ['a.wav', 'audio/wav'],
        ['a.flac', 'audio/flac'],
        ['archive.tar.gz', 'application/gzip'],
    ])('maps %s to %s', (name, mime) => {
        expect(mimeFromFileName(name)).toBe(mime);
    });

    it.each([
        ['returns nothing for a name without an extension', 'README'],
        ['returns nothing for an unknown extension', 'x.qqq'],
        ['returns nothing for a hidden file', '.bashrc'],
        ['returns nothing for an extension named like an Object property', 'x.constructor'],
        ['returns nothing for a prototype key', 'x.__proto__'],
    ])('%s', (_outcome, name) => {
        expect(mimeFromFileName(name)).toBeUndefined();
    });
});

describe('isActiveContentType', () => {
    it.each([
        'text/html',
        'TEXT/HTML; charset=utf-8',
        'application/xhtml+xml',
        'image/svg+xml',
        'application/xml',
        'text/xml',
        'application/rss+xml',
        'text/javascript',
        'application/javascript',
        'application/x-msdownload',
        'application/x-executable',
        'application/x-mach-binary',
        'application/x-sh',
        'application/java-archive',
        'application/vnd.android.package-archive',
        'application/x-powershell',
        'text/vbscript',
    ])('treats %s as active', (mime) => {
        expect(isActiveContentType(mime)).toBe(true);
    });

    it.each(['image/png', 'image/jpeg', 'text/plain', 'text/csv', 'application/json', 'application/pdf', 'application/zip', 'video/mp4', ''])(
        'treats "%s" as passive',
        (mime) => {
            expect(isActiveContentType(mime)).toBe(false);
        },
    );

    const sniffedActiveTypes = [...new Set(cases.filter((row) => row[3] === true).map((row) => row[2] as string))];
    it.each(sniffedActiveTypes)('treats %s, which the sniffer marks active, as active', (mime) => {
        expect(isActiveContentType(mime)).toBe(true);
    });
});
