import { beforeAll, describe, expect, it } from '@jest/globals';
import sharp from 'sharp';
import { deflateSync } from 'zlib';
import { stripImageMetadata } from '../../lib/metadata';

const XMP =
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="Secret Person"/></rdf:RDF></x:xmpmeta>';
const GPS = { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 24/1', GPSLongitudeRef: 'E', GPSLongitude: '2/1 21/1 3/1' };

/** A photo-like test image: a gradient, so a changed pixel would show. */
function photo(): sharp.Sharp {
    const width = 64;
    const height = 48;
    const raw = Buffer.alloc(width * height * 3);
    for (let i = 0; i < raw.length; i += 3) {
        raw[i] = ((i / 3) % width) * 4;
        raw[i + 1] = Math.floor(i / 3 / width) * 5;
        raw[i + 2] = 128;
    }
    return sharp(raw, { raw: { width, height, channels: 3 } });
}

/** A photo with orientation, GPS, camera make, XMP and an ICC profile, as a phone would save it. */
function tagged(image: sharp.Sharp, orientation = 6): sharp.Sharp {
    return image
        .withMetadata({ orientation })
        .withExifMerge({ IFD0: { Make: 'PhoneCo', Model: 'P1' }, IFD3: GPS })
        .withXmp(XMP);
}

const decodePixels = (bytes: Uint8Array) => sharp(Buffer.from(bytes)).raw().toBuffer();
const readMetadata = (bytes: Uint8Array) => sharp(Buffer.from(bytes)).metadata();
const latin1 = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');

function crc32(bytes: Uint8Array): number {
    let crc = 0xffffffff;
    for (const byte of bytes) {
        crc ^= byte;
        for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
    }
    return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])));
    return Buffer.concat([head, data, crc]);
}

/** Inserts chunks right after IHDR (8-byte signature + 25-byte IHDR chunk). */
function insertPngChunks(png: Buffer, chunks: Buffer[]): Buffer {
    return Buffer.concat([png.subarray(0, 33), ...chunks, png.subarray(33)]);
}

/** The chunk types of a PNG, with a check that every CRC is right. */
function listPngChunks(png: Uint8Array): string[] {
    const bytes = Buffer.from(png);
    const types: string[] = [];
    for (let offset = 8; offset < bytes.length;) {
        const length = bytes.readUInt32BE(offset);
        types.push(bytes.toString('latin1', offset + 4, offset + 8));
        expect(bytes.readUInt32BE(offset + 8 + length)).toBe(crc32(bytes.subarray(offset + 4, offset + 8 + length)));
        offset += 12 + length;
    }
    return types;
}

function jpegSegment(marker: number, payload: string | Buffer): Buffer {
    const body = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
    const head = Buffer.from([0xff, marker, 0, 0]);
    head.writeUInt16BE(body.length + 2, 2);
    return Buffer.concat([head, body]);
}

/** The markers before SOS, e.g. ['e0', 'e1', 'db', …]. */
function listJpegMarkers(jpeg: Uint8Array): string[] {
    const bytes = Buffer.from(jpeg);
    const markers: string[] = [];
    for (let offset = 2; offset < bytes.length;) {
        const marker = bytes[offset + 1];
        markers.push(marker.toString(16));
        if (marker === 0xda) break;
        offset += 2 + bytes.readUInt16BE(offset + 2);
    }
    return markers;
}

/** The tags of IFD0 of an Exif block (as sharp reports it: "Exif\0\0" + TIFF). */
function listIfd0Tags(exif: Buffer): number[] {
    const tiff = exif.subarray(exif.toString('latin1', 0, 4) === 'Exif' ? 6 : 0);
    const little = tiff.toString('latin1', 0, 2) === 'II';
    const u16 = (at: number) => (little ? tiff.readUInt16LE(at) : tiff.readUInt16BE(at));
    const ifd0 = little ? tiff.readUInt32LE(4) : tiff.readUInt32BE(4);
    return Array.from({ length: u16(ifd0) }, (_, i) => u16(ifd0 + 2 + i * 12));
}

