/**
 * Media type rules, all read from the format table (`formats.ts`): names, aliases, extensions,
 * active content, shared containers. Pure functions over strings, no Node API.
 */
import { fileExtension } from './filename';
import { MEDIA_FORMATS, type MediaFormat } from './formats';

const formatByName = new Map<string, MediaFormat>();
const formatByExtension = new Map<string, MediaFormat>();
for (const format of MEDIA_FORMATS) {
    for (const name of [format.type, ...(format.aliases ?? [])]) formatByName.set(name, format);
    for (const extension of format.extensions ?? []) formatByExtension.set(extension, format);
}

/** The bare media type: lower-case, without parameters (`; charset=…`), RFC 9110 §8.3.1. */
function essenceOf(type: string): string {
    return type.split(';')[0].trim().toLowerCase();
}

/** The table's row for a media type or one of its aliases (parameters and case ignored), or undefined. */
export function findFormat(type: string): MediaFormat | undefined {
    return formatByName.get(essenceOf(type));
}

/** Lower-cases a media type, drops its parameters (`; charset=…`) and resolves aliases (`image/jpg` → `image/jpeg`). */
export function normalizeMediaType(type: string): string {
    return findFormat(type)?.type ?? essenceOf(type);
}

/**
 * Returns the media type a file name's extension claims (case-insensitive), or `undefined` for an
 * unknown or missing extension. Leads to `error-content-mismatch` / `error-type-not-allowed` in callers.
 */
export function mimeFromFileName(name: string): string | undefined {
    return formatByExtension.get(fileExtension(name))?.type;
}

/**
 * Returns true when a media type (parameters and case ignored) names content a browser or an OS
 * could execute: HTML/XHTML, SVG, any XML (`+xml` too, RFC 7303 §4.2), JavaScript, executables,
 * installers and scripts. Leads to `error-type-not-allowed` in callers when active content is blocked.
 */
export function isActiveContentType(type: string): boolean {
    return findFormat(type)?.active === true || essenceOf(type).endsWith('+xml');
}

/** The container a type is checked as (`mp4` for `audio/mp4` and `video/quicktime`), or the type itself. */
function formatFamilyOf(type: string): string {
    return findFormat(type)?.container ?? normalizeMediaType(type);
}

/** True when two media types name the same format, allowing aliases and shared containers. */
export function isSameFormat(a: string, b: string): boolean {
    return formatFamilyOf(a) === formatFamilyOf(b);
}

/**
 * True when the type lives in a container that other types share (MP4, Ogg, Matroska, HEIF, ZIP,
 * PNG): the bytes then show only the container, so the client's more precise name is kept.
 */
export function isContainerType(type: string): boolean {
    return findFormat(type)?.container !== undefined;
}

const containersWithMagic = new Set(MEDIA_FORMATS.filter((f) => f.container && f.signature?.kind === 'magic').map((f) => f.container));

/**
 * True when every file of this type starts with a magic number the sniffer knows, its own or its
 * container's, so bytes without it cannot be of this type: claiming it for them is
 * `error-content-mismatch`. Active types are left out: some of their extensions name other bytes
 * (a `.bat` is text, an `.msi` is not a PE file), and they are refused by default anyway.
 */
export function isRecognisedByContent(type: string): boolean {
    const format = findFormat(type);
    if (!format || format.active) return false;
    return format.signature?.kind === 'magic' || (format.container !== undefined && containersWithMagic.has(format.container));
}

/**
 * Core's media type list rule (apps/meteor/app/utils/lib/restrictions.ts): the black list first,
 * then an empty or `*` white list allows everything, otherwise the type or its `type/*` wildcard
 * must be on the white list. Lists are lower-case.
 * Returns true when `type` may be uploaded.
 */
export function isMediaTypeAllowed(type: string, whiteList: string[], blackList: string[]): boolean {
    const mime = type.toLowerCase();
    const wildcard = mime.replace(/\/.*$/, '/*');
    if (blackList.includes(mime) || blackList.includes(wildcard)) {
        return false;
    }
    if (whiteList.length === 0 || whiteList.includes('*')) {
        return true;
    }
    return whiteList.includes(mime) || whiteList.includes(wildcard);
}

/**
 * The types allowed by two white lists at once (the server's, then the app's), as one list a widget
 * can filter its file picker with: empty means any type. `image/*` on one side and `image/png` on the
 * other give `image/png`; types on one side only that the other side does not cover are dropped.
 */
export function effectiveAllowedTypes(serverWhiteList: string[], appAllowedTypes: string[]): string[] {
    const isOpen = (list: string[]): boolean => list.length === 0 || list.includes('*');
    if (isOpen(serverWhiteList)) {
        return isOpen(appAllowedTypes) ? [] : [...appAllowedTypes];
    }
    if (isOpen(appAllowedTypes)) {
        return [...serverWhiteList];
    }
    const covers = (outer: string, inner: string): boolean => outer === inner || (outer.endsWith('/*') && inner.startsWith(outer.slice(0, -1)));
    const both = [
        ...appAllowedTypes.filter((t) => serverWhiteList.some((s) => covers(s, t))),
        ...serverWhiteList.filter((s) => appAllowedTypes.some((t) => covers(t, s))),
    ];
    return [...new Set(both)];
}
