/**
 * Photo metadata stripping without re-encoding: whole segments/chunks are dropped or copied, so
 * the pixels stay byte-for-byte the same. Pure functions over `Uint8Array`, no engine or Node API
 * (no `Buffer`): the client library runs this same code on the visitor's device.
 */
import { concatBytes, matchesAt, readLatin1, viewOf } from './bytes';
import { type MetadataWalker } from './formats';
import { findFormat } from './media-types';

export interface StripResult {
    bytes: Uint8Array;
    /** What was dropped, in order of first appearance: 'exif', 'xmp', 'iptc', 'comment', 'png:tEXt', 'jpeg:app3', … */
    removed: string[];
    /** The original Exif Orientation (1–8) when one was found; a value other than 1 is written back. */
    orientation?: number;
    /** Set when the container could not be walked safely; `bytes` is then the input, untouched. */
    malformed?: boolean;
}

/** Thrown inside this module only, on any read past the end or structural impossibility. */
class MalformedImage extends Error {}

function check(condition: boolean): void {
    if (!condition) throw new MalformedImage();
}

/**
 * Reads Orientation (tag 0x0112, SHORT) from IFD0 of a TIFF structure (Exif 2.3 §4.5.2, TIFF 6.0 §2),
 * in either byte order. Returns undefined when the Exif is unreadable or has no valid orientation.
 */
function readExifOrientation(tiff: Uint8Array): number | undefined {
    if (tiff.length < 8) return undefined;
    const view = viewOf(tiff);
    const little = matchesAt(tiff, 0, 'II');
    if (!little && !matchesAt(tiff, 0, 'MM')) return undefined;
    if (view.getUint16(2, little) !== 42) return undefined;
    const ifd0 = view.getUint32(4, little);
    if (ifd0 + 2 > tiff.length) return undefined;
    const count = view.getUint16(ifd0, little);
    for (let i = 0; i < count; i++) {
        const entry = ifd0 + 2 + i * 12;
        if (entry + 12 > tiff.length) return undefined;
        if (view.getUint16(entry, little) === 0x0112 && view.getUint16(entry + 2, little) === 3) {
            const value = view.getUint16(entry + 8, little);
            return value >= 1 && value <= 8 ? value : undefined;
        }
    }
    return undefined;
}

/** A big-endian TIFF with one IFD0 entry: Orientation, SHORT, count 1, value; no next IFD. */
function buildOrientationTiff(orientation: number): Uint8Array {
    return new Uint8Array([0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0, 0, 0, 0, 0]);
}

const exifHeader = [0x45, 0x78, 0x69, 0x66, 0, 0]; // "Exif\0\0", Exif 2.3 §4.7.2

interface Collected {
    parts: Uint8Array[];
    removed: Set<string>;
    orientation?: number;
}

/** Reads the orientation of a dropped Exif block and returns the minimal replacement to keep, if any. */
function replaceExif(state: Collected, tiff: Uint8Array, wrap: (tiff: Uint8Array) => Uint8Array): void {
    state.removed.add('exif');
    const orientation = state.orientation === undefined ? readExifOrientation(tiff) : undefined;
    if (orientation === undefined) return;
    state.orientation = orientation;
    if (orientation !== 1) state.parts.push(wrap(buildOrientationTiff(orientation)));
}

/** XMP spec part 3 §1.1.3: standard and extended XMP in APP1. */
const xmpNamespaces = ['http://ns.adobe.com/xap/1.0/\0', 'http://ns.adobe.com/xmp/extension/\0'];

/** JPEG (ITU T.81 Annex B): which APPn/COM segment goes, by marker and identifier. */
function classifyJpegSegment(marker: number, payload: Uint8Array): string | undefined {
    if (marker === 0xfe) return 'comment';
    if (marker < 0xe0 || marker > 0xef) return undefined; // tables, frame headers: image data
    if (marker === 0xe0) return undefined; // APP0 JFIF / JFXX (JFIF 1.02)
    if (marker === 0xe1 && matchesAt(payload, 0, exifHeader)) return 'exif';
    if (marker === 0xe1 && xmpNamespaces.some((namespace) => matchesAt(payload, 0, namespace))) return 'xmp';
    if (marker === 0xe2 && matchesAt(payload, 0, 'ICC_PROFILE\0')) return undefined; // ICC.1 Annex B.4
    if (marker === 0xed) return 'iptc'; // APP13 "Photoshop 3.0" image resources (IPTC-NAA)
    if (marker === 0xee && matchesAt(payload, 0, 'Adobe')) return undefined; // Adobe TN 5116: colour transform
    return `jpeg:app${marker - 0xe0}`; // APP2 MPF/FlashPix, APP3–APP12, APP15: vendor metadata
}