/** A big-endian Exif APP1 payload: Orientation plus a pointer to a GPS IFD holding a latitude ref. */
function bigEndianExif(orientation: number): Buffer {
    const tiff = Buffer.alloc(8 + 2 + 24 + 4 + 2 + 12 + 4);
    tiff.write('MM', 0, 'latin1');
    tiff.writeUInt16BE(42, 2);
    tiff.writeUInt32BE(8, 4);
    tiff.writeUInt16BE(2, 8);
    tiff.writeUInt16BE(0x0112, 10);
    tiff.writeUInt16BE(3, 12);
    tiff.writeUInt32BE(1, 14);
    tiff.writeUInt16BE(orientation, 18);
    tiff.writeUInt16BE(0x8825, 22); // GPSInfo IFD pointer
    tiff.writeUInt16BE(4, 24);
    tiff.writeUInt32BE(1, 26);
    tiff.writeUInt32BE(38, 30);
    tiff.writeUInt16BE(1, 38);
    tiff.writeUInt16BE(0x0001, 40); // GPSLatitudeRef "N"
    tiff.writeUInt16BE(2, 42);
    tiff.writeUInt32BE(2, 44);
    tiff.write('N\0', 48, 'latin1');
    return Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
}

describe('stripImageMetadata on JPEG', () => {
    let original: Buffer;
    let plain: Buffer;

    beforeAll(async () => {
        const phoneJpeg = await tagged(photo().jpeg()).toBuffer();
        // Add what sharp does not write: JFIF, a comment, IPTC, a vendor APP12, Adobe APP14, a trailer.
        original = Buffer.concat([
            phoneJpeg.subarray(0, 2),
            jpegSegment(0xe0, 'JFIF\0\x01\x02\x00\x00\x01\x00\x01\x00\x00'),
            phoneJpeg.subarray(2, phoneJpeg.length),
            Buffer.from('secret trailer: GPS 48.85N', 'latin1'),
        ]);
        const sos = original.indexOf(Buffer.from([0xff, 0xdb]));
        original = Buffer.concat([
            original.subarray(0, sos),
            jpegSegment(0xfe, 'taken at home'),
            jpegSegment(0xed, 'Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0a\x1c\x02\x5a\x00\x05Paris'),
            jpegSegment(0xec, 'Ducky\x00\x01\x00\x04\x00\x00\x00\x50'),
            jpegSegment(0xee, 'Adobe\x00\x64\x00\x00\x00\x00\x01'),
            original.subarray(sos),
        ]);
        plain = await photo().jpeg().toBuffer();
    });

    it('removes Exif, XMP, IPTC, comments, vendor segments and the trailer, in order of appearance', () => {
        expect(stripImageMetadata(original, 'image/jpeg').removed).toEqual(['exif', 'xmp', 'comment', 'iptc', 'jpeg:app12', 'jpeg:trailer']);
    });

    it('leaves no GPS, camera, XMP, IPTC or comment bytes', async () => {
        const { bytes } = stripImageMetadata(original, 'image/jpeg');
        const metadata = await readMetadata(bytes);
        expect(listIfd0Tags(metadata.exif as Buffer)).toEqual([0x0112]);
        expect(metadata.xmp).toBeUndefined();
        expect(metadata.iptc).toBeUndefined();
        expect(latin1(bytes)).not.toMatch(/PhoneCo|Secret Person|taken at home|Paris|Ducky|secret trailer/);
    });

    it('keeps the orientation and reports it', async () => {
        const result = stripImageMetadata(original, 'image/jpeg');
        expect(result.orientation).toBe(6);
        expect((await readMetadata(result.bytes)).orientation).toBe(6);
    });

    it('keeps JFIF, the ICC profile and the Adobe segment in place', async () => {
        const { bytes } = stripImageMetadata(original, 'image/jpeg');
        expect(listJpegMarkers(bytes).slice(0, 4)).toEqual(['e0', 'e1', 'e2', 'ee']);
        expect((await readMetadata(bytes)).icc).toEqual((await readMetadata(original)).icc);
    });

    it('leaves the pixels unchanged and the image decodable', async () => {
        const { bytes } = stripImageMetadata(original, 'image/jpeg');
        expect((await decodePixels(bytes)).equals(await decodePixels(original))).toBe(true);
        const scan = original.indexOf(Buffer.from([0xff, 0xda]));
        const end = original.lastIndexOf(Buffer.from([0xff, 0xd9])) + 2;
        expect(
            Buffer.from(bytes)
                .subarray(-(end - scan))
                .equals(original.subarray(scan, end)),
        ).toBe(true);
    });

    it('reads a big-endian Exif orientation and drops its GPS directory', async () => {
        const input = Buffer.concat([plain.subarray(0, 2), jpegSegment(0xe1, bigEndianExif(8)), plain.subarray(2)]);
        const result = stripImageMetadata(input, 'image/jpeg');
        expect(result.orientation).toBe(8);
        const metadata = await readMetadata(result.bytes);
        expect(metadata.orientation).toBe(8);
        expect(listIfd0Tags(metadata.exif as Buffer)).toEqual([0x0112]);
        expect((await decodePixels(result.bytes)).equals(await decodePixels(input))).toBe(true);
    });

    it('drops the whole Exif when the orientation is already upright', async () => {
        const input = await tagged(photo().jpeg(), 1).toBuffer();
        const result = stripImageMetadata(input, 'image/jpeg');
        expect(result).toMatchObject({ removed: ['exif', 'xmp'], orientation: 1 });
        expect((await readMetadata(result.bytes)).exif).toBeUndefined();
        expect((await decodePixels(result.bytes)).equals(await decodePixels(input))).toBe(true);
    });

    it('returns a JPEG without metadata unchanged', () => {
        const result = stripImageMetadata(plain, 'image/jpeg');
        expect(result).toEqual({ bytes: plain, removed: [] });
        expect(result.bytes).toBe(plain);
    });

    it('accepts the image/jpg alias and media type parameters', () => {
        expect(stripImageMetadata(original, 'IMAGE/JPG; q=1').removed).toContain('exif');
    });
});

