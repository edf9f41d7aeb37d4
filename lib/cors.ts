/** Methods and headers a widget on another origin uses (see docs/API.md). */
const ALLOW_METHODS = 'GET, POST, PATCH, DELETE, OPTIONS';
const ALLOW_HEADERS = 'content-type, x-visitor-token, idempotency-key';
const MAX_AGE_SECONDS = '600';

/**
 * CORS headers for an answer to `origin`, given the allowed origins setting (`*` allows any:
 * the token travels in a header, never in a cookie, so no credentials are involved).
 * Returns no Allow-Origin header for an origin that is not allowed; the browser then blocks it.
 */
export function buildCorsHeaders(origin: string | undefined, allowedOrigins: string[]): Record<string, string> {
    const headers: Record<string, string> = {
        'access-control-allow-methods': ALLOW_METHODS,
        'access-control-allow-headers': ALLOW_HEADERS,
        'access-control-max-age': MAX_AGE_SECONDS,
        // A client on another origin can only honour Retry-After (a proxy's 429/503) if it may read it.
        'access-control-expose-headers': 'Retry-After',
    };
    if (allowedOrigins.includes('*')) {
        headers['access-control-allow-origin'] = '*';
        return headers;
    }
    headers.vary = 'Origin';
    if (origin !== undefined && allowedOrigins.includes(origin.replace(/\/+$/, ''))) {
        headers['access-control-allow-origin'] = origin;
    }
    return headers;
}
