/**
 * Content sniffing: the real type of a file from its first bytes (magic numbers), and the type a
 * file name claims. Pure functions over bytes and strings, no engine or Node-only APIs.
 */

export interface SniffedType {
    mime: string;
    /** Lower-case extensions (without dot) that honestly name this content; '' means "no extension". */
    extensions: string[];
    /** True for content a browser or an OS could execute: HTML, SVG, XML, scripts, executables. */
    active?: boolean;
}

/** Only this much of a file is looked at (file-type uses the same budget). */
export const reasonableDetectionSizeInBytes = 4100;

type Pattern = string | number[];

function matchesAt(bytes: Uint8Array, offset: number, pattern: Pattern): boolean {
    if (offset + pattern.length > bytes.length) return false;
    for (let i = 0; i < pattern.length; i++) {
        const expected = typeof pattern === 'string' ? pattern.charCodeAt(i) : pattern[i];
        if (bytes[offset + i] !== expected) return false;
    }
    return true;
}

function readAscii(bytes: Uint8Array, start: number, end: number): string {
    return String.fromCharCode(...Array.from(bytes.subarray(start, Math.min(end, bytes.length))));
}

function readUint32BE(bytes: Uint8Array, offset: number): number {
    return offset + 4 <= bytes.length ? new DataView(bytes.buffer, bytes.byteOffset + offset, 4).getUint32(0) : -1;
}

function typeOf(mime: string, extensions: string[], active?: boolean): SniffedType {
    return active ? { mime, extensions, active } : { mime, extensions };
}

const activeType = (mime: string, extensions: string[]): SniffedType => typeOf(mime, extensions, true);

/** Fixed signatures at offset 0, most specific first. Sources beside each entry. */
const signatures: Array<[Pattern, SniffedType]> = [
    [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], typeOf('image/png', ['png', 'apng'])], // PNG spec §5.2
    [[0xff, 0xd8, 0xff], typeOf('image/jpeg', ['jpg', 'jpeg', 'jpe', 'jfif'])], // JPEG SOI + marker (ITU T.81)
    ['GIF87a', typeOf('image/gif', ['gif'])], // GIF87a spec
    ['GIF89a', typeOf('image/gif', ['gif'])], // GIF89a spec
    [[0x49, 0x49, 0x2a, 0x00], typeOf('image/tiff', ['tif', 'tiff'])], // TIFF 6.0 header, little-endian
    [[0x4d, 0x4d, 0x00, 0x2a], typeOf('image/tiff', ['tif', 'tiff'])], // TIFF 6.0 header, big-endian
    ['%PDF-', typeOf('application/pdf', ['pdf'])], // ISO 32000 §7.5.2 header
    ['{\\rtf', typeOf('application/rtf', ['rtf'])], // RTF 1.9 spec
    [[0x1f, 0x8b, 0x08], typeOf('application/gzip', ['gz', 'tgz'])], // RFC 1952 ID1 ID2 CM=deflate
    [[0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], typeOf('application/x-7z-compressed', ['7z'])], // 7z format doc
    [[0x52, 0x61, 0x72, 0x21, 0x1a, 0x07], typeOf('application/vnd.rar', ['rar'])], // RAR 4 and 5 marker block
    ['ID3', typeOf('audio/mpeg', ['mp3'])], // ID3v2 tag header (id3.org)
    ['fLaC', typeOf('audio/flac', ['flac'])], // FLAC format: stream marker
    ['#!AMR-WB\n', typeOf('audio/amr-wb', ['awb', 'amr'])], // RFC 4867 §5 storage format
    ['#!AMR\n', typeOf('audio/amr', ['amr'])], // RFC 4867 §5 storage format
    ['MThd', typeOf('audio/midi', ['mid', 'midi'])], // Standard MIDI File header chunk
    [[0x1a, 0x45, 0xdf, 0xa3], typeOf('video/x-matroska', ['mkv', 'mka', 'webm'])], // EBML header (RFC 8794)
    [[0x7f, 0x45, 0x4c, 0x46], activeType('application/x-executable', ['elf', 'so', 'o', 'bin', ''])], // ELF e_ident
    ['MZ', activeType('application/x-msdownload', ['exe', 'dll', 'com', 'scr', 'sys', 'cpl', 'ocx', 'efi'])], // DOS/PE header
];