describe('stripImageMetadata on PNG', () => {
    let original: Buffer;

    beforeAll(async () => {
        const phonePng = await tagged(photo().png()).toBuffer();
        const deflated = deflateSync(Buffer.from('GPS 48.85N'));
        original = insertPngChunks(phonePng, [
            pngChunk('tEXt', Buffer.from('Comment\0taken at home', 'latin1')),
            pngChunk('zTXt', Buffer.concat([Buffer.from('Location\0\0', 'latin1'), deflated])),
            pngChunk('iTXt', Buffer.from(`XML:com.adobe.xmp\0\0\0\0\0${XMP}`, 'latin1')),
            pngChunk('iTXt', Buffer.from('Author\0\0\0\0\0Secret Person', 'latin1')),
            pngChunk('tIME', Buffer.from([0x07, 0xe8, 1, 2, 3, 4, 5])),
        ]);
    });

    it('removes text, XMP, Exif and time chunks', () => {
        expect(stripImageMetadata(original, 'image/png').removed).toEqual(['png:tEXt', 'png:zTXt', 'xmp', 'png:iTXt', 'png:tIME', 'exif']);
    });

    it('keeps colour and layout chunks and every CRC valid', () => {
        const before = listPngChunks(original);
        const after = listPngChunks(stripImageMetadata(original, 'image/png').bytes);
        expect(before).toEqual(expect.arrayContaining(['iCCP', 'pHYs', 'eXIf', 'tEXt']));
        expect(after).toEqual(before.filter((type) => !['tEXt', 'zTXt', 'iTXt', 'tIME'].includes(type)));
    });

    it('leaves no text, GPS or XMP and keeps the orientation', async () => {
        const result = stripImageMetadata(original, 'image/png');
        const metadata = await readMetadata(result.bytes);
        expect(metadata.comments).toBeUndefined();
        expect(metadata.xmp).toBeUndefined();
        expect(listIfd0Tags(metadata.exif as Buffer)).toEqual([0x0112]);
        expect([result.orientation, metadata.orientation]).toEqual([6, 6]);
        expect(latin1(result.bytes)).not.toMatch(/PhoneCo|Secret Person|taken at home/);
    });

    it('leaves the pixels unchanged', async () => {
        const { bytes } = stripImageMetadata(original, 'image/png');
        expect((await decodePixels(bytes)).equals(await decodePixels(original))).toBe(true);
    });

    it('returns a PNG without metadata unchanged', async () => {
        const plain = await photo().png().toBuffer();
        expect(stripImageMetadata(plain, 'image/png')).toEqual({ bytes: plain, removed: [] });
    });
});

