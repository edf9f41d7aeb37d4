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

/** Other names clients send for the same type, mapped to the name the checks and the room use. */
const ALIASES: Record<string, string> = {
    'image/jpg': 'image/jpeg',
    'image/pjpeg': 'image/jpeg',
    'image/x-png': 'image/png',
    'audio/mp3': 'audio/mpeg',
    'audio/x-mp3': 'audio/mpeg',
    'audio/x-mpeg': 'audio/mpeg',
    'audio/x-wav': 'audio/wav',
    'audio/wave': 'audio/wav',
    'audio/vnd.wave': 'audio/wav',
    'audio/x-flac': 'audio/flac',
    'audio/x-m4a': 'audio/mp4',
    'application/x-zip-compressed': 'application/zip',
    'application/x-pdf': 'application/pdf',
    'application/x-javascript': 'text/javascript',
    'application/javascript': 'text/javascript',
};

/** Lower-cases a media type, drops its parameters (`; charset=…`) and resolves common aliases. */
export function normalizeMediaType(type: string): string {
    const bare = type.split(';')[0].trim().toLowerCase();
    return ALIASES[bare] ?? bare;
}

/**
 * Containers whose one magic number covers several media types: a type in the same family as the
 * sniffed one is not a mismatch (an `.m4a` is an MP4, a `.docx` is a ZIP).
 */
const FAMILIES: Array<[string, string[]]> = [
    ['mp4', ['video/mp4', 'audio/mp4', 'video/quicktime', 'video/3gpp', 'video/3gpp2', 'audio/3gpp', 'video/x-m4v']],
    ['ogg', ['audio/ogg', 'video/ogg', 'application/ogg', 'audio/opus']],
    ['matroska', ['video/webm', 'audio/webm', 'video/x-matroska', 'audio/x-matroska']],
    ['heif', ['image/heic', 'image/heif', 'image/heic-sequence', 'image/heif-sequence']],
    [
        'zip',
        [
            'application/zip',
            'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
            'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
            'application/vnd.openxmlformats-officedocument.presentationml.presentation',
            'application/vnd.oasis.opendocument.text',
            'application/vnd.oasis.opendocument.spreadsheet',
            'application/vnd.oasis.opendocument.presentation',
            'application/epub+zip',
            'application/java-archive',
            'application/vnd.android.package-archive',
        ],
    ],
];

function familyOf(mime: string): string {
    const found = FAMILIES.find(([, members]) => members.includes(mime));
    return found ? found[0] : mime;
}

/** True when two media types name the same format, allowing aliases and shared containers. */
export function isSameFormat(a: string, b: string): boolean {
    return familyOf(normalizeMediaType(a)) === familyOf(normalizeMediaType(b));
}

/** True for types the content check recognises by magic number, so their absence is telling. */
export function isContainerType(mime: string): boolean {
    return familyOf(normalizeMediaType(mime)) !== normalizeMediaType(mime);
}