/** ISO-BMFF `ftyp` brands (ISO 14496-12 §4.3; brand registry at mp4ra.org). */
function sniffIsoBmff(bytes: Uint8Array): SniffedType | undefined {
    if (!matchesAt(bytes, 4, 'ftyp')) return undefined;
    const boxEnd = Math.min(Math.max(readUint32BE(bytes, 0), 16), 64, bytes.length);
    const brands: string[] = [readAscii(bytes, 8, 12)];
    for (let i = 16; i + 4 <= boxEnd; i += 4) brands.push(readAscii(bytes, i, i + 4));
    const has = (...wanted: string[]) => brands.some((brand) => wanted.includes(brand));
    const major = brands[0];
    if (has('avif', 'avis')) return typeOf('image/avif', ['avif']); // AV1 Image File Format §8
    if (has('heic', 'heix', 'heim', 'heis', 'hevc', 'hevx')) return typeOf('image/heic', ['heic', 'heif']); // ISO 23008-12
    if (has('mif1', 'msf1')) return typeOf('image/heif', ['heif', 'heic']);
    if (major === 'qt  ') return typeOf('video/quicktime', ['mov', 'qt']);
    if (major.startsWith('3g2')) return typeOf('video/3gpp2', ['3g2']); // 3GPP2 C.S0050
    if (major.startsWith('3gp')) return typeOf('video/3gpp', ['3gp', '3gpp']); // 3GPP TS 26.244
    if (major === 'M4A ' || major === 'M4B ' || major === 'M4P ') return typeOf('audio/mp4', ['m4a', 'm4b', 'm4p', 'mp4']);
    return typeOf('video/mp4', ['mp4', 'm4v', 'm4a', 'mov']);
}

/** RIFF form types (Microsoft RIFF; WebP container spec). */
function sniffRiff(bytes: Uint8Array): SniffedType | undefined {
    if (!matchesAt(bytes, 0, 'RIFF')) return undefined;
    if (matchesAt(bytes, 8, 'WEBP')) return typeOf('image/webp', ['webp']);
    if (matchesAt(bytes, 8, 'WAVE')) return typeOf('audio/wav', ['wav', 'wave']);
    if (matchesAt(bytes, 8, 'AVI ')) return typeOf('video/x-msvideo', ['avi']);
    return undefined;
}

