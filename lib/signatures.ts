/**
 * The ways a format shows in its first bytes, as values the format table (`formats.ts`) uses in its
 * `signature` column. Pure functions over `Uint8Array`, no Node API. Sources beside each one.
 */
import { type BytePattern, matchesAt, readLatin1, readUint32BE, viewOf } from './bytes';

/**
 * How a format shows in its bytes. `magic`: a signature every file of the format carries, so a
 * file claimed to be of the format without it is not (`error-content-mismatch`). `text`: a rule over
 * text content (markup roots, a shebang, plain UTF-8), tried after every magic signature.
 */
export interface Signature {
    kind: 'magic' | 'text';
    matches(probe: ContentProbe): boolean;
}

/** ISO-BMFF `ftyp` brands: the major brand and every brand listed. */
export interface FtypBrands {
    major: string;
    all: string[];
}

/** One ZIP local file entry: its name, and the first bytes of its data when it is named `mimetype`. */
export interface ZipEntry {
    name: string;
    mimetype?: string;
}

type MarkupRoot = 'html' | 'svg' | 'xml';

/** The first bytes of a file, and what several signatures read from them, each worked out once. */
export class ContentProbe {
    private readonly computed = new Map<string, unknown>();

    /** `head`: the first bytes of the file; `isCut`: the file goes on after them. */
    constructor(
        public readonly head: Uint8Array,
        public readonly isCut: boolean,
    ) {}

    private once<T>(key: string, compute: () => T): T {
        if (!this.computed.has(key)) this.computed.set(key, compute());
        return this.computed.get(key) as T;
    }

    /** The `ftyp` brands, or undefined when the file is not ISO-BMFF. */
    get ftyp(): FtypBrands | undefined {
        return this.once('ftyp', () => readFtypBrands(this.head));
    }

    /** The first ZIP entry (as far as the head shows them) that some `zipEntry` signature recognises. */
    get tellingZipEntry(): ZipEntry | undefined {
        return this.once('zip', () => readZipEntries(this.head).find((entry) => zipEntryTests.some((test) => test(entry))));
    }

    /** The head as latin1 text (Ogg and EBML identifiers are ASCII inside binary). */
    get latin1(): string {
        return this.once('latin1', () => readLatin1(this.head, 0, this.head.length));
    }

    /** What the text rules need: the root of any markup, a shebang, whether the whole head is plain text. */
    get text(): { markup?: MarkupRoot; shebang: boolean; plain: boolean } {
        return this.once('text', () => readText(this.head, this.isCut));
    }
}

/** Any of `patterns` at the start of the file. */
export function magic(...patterns: BytePattern[]): Signature {
    return { kind: 'magic', matches: (probe) => patterns.some((pattern) => matchesAt(probe.head, 0, pattern)) };
}

/** Any of `signatures` (all of one kind). */
export function anyOf(...signatures: Signature[]): Signature {
    return { kind: signatures[0].kind, matches: (probe) => signatures.some((signature) => signature.matches(probe)) };
}

/** A byte signature that takes more than a fixed prefix; `test` says where it comes from. */
export function magicTest(test: (head: Uint8Array) => boolean): Signature {
    return { kind: 'magic', matches: (probe) => test(probe.head) };
}

/** An ISO-BMFF file (ISO 14496-12 §4.3; brand registry at mp4ra.org) whose `ftyp` brands pass `test`. */
export function ftyp(test: (brands: FtypBrands) => boolean): Signature {
    return { kind: 'magic', matches: (probe) => probe.ftyp !== undefined && test(probe.ftyp) };
}

/** An ISO-BMFF file listing any of these brands. */
export function ftypBrand(...brands: string[]): Signature {
    return ftyp(({ all }) => all.some((brand) => brands.includes(brand)));
}

/** A RIFF file (Microsoft RIFF) of this form type. */
export function riffForm(form: string): Signature {
    return magicTest((head) => matchesAt(head, 0, 'RIFF') && matchesAt(head, 8, form));
}

/** Every test a `zipEntry` signature was made with (all made when the format table loads). */
const zipEntryTests: Array<(entry: ZipEntry) => boolean> = [];