describe('stripImageMetadata on WebP', () => {
    let original: Buffer;

    beforeAll(async () => {
        original = await tagged(photo().webp({ lossless: true })).toBuffer();
    });

    it('removes Exif and XMP and keeps the orientation', async () => {
        const result = stripImageMetadata(original, 'image/webp');
        expect(result).toMatchObject({ removed: ['exif', 'xmp'], orientation: 6 });
        const metadata = await readMetadata(result.bytes);
        expect(metadata.orientation).toBe(6);
        expect(metadata.xmp).toBeUndefined();
        expect(listIfd0Tags(metadata.exif as Buffer)).toEqual([0x0112]);
        expect(latin1(result.bytes)).not.toMatch(/PhoneCo|Secret Person/);
    });

    it('keeps the ICC profile and fixes the VP8X flags and RIFF size', async () => {
        const out = Buffer.from(stripImageMetadata(original, 'image/webp').bytes);
        expect(out.readUInt32LE(4)).toBe(out.length - 8);
        expect(original[20] & 0x0c).toBe(0x0c);
        expect(out[20] & 0x0c).toBe(0x08);
        expect((await readMetadata(out)).icc).toEqual((await readMetadata(original)).icc);
    });

    it('leaves the pixels unchanged', async () => {
        const { bytes } = stripImageMetadata(original, 'image/webp');
        expect((await decodePixels(bytes)).equals(await decodePixels(original))).toBe(true);
    });

    it('clears the Exif flag when the orientation is upright', async () => {
        const upright = await tagged(photo().webp(), 1).toBuffer();
        const out = Buffer.from(stripImageMetadata(upright, 'image/webp').bytes);
        expect(out[20] & 0x0c).toBe(0);
        expect(out.includes(Buffer.from('EXIF'))).toBe(false);
        expect((await readMetadata(out)).exif).toBeUndefined();
        expect((await decodePixels(out)).equals(await decodePixels(upright))).toBe(true);
    });

    it('returns a simple WebP unchanged', async () => {
        const plain = await photo().webp().toBuffer();
        expect(stripImageMetadata(plain, 'image/webp')).toEqual({ bytes: plain, removed: [] });
    });
});