/** Formats whose signature needs more than a fixed prefix. */
function sniffStructured(bytes: Uint8Array): SniffedType | undefined {
    const head = readAscii(bytes, 0, reasonableDetectionSizeInBytes);
    if (matchesAt(bytes, 0, [0x1a, 0x45, 0xdf, 0xa3]) && head.slice(0, 64).includes('webm')) {
        return typeOf('video/webm', ['webm']); // EBML header's DocType (WebM container guidelines)
    }
    if (matchesAt(bytes, 0, 'OggS')) {
        // Ogg (RFC 3533); first packet names the codec: RFC 7845 (Opus), Vorbis I spec, Theora spec.
        if (head.includes('OpusHead')) return typeOf('audio/ogg', ['opus', 'ogg', 'oga']);
        if (head.includes('\x80theora')) return typeOf('video/ogg', ['ogv', 'ogg']);
        return typeOf('audio/ogg', ['ogg', 'oga', 'opus', 'spx']);
    }
    if (matchesAt(bytes, 0, 'BM') && [12, 40, 52, 56, 64, 108, 124].includes(bytes[14] | (bytes[15] << 8))) {
        return typeOf('image/bmp', ['bmp', 'dib']); // BITMAPFILEHEADER + known DIB header sizes
    }
    if (matchesAt(bytes, 0, [0, 0, 1, 0]) && bytes.length > 5 && (bytes[4] | bytes[5]) !== 0) {
        return typeOf('image/x-icon', ['ico']); // ICONDIR: reserved 0, type 1, count > 0
    }
    if ([0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe].includes(readUint32BE(bytes, 0))) {
        return activeType('application/x-mach-binary', ['dylib', 'bundle', '']); // <mach-o/loader.h> MH_MAGIC(_64), either order
    }
    if (matchesAt(bytes, 0, [0xca, 0xfe, 0xba, 0xbe])) {
        // Mach-O fat header (few architectures) vs. Java class file (major version >= 45), same magic.
        return readUint32BE(bytes, 4) < 45 ? activeType('application/x-mach-binary', ['']) : activeType('application/java-vm', ['class']);
    }
    if (bytes.length > 2 && bytes[0] === 0xff) {
        // ISO 13818-7 ADTS: 12-bit sync, layer 00. ISO 11172-3 frame header: 11-bit sync, layer II or III
        // (layer I would also match a UTF-16LE byte order mark), bitrate and sample rate not reserved.
        if ((bytes[1] & 0xf6) === 0xf0) return typeOf('audio/aac', ['aac']);
        const layer = bytes[1] & 0x06;
        if ((bytes[1] & 0xe0) === 0xe0 && (layer === 0x02 || layer === 0x04) && (bytes[2] & 0xf0) !== 0xf0 && (bytes[2] & 0x0c) !== 0x0c) {
            return typeOf('audio/mpeg', ['mp3', 'mp2', 'mpga']);
        }
    }
    return undefined;
}

/** ODF 1.2 part 3 §3.3 and EPUB OCF: a stored `mimetype` entry comes first and names the type. */
const zipMimetypeEntries: Array<[string, string]> = [
    ['application/vnd.oasis.opendocument.text', 'odt'],
    ['application/vnd.oasis.opendocument.spreadsheet', 'ods'],
    ['application/vnd.oasis.opendocument.presentation', 'odp'],
    ['application/epub+zip', 'epub'],
];

