/** Real files of each kind the tests send, made here so no binary fixture sits in the repository. */
import { randomBytes } from 'crypto';

import sharp from 'sharp';

export interface TestFile {
    name: string;
    type: string;
    bytes: Buffer;
}

const GPS = { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2981/100', GPSLongitudeRef: 'E', GPSLongitude: '2/1 17/1 4019/100' };

export async function makePng(width = 64, height = 48): Promise<TestFile> {
    const bytes = await sharp({ create: { width, height, channels: 3, background: '#2266cc' } })
        .png()
        .toBuffer();
    return { name: 'square.png', type: 'image/png', bytes };
}

/** A camera photo: EXIF with a GPS position, the camera's make, and the given orientation. */
export async function makePhoto(orientation: number, width = 64, height = 48): Promise<TestFile> {
    const pixels = randomBytes(width * height * 3);
    const bytes = await sharp(pixels, { raw: { width, height, channels: 3 } })
        .jpeg({ quality: 90 })
        // sharp keeps the orientation apart from the other EXIF fields: set it first.
        .withMetadata({ orientation })
        .withExif({ IFD0: { Make: 'TestCam' }, IFD3: GPS })
        .toBuffer();
    return { name: 'photo.jpg', type: 'image/jpeg', bytes };
}

export function makePdf(): TestFile {
    const text = [
        '%PDF-1.4',
        '1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj',
        '2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj',
        '3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj',
        'trailer << /Root 1 0 R >>',
        '%%EOF',
        '',
    ].join('\n');
    return { name: 'invoice.pdf', type: 'application/pdf', bytes: Buffer.from(text) };
}

export function makeText(): TestFile {
    return { name: 'notes.txt', type: 'text/plain', bytes: Buffer.from('Order 1234 arrived broken.\nPlease send a new one.\n') };
}

/** One second of a 440 Hz tone as 8 kHz mono 16-bit PCM WAV (RIFF/WAVE, the canonical 44-byte header). */
export function makeWav(): TestFile {
    const rate = 8000;
    const samples = Buffer.alloc(rate * 2);
    for (let i = 0; i < rate; i += 1) {
        samples.writeInt16LE(Math.round(Math.sin((2 * Math.PI * 440 * i) / rate) * 12000), i * 2);
    }
    const header = Buffer.alloc(44);
    header.write('RIFF', 0);
    header.writeUInt32LE(36 + samples.length, 4);
    header.write('WAVEfmt ', 8);
    header.writeUInt32LE(16, 16);
    header.writeUInt16LE(1, 20);
    header.writeUInt16LE(1, 22);
    header.writeUInt32LE(rate, 24);
    header.writeUInt32LE(rate * 2, 28);
    header.writeUInt16LE(2, 32);
    header.writeUInt16LE(16, 34);
    header.write('data', 36);
    header.writeUInt32LE(samples.length, 40);
    return { name: 'voice.wav', type: 'audio/wav', bytes: Buffer.concat([header, samples]) };
}

/** Random bytes with a name no format claims: the content check lets unknown binary through. */
export function makeBinary(size: number, name = 'dump.bin'): TestFile {
    return { name, type: 'application/octet-stream', bytes: randomBytes(size) };
}

/** True when an EXIF block holds the GPS IFD pointer (tag 0x8825), in either byte order. */
export function hasGpsTag(exif: Buffer | undefined): boolean {
    return exif !== undefined && (exif.includes(Buffer.from([0x88, 0x25])) || exif.includes(Buffer.from([0x25, 0x88])));
}
