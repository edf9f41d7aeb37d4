// Type detection as Rocket.Chat's determineFileType (ee/lib/misc/determineFileType.ts): the type
// registered for the file name's extension first, then magic bytes, then application/octet-stream.
// The magic-byte table is a small subset of what the `file-type` package (used by core) knows.
import mime from 'mime-types';

const MAGIC: Array<{ type: string; at?: number; bytes: number[] | string }> = [
    {
        type: 'image/png',
        bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
    },
    { type: 'image/jpeg', bytes: [0xff, 0xd8, 0xff] },
    { type: 'image/gif', bytes: 'GIF8' },
    { type: 'image/webp', at: 8, bytes: 'WEBP' },
    { type: 'image/bmp', bytes: 'BM' },
    { type: 'application/pdf', bytes: '%PDF-' },
    { type: 'application/zip', bytes: [0x50, 0x4b, 0x03, 0x04] },
    { type: 'audio/mpeg', bytes: 'ID3' },
    { type: 'audio/wav', at: 8, bytes: 'WAVE' },
    { type: 'audio/ogg', bytes: 'OggS' },
    { type: 'audio/x-flac', bytes: 'fLaC' },
    { type: 'video/mp4', at: 4, bytes: 'ftyp' },
    { type: 'video/webm', bytes: [0x1a, 0x45, 0xdf, 0xa3] },
];

/** Returns the type the magic bytes show, or undefined. */
export function sniffFileType(buffer: Buffer): string | undefined {
    for (const m of MAGIC) {
        const sig = typeof m.bytes === 'string' ? Buffer.from(m.bytes, 'latin1') : Buffer.from(m.bytes);
        const at = m.at ?? 0;
        if (buffer.length >= at + sig.length && buffer.subarray(at, at + sig.length).equals(sig)) return m.type;
    }
    if (buffer.length >= 2 && buffer[0] === 0xff && (buffer[1] & 0xe0) === 0xe0) return 'audio/mpeg';
    return undefined;
}

/** The file's type as Rocket.Chat's upload bridge determines it. */
export function determineFileType(buffer: Buffer, name: string): string {
    const fromName = mime.lookup(name);
    if (typeof fromName === 'string') return fromName;
    return sniffFileType(buffer) ?? 'application/octet-stream';
}

/** Rocket.Chat's fileUploadIsValidContentType (app/utils/lib/restrictions.ts): blacklist first, empty/`*` whitelist allows all, `type/*` wildcards. */
export function isValidContentType(type: string | undefined, whiteList: string, blackList: string): boolean {
    const split = (s: string): string[] =>
        (s ?? '')
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean);
    const black = split(blackList);
    const white = split(whiteList);
    if (!type) return !black.includes('*') && (white.length === 0 || white.includes('*'));
    const wildcard = type.replace(/\/.*$/, '/*');
    if (black.includes(type) || black.includes(wildcard) || black.includes('*')) return false;
    if (white.length === 0 || white.includes('*')) return true;
    return white.includes(type) || white.includes(wildcard);
}