/**
 * A ZIP whose first telling entry passes `test`: the first entry any `zipEntry` signature
 * recognises decides, as packagers write the entry that names the kind first (ODF and EPUB
 * require `mimetype` first; a JAR starts with `META-INF/`).
 */
export function zipEntry(test: (entry: ZipEntry) => boolean): Signature {
    zipEntryTests.push(test);
    return {
        kind: 'magic',
        matches: (probe) => {
            const entry = probe.tellingZipEntry;
            return entry !== undefined && test(entry);
        },
    };
}

/** ODF 1.2 part 3 §3.3 and EPUB OCF: a stored `mimetype` entry names the type. */
export function zipMimetype(type: string): Signature {
    return zipEntry((entry) => entry.name === 'mimetype' && entry.mimetype !== undefined && entry.mimetype.startsWith(type));
}

/** ECMA-376 part 2 (OPC) and jar/apk layouts: an entry under this folder or of this name. */
export function zipEntryNamed(...prefixes: string[]): Signature {
    return zipEntry((entry) => prefixes.some((prefix) => entry.name.startsWith(prefix)));
}

/** ZIP (APPNOTE 4.3.7 local file header, 4.3.16 end of central directory for an empty archive). */
export const zipArchive = magic([0x50, 0x4b, 0x03, 0x04], [0x50, 0x4b, 0x05, 0x06]);

const ebmlMagic = [0x1a, 0x45, 0xdf, 0xa3];

/** An EBML file (RFC 8794) whose header names this DocType (WebM container guidelines). */
export function ebmlDocType(docType: string): Signature {
    return { kind: 'magic', matches: (probe) => matchesAt(probe.head, 0, ebmlMagic) && probe.latin1.slice(0, 64).includes(docType) };
}

/** Any EBML file (Matroska and its kin). */
export const ebml = magic(ebmlMagic);

/**
 * An Ogg file (RFC 3533) whose first packet names a video codec (Theora spec) or not; Opus
 * (RFC 7845) is audio even when a Theora header follows.
 */
export function oggStream(kind: 'audio' | 'video'): Signature {
    return {
        kind: 'magic',
        matches: (probe) => {
            if (!matchesAt(probe.head, 0, 'OggS')) return false;
            const isVideo = !probe.latin1.includes('OpusHead') && probe.latin1.includes('\x80theora');
            return isVideo === (kind === 'video');
        },
    };
}

/** BITMAPFILEHEADER + a known DIB header size. */
export const bmpHeader = magicTest((head) => matchesAt(head, 0, 'BM') && [12, 40, 52, 56, 64, 108, 124].includes(head[14] | (head[15] << 8)));

/** ICONDIR: reserved 0, type 1, count > 0. */
export const iconDirectory = magicTest((head) => matchesAt(head, 0, [0, 0, 1, 0]) && head.length > 5 && (head[4] | head[5]) !== 0);

/**
 * Mach-O (<mach-o/loader.h> MH_MAGIC(_64), either byte order), and the fat header CA FE BA BE that
 * Java class files share: a fat header counts few architectures, a class file's major version is >= 45.
 */
export const machO = magicTest(
    (head) =>
        [0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe].includes(readUint32BE(head, 0)) ||
        (matchesAt(head, 0, [0xca, 0xfe, 0xba, 0xbe]) && readUint32BE(head, 4) < 45),
);

/** A Java class file (JVM spec §4.1): CA FE BA BE, then a major version >= 45. */
export const javaClass = magicTest((head) => matchesAt(head, 0, [0xca, 0xfe, 0xba, 0xbe]) && readUint32BE(head, 4) >= 45);

/**
 * ISO 11172-3 frame header: 11-bit sync, layer II or III (layer I would also match a UTF-16LE byte
 * order mark), bitrate and sample rate not reserved.
 */
export const mpegAudioFrame = magicTest((head) => {
    if (head.length <= 2 || head[0] !== 0xff || (head[1] & 0xf6) === 0xf0) return false; // 0xf0 after masking: ADTS
    const layer = head[1] & 0x06;
    return (head[1] & 0xe0) === 0xe0 && (layer === 0x02 || layer === 0x04) && (head[2] & 0xf0) !== 0xf0 && (head[2] & 0x0c) !== 0x0c;
});

