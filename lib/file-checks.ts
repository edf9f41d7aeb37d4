import { type EffectiveConfig } from './config';
import { UploadError } from './errors';
import { sanitizeFileName } from './filename';
import {
    isActiveContentType,
    isContainerType,
    isMediaTypeAllowed,
    isRecognisedByContent,
    isSameFormat,
    mimeFromFileName,
    normalizeMediaType,
} from './media-types';
import { stripImageMetadata } from './metadata';
import { type SniffedType, sniffFileType } from './sniff';

const OCTET_STREAM = 'application/octet-stream';

/** A file as announced before its bytes: name, size, the type the client declares. */
export interface DeclaredFile {
    name: string;
    size: number;
    type?: string;
}

/** A file ready to store: clean name, the type it really is, the bytes to keep. */
export interface CheckedFile {
    name: string;
    type: string;
    bytes: Buffer;
    /** Metadata removed from an image, e.g. ['exif', 'xmp']. */
    removedMetadata: string[];
}

function checkTypeAllowed(type: string, config: EffectiveConfig): void {
    const allowed =
        isMediaTypeAllowed(type, config.serverWhiteList, config.serverBlackList) &&
        isMediaTypeAllowed(type, config.allowedTypes, config.blockedTypes) &&
        !(config.blockActiveContent && isActiveContentType(type));
    if (!allowed) {
        throw new UploadError('error-type-not-allowed', { type });
    }
}

function checkSize(size: number, config: EffectiveConfig): void {
    if (size === 0) {
        throw new UploadError('error-empty-file');
    }
    if (size > config.maxFileSizeBytes) {
        throw new UploadError('error-size-not-allowed', { sizeAllowed: config.maxFileSizeBytes });
    }
}

/**
 * Everything that can be checked before any byte arrives, in core's order after the room:
 * name, size, then the declared type and the type of the extension against the lists.
 * Returns the clean name. Fails with `error-invalid-file-name`, `error-empty-file`,
 * `error-size-not-allowed` (with `sizeAllowed`), `error-type-not-allowed`.
 */
export function checkDeclaredFile(file: DeclaredFile, config: EffectiveConfig): string {
    const name = sanitizeFileName(file.name);
    if (name === undefined) {
        throw new UploadError('error-invalid-file-name');
    }
    checkSize(file.size, config);
    const extensionType = mimeFromFileName(name);
    for (const type of [file.type, extensionType]) {
        if (type !== undefined) {
            checkTypeAllowed(normalizeMediaType(type), config);
        }
    }
    return name;
}

/**
 * Decides the type a file really has from what its bytes are (`sniffed`), its declared type and its extension.
 * `off` trusts the client as core does; `standard` refuses a known format that disagrees with
 * what the client says; `strict` also refuses content of no recognised type.
 * Fails with `error-content-mismatch` or `error-content-unknown`.
 */
function determineFileType(sniffed: SniffedType | undefined, name: string, declaredType: string | undefined, config: EffectiveConfig): string {
    const declared = declaredType !== undefined ? normalizeMediaType(declaredType) : undefined;
    const byExtension = mimeFromFileName(name);
    const claims = [declared, byExtension].filter((t): t is string => t !== undefined && t !== OCTET_STREAM);
    if (config.contentCheck === 'off') {
        return claims[0] ?? sniffed?.mime ?? OCTET_STREAM;
    }
    if (sniffed === undefined) {
        // Bytes of no known format cannot be a format whose magic number the sniffer knows.
        if (claims.some(isRecognisedByContent)) {
            throw new UploadError('error-content-mismatch');
        }
        if (config.contentCheck === 'strict') {
            throw new UploadError('error-content-unknown');
        }
        return claims[0] ?? OCTET_STREAM;
    }
    if (sniffed.mime === 'text/plain') {
        // Text is text: a claim of a text type (csv, json, markdown…) refines it; a binary claim lies.
        if (claims.some(isRecognisedByContent)) {
            throw new UploadError('error-content-mismatch');
        }
        return claims[0] ?? 'text/plain';
    }
    if (claims.some((t) => !isSameFormat(t, sniffed.mime))) {
        throw new UploadError('error-content-mismatch');
    }
    // Within a shared container (mp4, zip…) the client's more precise name is kept.
    return claims.length > 0 && isContainerType(sniffed.mime) ? claims[0] : sniffed.mime;
}

/**
 * The checks that need the bytes, after `checkDeclaredFile`: real size, real type (see
 * `determineFileType`), active content and type lists on the real type, then metadata removal
 * from photos. Fails with `error-empty-file`, `error-size-not-allowed`, `error-content-mismatch`,
 * `error-content-unknown`, `error-type-not-allowed`, `error-content-malformed`.
 */
export function checkFileBytes(bytes: Buffer, name: string, declaredType: string | undefined, config: EffectiveConfig): CheckedFile {
    checkSize(bytes.length, config);
    const sniffed = sniffFileType(bytes);
    const type = determineFileType(sniffed, name, declaredType, config);
    // Active content is refused for what it is, whatever else it is called.
    if (config.blockActiveContent && sniffed?.active) {
        throw new UploadError('error-type-not-allowed', { type: sniffed.mime });
    }
    checkTypeAllowed(type, config);
    if (!config.stripMetadata) {
        return { name, type, bytes, removedMetadata: [] };
    }
    const stripped = stripImageMetadata(bytes, type);
    if (stripped.malformed) {
        // A photo that cannot be parsed cannot be cleaned: refusing keeps its location private.
        throw new UploadError('error-content-malformed');
    }
    return { name, type, bytes: Buffer.from(stripped.bytes), removedMetadata: stripped.removed };
}
