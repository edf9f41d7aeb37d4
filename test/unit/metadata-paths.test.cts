/**
 * One table, two places the same lib/metadata.ts runs: the app (checkFileBytes, what it stores) and
 * the client library on the visitor's device (prepareFile, what it sends). Each case states what a
 * user must find afterwards, and both paths must produce it, byte for byte the same.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import sharp from 'sharp';

import { resolveConfig } from '../../lib/config';
import { checkFileBytes } from '../../lib/file-checks';
import { prepareFile } from '../../.client/src/prepare';
import { bytesSource } from '../../.client/src/source';
import { UploadFileError } from '../../.client/src/errors';
import { exifOrientation, hasGpsBlock, IPHONE_PHOTO, PHONE_12MP_PHOTO, readPhoto } from '../photos.cjs';
import { failureOf } from './failure.cjs';

type Outcome = { bytes: Buffer; removed: string[] } | { code: string };

/** The app's path: what `POST upload` and the last chunk run on the bytes before storing them. */
function serverPath(bytes: Buffer, name: string, type: string): Outcome {
    const { config } = resolveConfig({}, {});
    let stored: Outcome | undefined;
    const failure = failureOf(() => {
        const checked = checkFileBytes(bytes, name, type, config);
        stored = { bytes: Buffer.from(checked.bytes), removed: checked.removedMetadata };
    });
    return failure ? { code: failure.code } : stored!;
}

/** The client's path: what `uploadFile` sends (stripMetadata on, its default). */
async function clientPath(bytes: Buffer): Promise<Outcome> {
    try {
        const prepared = await prepareFile(bytesSource(new Uint8Array(bytes)), { stripMetadata: true });
        return { bytes: Buffer.from(await prepared.source.read(0, prepared.source.size)), removed: prepared.removed };
    } catch (err) {
        if (err instanceof UploadFileError) return { code: err.code };
        throw err;
    }
}

const GPS = { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2981/100', GPSLongitudeRef: 'E', GPSLongitude: '2/1 17/1 4019/100' };
const XMP = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>';

/** A small gradient with a phone's metadata: orientation, camera, GPS position, XMP. */
function phoneLike(format: 'jpeg' | 'png' | 'webp', orientation: number): Promise<Buffer> {
    const width = 48;
    const height = 32;
    const raw = Buffer.alloc(width * height * 3, 0);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 7) % 256;
    return sharp(raw, { raw: { width, height, channels: 3 } })
        .withMetadata({ orientation })
        .withExifMerge({ IFD0: { Make: 'PhoneCo', Model: 'P1' }, IFD3: GPS })
        .withXmp(XMP)
        [format]()
        .toBuffer();
}

interface Case {
    name: string;
    file: string;
    type: string;
    make: () => Promise<Buffer> | Buffer;
    /** What a user finds in the stored or sent file, or the code both sides refuse it with. */
    expect: { removed: string[]; orientation?: number; unchanged?: true } | { code: string };
}

const CASES: Case[] = [
    {
        name: 'an iPhone photo with a GPS position, upright by Exif',
        file: 'iphone.jpg',
        type: 'image/jpeg',
        make: () => readPhoto(IPHONE_PHOTO),
        expect: { removed: ['exif', 'xmp'], orientation: 6 },
    },
    {
        name: 'a 13-megapixel phone photo with a GPS block and a thumbnail',
        file: 'xiaomi.jpg',
        type: 'image/jpeg',
        make: () => readPhoto(PHONE_12MP_PHOTO),
        expect: { removed: ['exif', 'jpeg:app5'], orientation: 1 },
    },
    {
        name: 'a JPEG with GPS and XMP, orientation 8',
        file: 'p.jpg',
        type: 'image/jpeg',
        make: () => phoneLike('jpeg', 8),
        expect: { removed: ['exif', 'xmp'], orientation: 8 },
    },
    {
        name: 'a PNG with GPS in eXIf and XMP in iTXt',
        file: 'p.png',
        type: 'image/png',
        make: () => phoneLike('png', 6),
        expect: { removed: ['png:tEXt', 'exif'], orientation: 6 },
    },
    {
        name: 'a WebP with GPS and XMP',
        file: 'p.webp',
        type: 'image/webp',
        make: () => phoneLike('webp', 3),
        expect: { removed: ['exif', 'xmp'], orientation: 3 },
    },
    {
        name: 'a JPEG without metadata',
        file: 'plain.jpg',
        type: 'image/jpeg',
        make: () =>
            sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } })
                .jpeg()
                .toBuffer(),
        expect: { removed: [], unchanged: true },
    },
    {
        name: 'a PDF',
        file: 'doc.pdf',
        type: 'application/pdf',
        make: () => Buffer.from('%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n'),
        expect: { removed: [], unchanged: true },
    },
    {
        name: 'a photo cut inside its Exif',
        file: 'cut.jpg',
        type: 'image/jpeg',
        make: () => readPhoto(IPHONE_PHOTO).subarray(0, 400),
        expect: { code: 'error-content-malformed' },
    },
    {
        name: 'a PNG whose chunk length runs past the end',
        file: 'bad.png',
        type: 'image/png',
        make: async () => {
            const png = await phoneLike('png', 1);
            png.writeUInt32BE(0x7fffffff, 33);
            return png;
        },
        expect: { code: 'error-content-malformed' },
    },
];

describe.each(CASES.map((c): [string, Case] => [c.name, c]))('metadata removal on %s', (_name, c) => {
    let input: Buffer;
    let stored: Outcome;
    let sent: Outcome;

    beforeAll(async () => {
        input = Buffer.from(await c.make());
        stored = serverPath(input, c.file, c.type);
        sent = await clientPath(input);
    });

    it('gives the same result in the app and on the device', () => {
        if ('code' in stored || 'code' in sent) return expect(sent).toEqual(stored);
        expect(sent.removed).toEqual(stored.removed);
        expect(sent.bytes.equals(stored.bytes)).toBe(true); // Buffer#equals: toEqual walks 900 kB byte by byte
    });

    it('leaves what the user must find', async () => {
        if ('code' in c.expect) {
            expect(stored).toEqual({ code: c.expect.code });
            return;
        }
        const out = stored as { bytes: Buffer; removed: string[] };
        expect(out.removed).toEqual(c.expect.removed);
        if (c.expect.unchanged) expect(out.bytes.equals(input)).toBe(true);
        if (c.expect.orientation !== undefined) {
            expect((await sharp(out.bytes).metadata()).orientation ?? 1).toBe(c.expect.orientation);
            expect(out.bytes.includes(Buffer.from('PhoneCo'))).toBe(false);
            expect(out.bytes.includes(Buffer.from('xmpmeta'))).toBe(false);
            if (c.type === 'image/jpeg') {
                expect(hasGpsBlock(out.bytes)).toBe(false);
                expect(exifOrientation(out.bytes)).toBe(c.expect.orientation);
            }
            const [before, after] = await Promise.all([sharp(input).raw().toBuffer(), sharp(out.bytes).raw().toBuffer()]);
            expect(after.equals(before)).toBe(true); // pixels untouched
        }
    });
});