describe('stripImageMetadata on other and malformed input', () => {
    let jpeg: Buffer;
    let png: Buffer;
    let webp: Buffer;

    beforeAll(async () => {
        jpeg = await tagged(photo().jpeg()).toBuffer();
        png = await tagged(photo().png()).toBuffer();
        webp = await tagged(photo().webp()).toBuffer();
    });

    it('returns a type it does not handle unchanged', async () => {
        const gif = await photo().gif().toBuffer();
        const result = stripImageMetadata(gif, 'image/gif');
        expect(result).toEqual({ bytes: gif, removed: [] });
        expect(result.bytes).toBe(gif);
    });

    const malformed: Array<[string, () => Uint8Array, string]> = [
        ['refuses an empty JPEG', () => new Uint8Array(0), 'image/jpeg'],
        ['refuses bytes that are not a JPEG', () => Buffer.from('<html>not a photo</html>'), 'image/jpeg'],
        ['refuses a JPEG cut inside its headers', () => jpeg.subarray(0, 40), 'image/jpeg'],
        ['refuses a JPEG cut inside its scan data', () => jpeg.subarray(0, jpeg.length - 10), 'image/jpeg'],
        ['refuses a JPEG whose segment length runs past the end', () => Buffer.from([0xff, 0xd8, 0xff, 0xe1, 0xff, 0xff, 0x45]), 'image/jpeg'],
        ['refuses a JPEG with a segment length below two', () => Buffer.from([0xff, 0xd8, 0xff, 0xe1, 0x00, 0x01, 0xff, 0xd9]), 'image/jpeg'],
        ['refuses a JPEG whose headers end without a scan', () => Buffer.from([0xff, 0xd8, 0xff, 0xd9]), 'image/jpeg'],
        [
            'refuses a JPEG with garbage between segments',
            () => Buffer.concat([jpeg.subarray(0, 2), Buffer.from('xx'), jpeg.subarray(2)]),
            'image/jpeg',
        ],
        ['refuses an empty PNG', () => new Uint8Array(0), 'image/png'],
        ['refuses a PNG cut inside a chunk', () => png.subarray(0, 60), 'image/png'],
        ['refuses a PNG without IEND', () => png.subarray(0, png.length - 12), 'image/png'],
        [
            'refuses a PNG whose chunk length runs past the end',
            () => Buffer.concat([png.subarray(0, 8), Buffer.from([0x7f, 0xff, 0xff, 0xff]), png.subarray(12)]),
            'image/png',
        ],
        [
            'refuses a PNG with a chunk type that is not letters',
            () => Buffer.concat([png.subarray(0, 12), Buffer.from('I\0DR', 'latin1'), png.subarray(16)]),
            'image/png',
        ],
        ['refuses an empty WebP', () => new Uint8Array(0), 'image/webp'],
        ['refuses a WebP whose RIFF size runs past the end', () => webp.subarray(0, webp.length - 20), 'image/webp'],
        [
            'refuses a WebP whose chunk size runs past the RIFF end',
            () => {
                const b = Buffer.from(webp);
                b.writeUInt32LE(0xfffffff0, 16);
                return b;
            },
            'image/webp',
        ],
        [
            'refuses a WebP with a short VP8X chunk',
            () => {
                const b = Buffer.from(webp);
                b.writeUInt32LE(2, 16);
                return b;
            },
            'image/webp',
        ],
        ['refuses a RIFF file that is not WebP', () => Buffer.from('RIFF\x04\x00\x00\x00WAVE', 'latin1'), 'image/webp'],
    ];

    it.each(malformed)('%s as malformed and returns it unchanged', (_outcome, make, mime) => {
        const input = make();
        const result = stripImageMetadata(input, mime);
        expect(result).toEqual({ bytes: input, removed: [], malformed: true });
        expect(result.bytes).toBe(input);
    });

    it.each([
        ['JPEG', 'image/jpeg'],
        ['PNG', 'image/png'],
        ['WebP', 'image/webp'],
    ])('never throws on any truncation of a tagged %s', (_name, mime) => {
        const full = { 'image/jpeg': jpeg, 'image/png': png, 'image/webp': webp }[mime] as Buffer;
        const notRefused: number[] = []; // jest's deep equality on thousands of buffers is too slow here
        for (let length = 0; length < full.length; length++) {
            const prefix = full.subarray(0, length);
            const result = stripImageMetadata(prefix, mime);
            if (!(result.malformed === true && result.bytes === prefix && result.removed.length === 0)) notRefused.push(length);
        }
        expect(notRefused).toEqual([]);
    });

    it('never throws on corrupted bytes and never writes outside its output', () => {
        let seed = 7;
        const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
        for (const [full, mime] of [
            [jpeg, 'image/jpeg'],
            [png, 'image/png'],
            [webp, 'image/webp'],
        ] as const) {
            for (let round = 0; round < 300; round++) {
                const corrupted = Buffer.from(full);
                for (let k = 0; k < 4; k++) corrupted[random() % Math.min(corrupted.length, 400)] = random() & 0xff;
                const before = Buffer.from(corrupted);
                expect(() => stripImageMetadata(corrupted, mime)).not.toThrow();
                expect(corrupted.equals(before)).toBe(true);
            }
        }
    });
});
