/**
 * Byte helpers shared by content sniffing and metadata removal. Plain `Uint8Array`, no Node API, so
 * the same code runs in the app, in Node and in a browser.
 */

/** A run of bytes to look for: a latin1 string (one byte per character) or byte values. */
export type BytePattern = string | readonly number[];

/** True when `pattern` is at `offset` of `bytes` (false when it would run past the end). */
export function matchesAt(bytes: Uint8Array, offset: number, pattern: BytePattern): boolean {
    if (offset < 0 || offset + pattern.length > bytes.length) return false;
    for (let i = 0; i < pattern.length; i++) {
        const expected = typeof pattern === 'string' ? pattern.charCodeAt(i) : pattern[i];
        if (bytes[offset + i] !== expected) return false;
    }
    return true;
}

/** The bytes from `start` up to `end` (exclusive, cut at the end of `bytes`) as a latin1 string. */
export function readLatin1(bytes: Uint8Array, start: number, end: number): string {
    return String.fromCharCode(...Array.from(bytes.subarray(start, Math.min(end, bytes.length))));
}

/** A DataView over exactly the bytes of `bytes`, which may be a view into a larger buffer. */
export function viewOf(bytes: Uint8Array): DataView {
    return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The big-endian 32-bit number at `offset`, or -1 when it would run past the end. */
export function readUint32BE(bytes: Uint8Array, offset: number): number {
    return offset >= 0 && offset + 4 <= bytes.length ? viewOf(bytes).getUint32(offset) : -1;
}

/** One new array holding `parts` one after the other. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
    const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
    let offset = 0;
    for (const part of parts) {
        out.set(part, offset);
        offset += part.length;
    }
    return out;
}