function stripJpeg(bytes: Uint8Array): Collected {
    check(bytes[0] === 0xff && bytes[1] === 0xd8);
    const state: Collected = { parts: [bytes.subarray(0, 2)], removed: new Set() };
    const view = viewOf(bytes);
    let offset = 2;
    for (;;) {
        check(offset + 1 < bytes.length && bytes[offset] === 0xff);
        const start = offset;
        while (offset < bytes.length && bytes[offset] === 0xff) offset++; // fill bytes (T.81 B.1.1.2)
        check(offset < bytes.length);
        const marker = bytes[offset++];
        check(marker !== 0xd9 && marker !== 0x00 && !(marker >= 0xd0 && marker <= 0xd8)); // no EOI/RST/SOI before SOS
        if (marker === 0x01) {
            state.parts.push(bytes.subarray(start, offset)); // TEM: standalone
            continue;
        }
        check(offset + 2 <= bytes.length);
        const length = view.getUint16(offset);
        check(length >= 2 && offset + length <= bytes.length);
        const end = offset + length;
        if (marker === 0xda) {
            // Entropy-coded data is copied as is up to EOI; bytes after EOI (MPO pictures, motion-photo
            // videos, vendor trailers) can carry their own metadata and are dropped.
            const eoi = findJpegEoi(bytes, end);
            state.parts.push(bytes.subarray(start, eoi));
            if (eoi < bytes.length) state.removed.add('jpeg:trailer');
            return state;
        }
        const payload = bytes.subarray(offset + 2, end);
        const label = classifyJpegSegment(marker, payload);
        if (label === 'exif') {
            replaceExif(state, payload.subarray(exifHeader.length), (tiff) => {
                const segment = concatBytes([new Uint8Array([0xff, 0xe1, 0, 0]), new Uint8Array(exifHeader), tiff]);
                viewOf(segment).setUint16(2, segment.length - 2);
                return segment;
            });
        } else if (label) {
            state.removed.add(label);
        } else {
            state.parts.push(bytes.subarray(start, end));
        }
        offset = end;
    }
}

/** Returns the index just past EOI (FF D9); in scan data FF is followed by 00 or RSTn (T.81 B.1.1.5). */
function findJpegEoi(bytes: Uint8Array, from: number): number {
    for (let i = from; i + 1 < bytes.length; i++) {
        if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return i + 2;
    }
    throw new MalformedImage();
}

/** PNG (ISO 15948 / PNG 3rd ed. §11): ancillary chunks that carry text, Exif or a timestamp. */
const pngDroppedChunks = new Set(['tEXt', 'zTXt', 'iTXt', 'eXIf', 'tIME']);

/** CRC-32 as PNG §5.5 defines it; only needed for a written-back eXIf chunk. */
function computeCrc32(bytes: Uint8Array): number {
    let crc = 0xffffffff;
    for (const byte of bytes) {
        crc ^= byte;
        for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
    }
    return (crc ^ 0xffffffff) >>> 0;
}

