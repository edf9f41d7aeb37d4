/**
 * The media formats the app knows: one row per media type. Sniffing (`sniff.ts`), the file checks,
 * the media type helpers (`media-types.ts`) and metadata removal (`metadata.ts`) all read this table;
 * `docs/FORMATS.md` lists it and `test/unit/formats.test.cts` keeps the two and the fixtures in step.
 * Plain data and `Uint8Array` functions, no Node API. How to add a format: docs/FORMATS.md.
 */
import {
    adtsFrame,
    anyOf,
    bmpHeader,
    ebml,
    ebmlDocType,
    ftyp,
    ftypBrand,
    iconDirectory,
    javaClass,
    machO,
    magic,
    markupRoot,
    mpegAudioFrame,
    oggStream,
    plainText,
    riffForm,
    shebang,
    type Signature,
    zipArchive,
    zipEntryNamed,
    zipMimetype,
} from './signatures';

/** The metadata walker of `metadata.ts` that cleans a format. */
export type MetadataWalker = 'jpeg' | 'png' | 'webp';

/**
 * A format whose one magic number covers several media types: a claim of one member for bytes of
 * another is not a mismatch (an `.m4a` is an MP4, a `.docx` is a ZIP, an `.apng` is a PNG).
 */
export type Container = 'png' | 'mp4' | 'ogg' | 'matroska' | 'heif' | 'zip';

export interface MediaFormat {
    /** The media type, as the checks, the type lists and the room name it. */
    type: string;
    /** Other names clients send for the same type; they are read as `type`. */
    aliases?: readonly string[];
    /** Lower-case extensions (no dot) that claim this type; each extension belongs to one row. */
    extensions?: readonly string[];
    /** How the bytes show the format; without one the bytes cannot tell it (csv, doc, tar). */
    signature?: Signature;
    /** Content a browser or an OS could execute: refused while active content is blocked. */
    active?: boolean;
    container?: Container;
    /** Photo metadata (location, camera, comments) is removed by this walker before storing. */
    metadata?: MetadataWalker;
}

/**
 * Sniffing tries the magic signatures in this order, then the text rules in this order; the first
 * that matches names the type. So a row whose signature is a special case of another's comes first:
 * the ftyp brands before plain MP4, WebM before Matroska, the ZIP-based formats before ZIP, and
 * plain text last.
 */