/** ISO 13818-7 ADTS: 12-bit sync, layer 00. */
export const adtsFrame = magicTest((head) => head.length > 2 && head[0] === 0xff && (head[1] & 0xf6) === 0xf0);

/** Markup whose root is HTML (WHATWG MIME Sniffing §7.1), SVG, or other XML. */
export function markupRoot(root: MarkupRoot): Signature {
    return { kind: 'text', matches: (probe) => probe.text.markup === root };
}

/** POSIX exec: a text file starting with `#!` names its interpreter. */
export const shebang: Signature = { kind: 'text', matches: (probe) => probe.text.shebang };

/** UTF-8 (RFC 3629) without binary bytes, or text with a UTF-16 byte order mark. */
export const plainText: Signature = { kind: 'text', matches: (probe) => probe.text.plain };

function readFtypBrands(head: Uint8Array): FtypBrands | undefined {
    if (!matchesAt(head, 4, 'ftyp')) return undefined;
    const boxEnd = Math.min(Math.max(readUint32BE(head, 0), 16), 64, head.length);
    const all: string[] = [readLatin1(head, 8, 12)];
    for (let i = 16; i + 4 <= boxEnd; i += 4) all.push(readLatin1(head, i, i + 4));
    return { major: all[0], all };
}

const zipLocalHeader = [0x50, 0x4b, 0x03, 0x04];

function readZipEntries(head: Uint8Array): ZipEntry[] {
    const entries: ZipEntry[] = [];
    const view = viewOf(head);
    for (let offset = 0; offset + 30 <= head.length && matchesAt(head, offset, zipLocalHeader);) {
        const nameLength = view.getUint16(offset + 26, true);
        const dataStart = offset + 30 + nameLength + view.getUint16(offset + 28, true);
        const name = readLatin1(head, offset + 30, offset + 30 + nameLength);
        entries.push(name === 'mimetype' ? { name, mimetype: readLatin1(head, dataStart, dataStart + 80) } : { name });
        const flags = view.getUint16(offset + 6, true);
        if (flags & 0x08) break; // sizes follow the data (data descriptor): cannot skip cheaply
        offset = dataStart + view.getUint32(offset + 18, true);
    }
    return entries;
}

/** Root-level markup: the WHATWG MIME Sniffing §7.1 HTML patterns, SVG and XML roots. */
const htmlTags = ['html', 'head', 'script', 'iframe', 'h1', 'div', 'font', 'table', 'a', 'style', 'title', 'b', 'body', 'br', 'p'];
const leadingWhitespace = /^[\t\n\f\r ]+/;

/** Returns the index just past `token` in `text`, or -1 when it is not there. */
function indexAfter(text: string, token: string): number {
    const found = text.indexOf(token);
    return found < 0 ? -1 : found + token.length;
}

function readMarkupRoot(text: string): MarkupRoot | undefined {
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
    if (doctype === 'html' || htmlTags.includes(localName)) return 'html';
    if (doctype === 'svg' || localName === 'svg') return 'svg';
    if (isXml) return 'xml';
    return hasComment ? 'html' : undefined; // the WHATWG `<!--` pattern
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
    const view = viewOf(bytes);
    let text = '';
    for (let i = 0; i + 1 < bytes.length; i += 2) text += String.fromCharCode(view.getUint16(i, isLittleEndian));
    return text;
}

function readText(head: Uint8Array, isCut: boolean): { markup?: MarkupRoot; shebang: boolean; plain: boolean } {
    // A UTF-16 byte order mark (Unicode §23.8) makes the file text; the markup check still applies.
    if (matchesAt(head, 0, [0xfe, 0xff]) || matchesAt(head, 0, [0xff, 0xfe])) {
        return { markup: readMarkupRoot(decodeUtf16(head.subarray(2), head[0] === 0xff)), shebang: false, plain: true };
    }
    const body = matchesAt(head, 0, [0xef, 0xbb, 0xbf]) ? head.subarray(3) : head;
    return { markup: readMarkupRoot(readLatin1(body, 0, body.length)), shebang: matchesAt(body, 0, '#!'), plain: isPlainUtf8(body, isCut) };
}
