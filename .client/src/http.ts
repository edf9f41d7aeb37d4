import { isInProgressError, isTransientError, UploadAbortedError, UploadHttpError, UploadNetworkError } from './errors.js';

export interface RetryPolicy {
    /** Further attempts after the first; 0 never retries. */
    retries: number;
    minDelayMs: number;
    maxDelayMs: number;
    /**
     * How long one request may keep waiting, in total, while the server answers
     * `error-upload-in-progress` (another request is completing the upload); these waits do not
     * use up `retries`, since nothing failed.
     */
    inProgressMaxWaitMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 5, minDelayMs: 500, maxDelayMs: 30_000, inProgressMaxWaitMs: 120_000 };

/** The shortest wait after `error-upload-in-progress`, so a server answering `retryAfterMs: 0` is not hammered. */
const MIN_IN_PROGRESS_WAIT_MS = 250;

/** Waits `ms`, rejecting with `UploadAbortedError` as soon as `signal` fires. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const sleep: Sleep = (ms, signal) =>
    new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(new UploadAbortedError());
        const onAbort = () => {
            clearTimeout(timer);
            reject(new UploadAbortedError());
        };
        const timer = setTimeout(() => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
        }, ms);
        signal?.addEventListener('abort', onAbort, { once: true });
    });

export interface Transport {
    fetch: typeof fetch;
    /** `<server>/api/apps/public/<appId>/` */
    baseUrl: string;
    visitorToken: string;
    signal?: AbortSignal;
    retry: RetryPolicy;
    sleep: Sleep;
}

// A JSON answer; the fields depend on the route (docs/API.md).
export type Answer = Record<string, any>;

export interface RequestOptions {
    query?: Record<string, string>;
    body?: unknown;
    headers?: Record<string, string>;
}

/** `Retry-After` is either delay-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
    if (!value) return undefined;
    if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
    const date = Date.parse(value);
    return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The server's wait (`retryAfterMs`, `Retry-After`) when it sent one, else exponential backoff with full jitter. */
export function backoffDelayMs(attempt: number, policy: RetryPolicy, err: unknown): number {
    if (err instanceof UploadHttpError && err.retryAfterMs !== undefined) return err.retryAfterMs;
    const cap = Math.min(policy.maxDelayMs, policy.minDelayMs * 2 ** attempt);
    return Math.round(Math.random() * cap);
}

/** How long to wait before repeating a request answered `error-upload-in-progress`. */
export function inProgressDelayMs(err: UploadHttpError, policy: RetryPolicy): number {
    return Math.min(policy.maxDelayMs, Math.max(MIN_IN_PROGRESS_WAIT_MS, err.retryAfterMs ?? policy.minDelayMs));
}

/** A JSON object, or undefined for anything else: HTML, plain text, an empty body, a JSON array or string. */
function parseJsonObject(text: string): Answer | undefined {
    try {
        const value: unknown = text ? JSON.parse(text) : undefined;
        return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Answer) : undefined;
    } catch {
        return undefined;
    }
}

/**
 * One request, no retry. Resolves to the JSON body of a success; rejects with `UploadHttpError`
 * (an error answer, or any answer whose body is not a JSON object: code `http-<status>`),
 * `UploadNetworkError` (no answer) or `UploadAbortedError`.
 */
export async function requestOnce(t: Transport, method: string, route: string, options: RequestOptions = {}): Promise<Answer> {
    const query = options.query ? `?${new URLSearchParams(options.query)}` : '';
    let status: number;
    let text: string;
    let retryAfter: string | null;
    let contentType: string | null;
    try {
        const res = await t.fetch(t.baseUrl + route + query, {
            method,
            headers: { ...options.headers, 'x-visitor-token': t.visitorToken, 'content-type': 'application/json' },
            body: options.body === undefined ? undefined : JSON.stringify(options.body),
            signal: t.signal,
        });
        status = res.status;
        retryAfter = res.headers.get('retry-after');
        contentType = res.headers.get('content-type');
        text = await res.text();
    } catch (err) {
        if (t.signal?.aborted) throw new UploadAbortedError();
        throw new UploadNetworkError(`${method} ${route} failed: ${(err as Error)?.message ?? err}`, err);
    }
    const body = parseJsonObject(text);
    if (status >= 200 && status < 300 && body && body.success !== false) return body;
    const { success: _s, error, reason, message, ...details } = body ?? {};
    const code = typeof error === 'string' ? error : typeof reason === 'string' ? reason : `http-${status}`;
    const why =
        typeof message === 'string'
            ? message
            : body
              ? `HTTP ${status}`
              : `HTTP ${status}, a ${contentType?.split(';')[0] || 'body'} that is not the app's JSON`;
    const retryAfterMs = typeof details.retryAfterMs === 'number' && details.retryAfterMs >= 0 ? details.retryAfterMs : parseRetryAfter(retryAfter);
    throw new UploadHttpError(status, code, details, `${why} (${code})`, retryAfterMs);
}

/**
 * Runs `attempt` again after transient failures (network, 5xx, 429) up to the policy's retries,
 * and after `error-upload-in-progress` for up to `inProgressMaxWaitMs` of waiting in all.
 */
export async function withRetry<T>(t: Transport, attempt: () => Promise<T>): Promise<T> {
    let waitedInProgressMs = 0;
    for (let tries = 0; ;) {
        try {
            return await attempt();
        } catch (err) {
            if (isInProgressError(err) && waitedInProgressMs < t.retry.inProgressMaxWaitMs) {
                const delay = inProgressDelayMs(err, t.retry);
                waitedInProgressMs += delay;
                await t.sleep(delay, t.signal);
                continue;
            }
            if (!isTransientError(err) || tries >= t.retry.retries) throw err;
            await t.sleep(backoffDelayMs(tries, t.retry, err), t.signal);
            tries++;
        }
    }
}

/** `requestOnce` with retries; every attempt sends the same method, route, query, body and headers. */
export function request(t: Transport, method: string, route: string, options?: RequestOptions): Promise<Answer> {
    return withRetry(t, () => requestOnce(t, method, route, options));
}
