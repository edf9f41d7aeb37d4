import { UploadError } from '../../lib/errors';

/** The code and details `fn` fails with, or undefined when it does not throw an UploadError. */
export function failureOf(fn: () => unknown): { code: string; details: unknown } | undefined {
    try {
        fn();
    } catch (e) {
        if (e instanceof UploadError) {
            return { code: e.code, details: e.details };
        }
        throw e;
    }
    return undefined;
}
