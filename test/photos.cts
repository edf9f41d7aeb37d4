/**
 * The camera photos in test/fixtures/photos (where they come from: its README) and what the tests
 * read out of a JPEG to prove where its GPS block went: the block's own bytes, to look for them in
 * what crossed the wire, and the orientation, to check the stored photo is still upright.
 */
import { readFileSync } from 'fs';
import { join } from 'path';
import sharp from 'sharp';

const dir = join(__dirname, 'fixtures', 'photos');

/** iPhone 4S, 205×102 stored, Exif Orientation 6 (shown 102×205), GPS position, Apple maker notes. */
export const IPHONE_PHOTO = join(dir, 'iphone-4s-gps-rotated.jpg');
/** Xiaomi MI3, 4208×3120 (13.1 megapixels), 892,668 bytes, Exif with a GPS block (time and date stamps). */
export const PHONE_12MP_PHOTO = join(dir, 'xiaomi-mi3-13mp.jpg');

export const readPhoto = (path: string): Buffer => readFileSync(path);

/** The TIFF structure inside the first APP1 "Exif\0\0" segment, or undefined. */
function findExifTiff(jpeg: Buffer): Buffer | undefined {
    for (let offset = 2; offset + 4 <= jpeg.length && jpeg[offset] === 0xff;) {
        const marker = jpeg[offset + 1];
        if (marker === 0xda || marker === 0xd9) return undefined;
        const length = jpeg.readUInt16BE(offset + 2);
        if (marker === 0xe1 && jpeg.toString('latin1', offset + 4, offset + 10) === 'Exif\0\0')
            return jpeg.subarray(offset + 10, offset + 2 + length);
        offset += 2 + length;
    }
    return undefined;
}

const TYPE_BYTES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8 };

interface Ifd0 {
    tiff: Buffer;
    u16: (at: number) => number;
    u32: (at: number) => number;
    entries: Array<{ at: number; tag: number }>;
}

function readIfd0(jpeg: Buffer): Ifd0 | undefined {
    const tiff = findExifTiff(jpeg);
    if (!tiff) return undefined;
    const little = tiff.toString('latin1', 0, 2) === 'II';
    const u16 = (at: number) => (little ? tiff.readUInt16LE(at) : tiff.readUInt16BE(at));
    const u32 = (at: number) => (little ? tiff.readUInt32LE(at) : tiff.readUInt32BE(at));
    const ifd0 = u32(4);
    const entries = Array.from({ length: u16(ifd0) }, (_, i) => ({ at: ifd0 + 2 + i * 12, tag: u16(ifd0 + 2 + i * 12) }));
    return { tiff, u16, u32, entries };
}

/**
 * The GPS IFD's bytes (TIFF 6.0 §2, Exif 2.3 §4.6.6): its entry table and every value stored
 * outside it that is at least 11 bytes long (coordinates, time stamp, date). Any of them found
 * anywhere means the position was sent. Empty when the photo has no GPS block.
 */
export function gpsFingerprints(jpeg: Buffer): Buffer[] {
    const ifd = readIfd0(jpeg);
    const pointer = ifd?.entries.find((e) => e.tag === 0x8825);
    if (!ifd || !pointer) return [];
    const { tiff, u16, u32 } = ifd;
    const gps = u32(pointer.at + 8);
    const count = u16(gps);
    const prints = [tiff.subarray(gps, gps + 2 + count * 12)];
    for (let i = 0; i < count; i++) {
        const entry = gps + 2 + i * 12;
        const size = (TYPE_BYTES[u16(entry + 2)] ?? 1) * u32(entry + 4);
        if (size >= 11) prints.push(tiff.subarray(u32(entry + 8), u32(entry + 8) + size));
    }
    return prints;
}

/** True when the photo's Exif holds a GPS IFD pointer (tag 0x8825). */
export const hasGpsBlock = (jpeg: Buffer): boolean => Boolean(readIfd0(jpeg)?.entries.some((e) => e.tag === 0x8825));

/** Exif Orientation (tag 0x0112), 1 when there is none. */
export function exifOrientation(jpeg: Buffer): number {
    const ifd = readIfd0(jpeg);
    const entry = ifd?.entries.find((e) => e.tag === 0x0112);
    return ifd && entry ? ifd.u16(entry.at + 8) : 1;
}

/** The fingerprints of `photo`'s GPS block that occur in `sent`; empty when none does. */
export function gpsBytesIn(sent: Buffer, photo: Buffer): Buffer[] {
    return gpsFingerprints(photo).filter((print) => sent.includes(print));
}

/**
 * Width and height as the photo shows, its Exif orientation applied: what "upright" means whether
 * the server kept the Orientation tag or rotated the pixels (Rocket.Chat's FileUpload_RotateImages).
 */
export async function displayedSize(bytes: Buffer): Promise<{ width: number; height: number }> {
    const { width, height, orientation } = await sharp(bytes).metadata();
    return (orientation ?? 1) >= 5 ? { width: height!, height: width! } : { width: width!, height: height! };
}
