/**
 * Content sniffing: the real type of a file from its first bytes, by the signatures of the format
 * table (`formats.ts`). Pure functions over bytes, no Node API.
 */
import { MEDIA_FORMATS, type MediaFormat } from './formats';
import { ContentProbe, type Signature } from './signatures';

export interface SniffedType {
    mime: string;
    /** Lower-case extensions (without dot) that claim this type. */
    extensions: string[];
    /** True for content a browser or an OS could execute: HTML, SVG, XML, scripts, executables. */
    active?: boolean;
}

/** Only this much of a file is looked at (file-type uses the same budget). */
export const reasonableDetectionSizeInBytes = 4100;

type SniffableFormat = MediaFormat & { signature: Signature };

/** Magic numbers first, then the text rules, each in table order (see `MEDIA_FORMATS`). */
const sniffingOrder: SniffableFormat[] = (['magic', 'text'] as const).flatMap((kind) =>
    MEDIA_FORMATS.filter((format): format is SniffableFormat => format.signature?.kind === kind),
);

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
    const probe = new ContentProbe(head, bytes.length > head.length);
    const found = sniffingOrder.find((format) => format.signature.matches(probe));
    if (!found) return undefined;
    const sniffed: SniffedType = { mime: found.type, extensions: [...(found.extensions ?? [])] };
    if (found.active) sniffed.active = true;
    return sniffed;
}
