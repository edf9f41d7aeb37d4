/**
 * File name cleaning: what a visitor's file is called in the room and in storage.
 * Pure string functions, no engine or Node-only APIs.
 */

/** Invisible formatting characters that can disguise a name: soft hyphen, Arabic letter mark,
 * Mongolian vowel separator, zero-width space/joiners, LRM/RLM, bidi embeddings and overrides
 * (U+202A–U+202E), word joiner and invisible operators, bidi isolates (U+2066–U+2069), deprecated
 * format controls and the BOM (Unicode UAX #9 and the Cf general category). */
const invisibleCharacters = /[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]/g;

/** C0 controls, DEL and C1 controls (ISO/IEC 6429). */
const controlCharacters = /[\u0000-\u001f\u007f-\u009f]/g;

/** Characters Windows refuses in names (Win32 "Naming Files, Paths, and Namespaces"). */
const windowsForbiddenCharacters = /[<>:"|?*]/g;

/** Reserved DOS device names, with or without extension (same Win32 page; ¹²³ count as digits there). */
const windowsReservedStem = /^(con|prn|aux|nul|com[1-9\u00b9\u00b2\u00b3]|lpt[1-9\u00b9\u00b2\u00b3])$/i;

function isLoneSurrogate(character: string): boolean {
    const code = character.charCodeAt(0);
    return character.length === 1 && code >= 0xd800 && code <= 0xdfff;
}

function measureUtf8Bytes(text: string): number {
    let total = 0;
    for (const character of text) {
        const code = character.codePointAt(0) || 0;
        total += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    }
    return total;
}

/** Returns the longest prefix of `text` within `maxBytes` UTF-8 bytes, cut between code points. */
function cutToUtf8Bytes(text: string, maxBytes: number): string {
    let kept = '';
    let used = 0;
    for (const character of text) {
        const size = measureUtf8Bytes(character);
        if (used + size > maxBytes) break;
        kept += character;
        used += size;
    }
    return kept;
}

function splitExtension(name: string): { stem: string; extension: string } {
    const dot = name.lastIndexOf('.');
    return dot > 0 ? { stem: name.slice(0, dot), extension: name.slice(dot) } : { stem: name, extension: '' };
}

function trimEnds(name: string): string {
    return name.replace(/^[.\s]+/, '').replace(/[.\s]+$/, '');
}

function isReservedName(name: string): boolean {
    return windowsReservedStem.test(name.split('.')[0].trim());
}

/** Cuts the stem so the whole name fits `maxBytes`, keeping the extension when a stem character still fits. */
function limitNameBytes(name: string, maxBytes: number): string {
    if (measureUtf8Bytes(name) <= maxBytes) return name;
    const { stem, extension } = splitExtension(name);
    const stemBudget = maxBytes - measureUtf8Bytes(extension);
    const cutStem = stemBudget > 0 ? trimEnds(cutToUtf8Bytes(stem, stemBudget)) : '';
    return cutStem ? cutStem + extension : trimEnds(cutToUtf8Bytes(name, maxBytes));
}

/**
 * Returns a safe display and storage name for a visitor's file name: the last path segment,
 * NFC-normalised, without control, bidi-override or zero-width characters, Windows-forbidden
 * characters replaced by `_`, whitespace collapsed, no leading dots and no trailing dots or spaces,
 * reserved device names prefixed with `_`, at most `maxBytes` UTF-8 bytes with the extension kept.
 * Returns `undefined` when nothing usable is left; callers answer `error-invalid-file-name`.
 */
export function sanitizeFileName(name: string, maxBytes = 255): string | undefined {
    if (typeof name !== 'string' || !(maxBytes >= 1)) return undefined;
    const lastSegment = name.normalize('NFC').split(/[\\/]/).pop() || '';
    const visible = Array.from(lastSegment)
        .filter((character) => !isLoneSurrogate(character))
        .join('')
        .replace(/\s+/g, ' ')
        .replace(controlCharacters, '')
        .replace(invisibleCharacters, '')
        .replace(windowsForbiddenCharacters, '_')
        .replace(/ {2,}/g, ' ');
    const trimmed = trimEnds(visible);
    if (trimmed === '' || trimmed === '.' || trimmed === '..') return undefined;
    let limited = limitNameBytes(trimmed, Math.floor(maxBytes));
    if (isReservedName(limited)) limited = limitNameBytes(`_${limited}`, Math.floor(maxBytes));
    return limited === '' ? undefined : limited;
}

/**
 * Returns the lower-case extension of a file name's last path segment, without the dot, or ''
 * when there is none (no dot, a leading dot only as in `.htaccess`, or a trailing dot). Never fails.
 */
export function fileExtension(name: string): string {
    const lastSegment = name.split(/[\\/]/).pop() || '';
    return splitExtension(lastSegment).extension.slice(1).toLowerCase();
}