function stripPng(bytes: Uint8Array): Collected {
    check(matchesAt(bytes, 0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const state: Collected = { parts: [bytes.subarray(0, 8)], removed: new Set() };
    const view = viewOf(bytes);
    for (let offset = 8; ;) {
        check(offset + 12 <= bytes.length);
        const length = view.getUint32(offset);
        const type = readLatin1(bytes, offset + 4, offset + 8);
        check(/^[A-Za-z]{4}$/.test(type) && length <= bytes.length - offset - 12);
        const end = offset + 12 + length;
        const data = bytes.subarray(offset + 8, offset + 8 + length);
        if (type === 'eXIf') {
            replaceExif(state, data, (tiff) => {
                const chunk = concatBytes([new Uint8Array(8), tiff, new Uint8Array(4)]);
                viewOf(chunk).setUint32(0, tiff.length);
                chunk.set([0x65, 0x58, 0x49, 0x66], 4);
                viewOf(chunk).setUint32(chunk.length - 4, computeCrc32(chunk.subarray(4, chunk.length - 4)));
                return chunk;
            });
        } else if (type === 'iTXt' && matchesAt(data, 0, 'XML:com.adobe.xmp\0')) {
            state.removed.add('xmp'); // XMP spec part 3 §1.1.5
        } else if (pngDroppedChunks.has(type)) {
            state.removed.add(`png:${type}`);
        } else {
            state.parts.push(bytes.subarray(offset, end));
        }
        offset = end;
        if (type === 'IEND') {
            if (end < bytes.length) state.removed.add('png:trailer');
            return state;
        }
    }
}

/** WebP RIFF container (developers.google.com/speed/webp/docs/riff_container): VP8X flag bits. */
const vp8xExifFlag = 0x08;
const vp8xXmpFlag = 0x04;

function stripWebp(bytes: Uint8Array): Collected {
    check(matchesAt(bytes, 0, 'RIFF') && matchesAt(bytes, 8, 'WEBP'));
    const view = viewOf(bytes);
    const riffEnd = 8 + view.getUint32(4, true);
    check(riffEnd <= bytes.length && riffEnd >= 12);
    const state: Collected = { parts: [], removed: new Set() };
    let vp8x: Uint8Array | undefined;
    for (let offset = 12; offset < riffEnd;) {
        check(offset + 8 <= riffEnd);
        const fourCc = readLatin1(bytes, offset, offset + 4);
        const size = view.getUint32(offset + 4, true);
        check(size <= riffEnd - offset - 8);
        const end = Math.min(offset + 8 + size + (size & 1), riffEnd); // odd sizes are padded
        const payload = bytes.subarray(offset + 8, offset + 8 + size);
        if (fourCc === 'VP8X') {
            check(offset === 12 && size >= 10);
            vp8x = Uint8Array.from(bytes.subarray(offset, end)); // a copy (Buffer#slice would share): flags change below
            state.parts.push(vp8x);
        } else if (fourCc === 'EXIF') {
            const hasHeader = matchesAt(payload, 0, exifHeader);
            replaceExif(state, hasHeader ? payload.subarray(exifHeader.length) : payload, (tiff) => {
                const body = hasHeader ? concatBytes([new Uint8Array(exifHeader), tiff]) : tiff;
                const chunk = concatBytes([new Uint8Array([0x45, 0x58, 0x49, 0x46, 0, 0, 0, 0]), body, new Uint8Array(body.length & 1)]);
                viewOf(chunk).setUint32(4, body.length, true);
                return chunk;
            });
        } else if (fourCc === 'XMP ') {
            state.removed.add('xmp');
        } else {
            state.parts.push(bytes.subarray(offset, end));
        }
        offset = end;
    }
    if (riffEnd < bytes.length) state.removed.add('webp:trailer');
    if (vp8x) {
        const keepsExif = state.orientation !== undefined && state.orientation !== 1;
        vp8x[8] = (vp8x[8] & ~vp8xXmpFlag & ~vp8xExifFlag) | (keepsExif ? vp8xExifFlag : 0);
    }
    const header = new Uint8Array(12);
    header.set(bytes.subarray(0, 12));
    viewOf(header).setUint32(
        4,
        state.parts.reduce((total, part) => total + part.length, 4),
        true,
    );
    state.parts.unshift(header);
    return state;
}

/** The walker each `metadata` value of the format table names. */
const walkers: Record<MetadataWalker, (bytes: Uint8Array) => Collected> = {
    jpeg: stripJpeg,
    png: stripPng,
    webp: stripWebp,
};

/**
 * Returns the image without EXIF (GPS included), XMP, IPTC, comments and text chunks, for the types
 * whose row in `formats.ts` names a `metadata` walker (JPEG, PNG and APNG, WebP; aliases and
 * parameters of `mime` are understood), copying every image-data segment byte-for-byte (pixels unchanged); an Exif Orientation
 * other than 1 is written back as a minimal Exif so photos stay upright. Other types, and images
 * without anything to remove, come back unchanged with `removed: []`. Never throws: a container it
 * cannot walk safely comes back unchanged with `malformed: true`; callers answer
 * `error-content-malformed` or store the file as is.
 */
export function stripImageMetadata(bytes: Uint8Array, mime: string): StripResult {
    const walker = findFormat(mime)?.metadata;
    if (!walker) return { bytes, removed: [] };
    try {
        const state = walkers[walker](bytes);
        const result: StripResult = { bytes, removed: Array.from(state.removed) };
        if (state.orientation !== undefined) result.orientation = state.orientation;
        if (result.removed.length > 0) result.bytes = concatBytes(state.parts);
        return result;
    } catch {
        // MalformedImage from the walkers, or a RangeError from a DataView read the checks missed.
        return { bytes, removed: [], malformed: true };
    }
}