export const MEDIA_FORMATS: readonly MediaFormat[] = [
    // ---- Images ----
    // PNG spec §5.2
    { type: 'image/png', aliases: ['image/x-png'], extensions: ['png'], signature: magic('\x89PNG\r\n\x1a\n'), container: 'png', metadata: 'png' },
    // a PNG with animation chunks: sniffs as PNG
    { type: 'image/apng', extensions: ['apng'], container: 'png', metadata: 'png' },
    // SOI + marker (ITU T.81)
    {
        type: 'image/jpeg',
        aliases: ['image/jpg', 'image/pjpeg'],
        extensions: ['jpg', 'jpeg', 'jpe', 'jfif'],
        signature: magic([0xff, 0xd8, 0xff]),
        metadata: 'jpeg',
    },
    // GIF87a and GIF89a specs
    { type: 'image/gif', extensions: ['gif'], signature: magic('GIF87a', 'GIF89a') },
    // WebP container spec
    { type: 'image/webp', extensions: ['webp'], signature: riffForm('WEBP'), metadata: 'webp' },
    { type: 'image/bmp', extensions: ['bmp'], signature: bmpHeader },
    // TIFF 6.0 header, both byte orders
    { type: 'image/tiff', extensions: ['tif', 'tiff'], signature: magic([0x49, 0x49, 0x2a, 0x00], [0x4d, 0x4d, 0x00, 0x2a]) },
    { type: 'image/x-icon', extensions: ['ico'], signature: iconDirectory },
    // AV1 Image File Format §8
    { type: 'image/avif', extensions: ['avif'], signature: ftypBrand('avif', 'avis') },
    // ISO 23008-12
    { type: 'image/heic', extensions: ['heic'], signature: ftypBrand('heic', 'heix', 'heim', 'heis', 'hevc', 'hevx'), container: 'heif' },
    // ISO 23008-12
    { type: 'image/heif', extensions: ['heif'], signature: ftypBrand('mif1', 'msf1'), container: 'heif' },
    { type: 'image/heic-sequence', container: 'heif' },
    { type: 'image/heif-sequence', container: 'heif' },
    { type: 'image/svg+xml', extensions: ['svg', 'svgz'], signature: markupRoot('svg'), active: true },

    // ---- Audio ----
    // ID3v2 tag header (id3.org), or a bare frame
    {
        type: 'audio/mpeg',
        aliases: ['audio/mp3', 'audio/x-mp3', 'audio/x-mpeg'],
        extensions: ['mp3'],
        signature: anyOf(magic('ID3'), mpegAudioFrame),
    },
    {
        type: 'audio/mp4',
        aliases: ['audio/x-m4a'],
        extensions: ['m4a'],
        signature: ftyp(({ major }) => ['M4A ', 'M4B ', 'M4P '].includes(major)),
        container: 'mp4',
    },
    { type: 'audio/aac', extensions: ['aac'], signature: adtsFrame },
    { type: 'audio/ogg', extensions: ['ogg', 'oga', 'opus'], signature: oggStream('audio'), container: 'ogg' },
    { type: 'audio/opus', container: 'ogg' },
    { type: 'application/ogg', container: 'ogg' },
    // Microsoft RIFF
    { type: 'audio/wav', aliases: ['audio/x-wav', 'audio/wave', 'audio/vnd.wave'], extensions: ['wav'], signature: riffForm('WAVE') },
    // FLAC format: stream marker
    { type: 'audio/flac', aliases: ['audio/x-flac'], extensions: ['flac'], signature: magic('fLaC') },
    // RFC 4867 §5 storage format
    { type: 'audio/amr', extensions: ['amr'], signature: magic('#!AMR\n') },
    // RFC 4867 §5 storage format
    { type: 'audio/amr-wb', signature: magic('#!AMR-WB\n') },
    // Standard MIDI File header chunk
    { type: 'audio/midi', extensions: ['mid', 'midi'], signature: magic('MThd') },
    { type: 'audio/webm', extensions: ['weba'], container: 'matroska' },
    { type: 'audio/x-matroska', container: 'matroska' },
    { type: 'audio/3gpp', container: 'mp4' },

    // ---- Video ----
    { type: 'video/quicktime', extensions: ['mov'], signature: ftyp(({ major }) => major === 'qt  '), container: 'mp4' },
    // 3GPP2 C.S0050
    { type: 'video/3gpp2', extensions: ['3g2'], signature: ftyp(({ major }) => major.startsWith('3g2')), container: 'mp4' },
    // 3GPP TS 26.244
    { type: 'video/3gpp', extensions: ['3gp'], signature: ftyp(({ major }) => major.startsWith('3gp')), container: 'mp4' },
    // any other ftyp
    { type: 'video/mp4', extensions: ['mp4', 'm4v'], signature: ftyp(() => true), container: 'mp4' },
    { type: 'video/x-m4v', container: 'mp4' },
    { type: 'video/webm', extensions: ['webm'], signature: ebmlDocType('webm'), container: 'matroska' },
    { type: 'video/x-matroska', extensions: ['mkv'], signature: ebml, container: 'matroska' },
    { type: 'video/ogg', extensions: ['ogv'], signature: oggStream('video'), container: 'ogg' },
    // Microsoft RIFF
    { type: 'video/x-msvideo', extensions: ['avi'], signature: riffForm('AVI ') },

    // ---- Documents ----
    // ISO 32000 §7.5.2 header
    { type: 'application/pdf', aliases: ['application/x-pdf'], extensions: ['pdf'], signature: magic('%PDF-') },
    // RTF 1.9 spec
    { type: 'application/rtf', extensions: ['rtf'], signature: magic('{\\rtf') },
    { type: 'application/msword', extensions: ['doc'] },
    { type: 'application/vnd.ms-excel', extensions: ['xls'] },
    { type: 'application/vnd.ms-powerpoint', extensions: ['ppt'] },
    {
        type: 'application/vnd.oasis.opendocument.text',
        extensions: ['odt'],
        signature: zipMimetype('application/vnd.oasis.opendocument.text'),
        container: 'zip',
    },
    {
        type: 'application/vnd.oasis.opendocument.spreadsheet',
        extensions: ['ods'],
        signature: zipMimetype('application/vnd.oasis.opendocument.spreadsheet'),
        container: 'zip',
    },
    {
        type: 'application/vnd.oasis.opendocument.presentation',
        extensions: ['odp'],
        signature: zipMimetype('application/vnd.oasis.opendocument.presentation'),
        container: 'zip',
    },
    { type: 'application/epub+zip', extensions: ['epub'], signature: zipMimetype('application/epub+zip'), container: 'zip' },
    {
        type: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
        extensions: ['docx'],
        signature: zipEntryNamed('word/'),
        container: 'zip',
    },
    {
        type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
        extensions: ['xlsx'],
        signature: zipEntryNamed('xl/'),
        container: 'zip',
    },
    {
        type: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
        extensions: ['pptx'],
        signature: zipEntryNamed('ppt/'),
        container: 'zip',
    },

    // ---- Archives and packages ----
    {
        type: 'application/vnd.android.package-archive',
        extensions: ['apk'],
        signature: zipEntryNamed('AndroidManifest.xml', 'classes.dex'),
        active: true,
        container: 'zip',
    },
    { type: 'application/java-archive', extensions: ['jar'], signature: zipEntryNamed('META-INF/'), active: true, container: 'zip' },
    { type: 'application/x-java-archive', active: true },
    { type: 'application/zip', aliases: ['application/x-zip-compressed'], extensions: ['zip'], signature: zipArchive, container: 'zip' },
    // RFC 1952 ID1 ID2 CM=deflate
    { type: 'application/gzip', extensions: ['gz', 'tgz'], signature: magic([0x1f, 0x8b, 0x08]) },
    // 7z format doc
    { type: 'application/x-7z-compressed', extensions: ['7z'], signature: magic([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]) },
    // RAR 4 and 5 marker block
    { type: 'application/vnd.rar', extensions: ['rar'], signature: magic([0x52, 0x61, 0x72, 0x21, 0x1a, 0x07]) },
    { type: 'application/x-tar', extensions: ['tar'] },
    { type: 'application/x-apple-diskimage', extensions: ['dmg'], active: true },

    // ---- Executables (Apache mime.types names) ----
    // DOS/PE header
    { type: 'application/x-msdownload', extensions: ['exe', 'dll', 'com', 'scr', 'bat', 'cmd', 'msi'], signature: magic('MZ'), active: true },
    { type: 'application/x-msdos-program', active: true },
    { type: 'application/x-msi', active: true },
    { type: 'application/x-ms-installer', active: true },
    // ELF e_ident
    { type: 'application/x-executable', extensions: ['elf'], signature: magic([0x7f, 0x45, 0x4c, 0x46]), active: true },
    { type: 'application/x-elf', active: true },
    { type: 'application/x-sharedlib', active: true },
    { type: 'application/x-mach-binary', signature: machO, active: true },
    { type: 'application/java-vm', signature: javaClass, active: true },

    // ---- Scripts ----
    { type: 'application/x-sh', extensions: ['sh'], signature: shebang, active: true },
    { type: 'application/x-shellscript', active: true },
    { type: 'text/x-shellscript', active: true },
    { type: 'application/x-csh', active: true },
    { type: 'application/x-bat', active: true },
    { type: 'application/x-powershell', extensions: ['ps1'], active: true },
    { type: 'text/vbscript', extensions: ['vbs'], active: true },
    { type: 'application/x-vbscript', active: true },
    { type: 'application/hta', extensions: ['hta'], active: true },
    { type: 'text/javascript', aliases: ['application/javascript', 'application/x-javascript'], extensions: ['js', 'mjs', 'cjs'], active: true },
    { type: 'application/ecmascript', active: true },
    { type: 'text/ecmascript', active: true },
    { type: 'application/x-httpd-php', active: true },
    { type: 'text/x-php', active: true },
    { type: 'text/x-python', active: true },
    { type: 'application/x-python', active: true },
    { type: 'text/x-perl', active: true },
    { type: 'application/x-perl', active: true },

    // ---- Markup ----
    { type: 'text/html', extensions: ['html', 'htm', 'shtml'], signature: markupRoot('html'), active: true },
    { type: 'application/xhtml+xml', extensions: ['xhtml'], active: true },
    { type: 'application/xml', extensions: ['xml', 'xsl'], signature: markupRoot('xml'), active: true },
    { type: 'text/xml', active: true },
    { type: 'text/xsl', active: true },

    // ---- Text: no magic number; a claim of one of these refines plain text ----
    { type: 'text/csv', extensions: ['csv'] },
    { type: 'text/tab-separated-values', extensions: ['tsv'] },
    { type: 'application/json', extensions: ['json'] },
    { type: 'text/markdown', extensions: ['md'] },
    { type: 'text/vtt', extensions: ['vtt'] },
    { type: 'text/css', extensions: ['css'] },
    { type: 'text/plain', extensions: ['txt', 'log'], signature: plainText },
];