/** ECMA-376 part 2 (OPC): the part folders name the document kind. */
const officeOpenXmlFolders: Array<[string, string, string[]]> = [
    ['word/', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', ['docx', 'docm']],
    ['xl/', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', ['xlsx', 'xlsm']],
    ['ppt/', 'application/vnd.openxmlformats-officedocument.presentationml.presentation', ['pptx', 'pptm']],
];

/** ZIP (APPNOTE 4.3.7 local file header); the first entry names tell OOXML, ODF, JAR and APK apart. */
function sniffZip(bytes: Uint8Array): SniffedType | undefined {
    if (!matchesAt(bytes, 0, [0x50, 0x4b, 0x03, 0x04]) && !matchesAt(bytes, 0, [0x50, 0x4b, 0x05, 0x06])) return undefined;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let offset = 0; offset + 30 <= bytes.length && matchesAt(bytes, offset, [0x50, 0x4b, 0x03, 0x04]);) {
        const nameLength = view.getUint16(offset + 26, true);
        const dataStart = offset + 30 + nameLength + view.getUint16(offset + 28, true);
        const name = readAscii(bytes, offset + 30, offset + 30 + nameLength);
        if (name === 'mimetype') {
            const value = readAscii(bytes, dataStart, dataStart + 80);
            const known = zipMimetypeEntries.find(([mime]) => value.startsWith(mime));
            if (known) return typeOf(known[0], [known[1]]);
        }
        const folder = officeOpenXmlFolders.find(([prefix]) => name.startsWith(prefix));
        if (folder) return typeOf(folder[1], folder[2]);
        if (name === 'AndroidManifest.xml' || name === 'classes.dex') return activeType('application/vnd.android.package-archive', ['apk']);
        if (name.startsWith('META-INF/')) return activeType('application/java-archive', ['jar', 'war', 'ear']);
        const flags = view.getUint16(offset + 6, true);
        if (flags & 0x08) break; // sizes follow the data (data descriptor): cannot skip cheaply
        offset = dataStart + view.getUint32(offset + 18, true);
    }
    return typeOf('application/zip', ['zip']);
}

/** Root-level markup: the WHATWG MIME Sniffing §7.1 HTML patterns, SVG and XML roots. */
const htmlTags = ['html', 'head', 'script', 'iframe', 'h1', 'div', 'font', 'table', 'a', 'style', 'title', 'b', 'body', 'br', 'p'];

const htmlType = activeType('text/html', ['html', 'htm', 'xhtml', 'shtml']);
const svgType = activeType('image/svg+xml', ['svg', 'svgz']);
const xmlType = activeType('application/xml', ['xml', 'xsl', 'xslt', 'rss', 'atom', 'plist']);
const leadingWhitespace = /^[\t\n\f\r ]+/;

/** Returns the index just past `token` in `text`, or -1 when it is not there. */
function indexAfter(text: string, token: string): number {
    const found = text.indexOf(token);
    return found < 0 ? -1 : found + token.length;
}

function sniffMarkup(text: string): SniffedType | undefined {
    let rest = text.replace(leadingWhitespace, '');
    let isXml = false;
    let hasComment = false;
    let doctype = '';
    // Skip the prolog (XML 1.0 §2.8): declarations, processing instructions, comments, a doctype.
    for (;;) {
        const lower = rest.slice(0, 64).toLowerCase();
        let close: number;
        if (lower.startsWith('<?')) {
            isXml = isXml || lower.startsWith('<?xml');
            close = indexAfter(rest, '?>');
        } else if (lower.startsWith('<!--')) {
            hasComment = true;
            close = indexAfter(rest, '-->');
        } else if (lower.startsWith('<!doctype')) {
            doctype = (/^<!doctype\s+([a-z:]+)/.exec(lower) || ['', ''])[1];
            const bracket = rest.indexOf('[');
            close = indexAfter(rest, bracket >= 0 && bracket < rest.indexOf('>') ? ']>' : '>');
        } else break;
        if (close < 0) break; // unterminated within the window
        rest = rest.slice(close).replace(leadingWhitespace, '');
    }
    const root = /^<([a-z][a-z0-9._:-]*)([\t\n\f\r />]|$)/i.exec(rest);
    const localName = root ? root[1].toLowerCase().replace(/^.*:/, '') : '';
    if (doctype === 'html' || htmlTags.includes(localName)) return htmlType;
    if (doctype === 'svg' || localName === 'svg') return svgType;
    if (isXml) return xmlType;
    return hasComment ? htmlType : undefined; // the WHATWG `<!--` pattern
}

/** WHATWG MIME Sniffing §7.2 "binary data byte" set: C0 controls except TAB, LF, FF, CR, ESC. */
function isBinaryByte(byte: number): boolean {
    return byte <= 0x08 || byte === 0x0b || (byte >= 0x0e && byte <= 0x1a) || (byte >= 0x1c && byte <= 0x1f);
}

/** True when the bytes are UTF-8 (RFC 3629) without binary bytes; a sequence cut by the window counts as valid. */
function isPlainUtf8(bytes: Uint8Array, isCut: boolean): boolean {
    for (let i = 0; i < bytes.length;) {
        const lead = bytes[i];
        if (lead < 0x80) {
            if (isBinaryByte(lead)) return false;
            i++;
            continue;
        }
        const length = lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
        if (length === 0) return false;
        for (let k = 1; k < length; k++) {
            if (i + k >= bytes.length) return isCut;
            const next = bytes[i + k];
            const low = k === 1 && lead === 0xe0 ? 0xa0 : k === 1 && lead === 0xf0 ? 0x90 : 0x80;
            const high = k === 1 && lead === 0xed ? 0x9f : k === 1 && lead === 0xf4 ? 0x8f : 0xbf;
            if (next < low || next > high) return false;
        }
        i += length;
    }
    return true;
}

function decodeUtf16(bytes: Uint8Array, isLittleEndian: boolean): string {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    let text = '';
    for (let i = 0; i + 1 < bytes.length; i += 2) text += String.fromCharCode(view.getUint16(i, isLittleEndian));
    return text;
}

/** Text formats have no magic number: any of these names is honest for plain text. */
const textExtensions = ['txt', 'text', 'log', 'csv', 'tsv', 'md', 'markdown', 'json', 'ini', 'conf', 'yaml', 'yml', 'css', 'vtt', 'srt', 'js', 'mjs'];

const scriptType = activeType('application/x-sh', ['sh', 'bash', 'zsh', 'ksh', 'csh', 'command', 'py', 'pl', 'rb']);

function sniffText(bytes: Uint8Array, isCut: boolean): SniffedType | undefined {
    const plain = typeOf('text/plain', textExtensions);
    // A UTF-16 byte order mark (Unicode §23.8) makes the file text; the markup check still applies.
    if (matchesAt(bytes, 0, [0xfe, 0xff]) || matchesAt(bytes, 0, [0xff, 0xfe])) {
        return sniffMarkup(decodeUtf16(bytes.subarray(2), bytes[0] === 0xff)) || plain;
    }
    const body = matchesAt(bytes, 0, [0xef, 0xbb, 0xbf]) ? bytes.subarray(3) : bytes;
    if (matchesAt(body, 0, '#!')) return scriptType; // POSIX exec: `#!` names the interpreter
    const markup = sniffMarkup(readAscii(body, 0, body.length));
    if (markup) return markup;
    return isPlainUtf8(body, isCut) ? plain : undefined;
}

/**
 * Returns the type the first bytes of a file show (magic numbers, then markup, then plain UTF-8 text),
 * or `undefined` when the content is empty or unknown binary. Reads at most
 * `reasonableDetectionSizeInBytes`. JavaScript cannot be told from text by its bytes: it sniffs as
 * text/plain, so callers also check `mimeFromFileName`. Leads to `error-content-mismatch` and
 * `error-type-not-allowed` in the callers.
 */
export function sniffFileType(bytes: Uint8Array): SniffedType | undefined {
    const head = bytes.subarray(0, reasonableDetectionSizeInBytes);
    if (head.length === 0) return undefined;
    const signature = signatures.find(([pattern]) => matchesAt(head, 0, pattern));
    const found =
        sniffIsoBmff(head) ||
        sniffRiff(head) ||
        sniffZip(head) ||
        sniffStructured(head) ||
        (signature && signature[1]) ||
        sniffText(head, bytes.length > head.length);
    return found && { ...found, extensions: [...found.extensions] }; // callers get their own copy of the shared tables
}

/** Common extensions (IANA media types registry; Apache mime.types for the executables). */
const mimeByExtension = new Map<string, string>(
    Object.entries({
        png: 'image/png',
        apng: 'image/apng',
        jpg: 'image/jpeg',
        jpeg: 'image/jpeg',
        jpe: 'image/jpeg',
        jfif: 'image/jpeg',
        gif: 'image/gif',
        webp: 'image/webp',
        bmp: 'image/bmp',
        tif: 'image/tiff',
        tiff: 'image/tiff',
        ico: 'image/x-icon',
        heic: 'image/heic',
        heif: 'image/heif',
        avif: 'image/avif',
        svg: 'image/svg+xml',
        svgz: 'image/svg+xml',
        pdf: 'application/pdf',
        rtf: 'application/rtf',
        txt: 'text/plain',
        log: 'text/plain',
        csv: 'text/csv',
        tsv: 'text/tab-separated-values',
        json: 'application/json',
        md: 'text/markdown',
        vtt: 'text/vtt',
        css: 'text/css',
        html: 'text/html',
        htm: 'text/html',
        shtml: 'text/html',
        xhtml: 'application/xhtml+xml',
        xml: 'application/xml',
        xsl: 'application/xml',
        js: 'text/javascript',
        mjs: 'text/javascript',
        cjs: 'text/javascript',
        doc: 'application/msword',
        xls: 'application/vnd.ms-excel',
        ppt: 'application/vnd.ms-powerpoint',
        docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
        xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
        pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
        odt: 'application/vnd.oasis.opendocument.text',
        ods: 'application/vnd.oasis.opendocument.spreadsheet',
        odp: 'application/vnd.oasis.opendocument.presentation',
        epub: 'application/epub+zip',
        zip: 'application/zip',
        gz: 'application/gzip',
        tgz: 'application/gzip',
        '7z': 'application/x-7z-compressed',
        rar: 'application/vnd.rar',
        tar: 'application/x-tar',
        mp3: 'audio/mpeg',
        m4a: 'audio/mp4',
        aac: 'audio/aac',
        ogg: 'audio/ogg',
        oga: 'audio/ogg',
        opus: 'audio/ogg',
        wav: 'audio/wav',
        flac: 'audio/flac',
        amr: 'audio/amr',
        mid: 'audio/midi',
        midi: 'audio/midi',
        weba: 'audio/webm',
        mp4: 'video/mp4',
        m4v: 'video/mp4',
        mov: 'video/quicktime',
        '3gp': 'video/3gpp',
        '3g2': 'video/3gpp2',
        webm: 'video/webm',
        mkv: 'video/x-matroska',
        ogv: 'video/ogg',
        avi: 'video/x-msvideo',
        exe: 'application/x-msdownload',
        dll: 'application/x-msdownload',
        com: 'application/x-msdownload',
        scr: 'application/x-msdownload',
        bat: 'application/x-msdownload',
        cmd: 'application/x-msdownload',
        msi: 'application/x-msdownload',
        ps1: 'application/x-powershell',
        vbs: 'text/vbscript',
        hta: 'application/hta',
        jar: 'application/java-archive',
        apk: 'application/vnd.android.package-archive',
        sh: 'application/x-sh',
        dmg: 'application/x-apple-diskimage',
        elf: 'application/x-executable',
    }),
);

/**
 * Returns the media type a file name's extension claims (case-insensitive), or `undefined` for an
 * unknown or missing extension. Leads to `error-content-mismatch` / `error-type-not-allowed` in callers.
 */
export function mimeFromFileName(name: string): string | undefined {
    const match = /\.([^./\\]+)$/.exec(name);
    return match ? mimeByExtension.get(match[1].toLowerCase()) : undefined;
}

const activeTypes = new Set([
    'text/html',
    'application/xhtml+xml',
    'image/svg+xml',
    'application/xml',
    'text/xml',
    'text/xsl',
    'text/javascript',
    'application/javascript',
    'application/x-javascript',
    'application/ecmascript',
    'text/ecmascript',
    'application/x-msdownload',
    'application/x-msdos-program',
    'application/x-msi',
    'application/x-ms-installer',
    'application/x-executable',
    'application/x-elf',
    'application/x-mach-binary',
    'application/x-sharedlib',
    'application/x-sh',
    'application/x-shellscript',
    'application/x-csh',
    'text/x-shellscript',
    'application/x-bat',
    'application/x-powershell',
    'text/vbscript',
    'application/x-vbscript',
    'application/hta',
    'application/java-archive',
    'application/x-java-archive',
    'application/java-vm',
    'application/vnd.android.package-archive',
    'application/x-apple-diskimage',
    'application/x-httpd-php',
    'text/x-php',
    'text/x-python',
    'application/x-python',
    'text/x-perl',
    'application/x-perl',
]);

/**
 * Returns true when a media type (parameters and case ignored) names content a browser or an OS
 * could execute: HTML/XHTML, SVG, any XML (`+xml` too), JavaScript, executables, installers and
 * scripts. Leads to `error-type-not-allowed` in callers when active content is blocked.
 */
export function isActiveContentType(mime: string): boolean {
    const essence = mime.split(';')[0].trim().toLowerCase();
    return activeTypes.has(essence) || essence.endsWith('+xml');
}
