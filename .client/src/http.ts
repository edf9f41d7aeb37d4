import { isTransientError, UploadAbortedError, UploadHttpError, UploadNetworkError } from './errors.js';

export interface RetryPolicy {
    /** Further attempts after the first; 0 never retries. */
    retries: number;
    minDelayMs: number;
    maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 5, minDelayMs: 500, maxDelayMs: 30_000 };

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

/** `Retry-After` is either delay-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
    if (!value) return undefined;
    if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
    const date = Date.parse(value);
    return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The server's `Retry-After` when it sent one, else exponential backoff with full jitter. */
export function backoffDelayMs(attempt: number, policy: RetryPolicy, err: unknown): number {
    if (err instanceof UploadHttpError && err.retryAfterMs !== undefined) return err.retryAfterMs;
    const cap = Math.min(policy.maxDelayMs, policy.minDelayMs * 2 ** attempt);
    return Math.round(Math.random() * cap);
}

/**
 * One request, no retry. Resolves to the JSON body of a success; rejects with `UploadHttpError`
 * (an error answer), `UploadNetworkError` (no answer) or `UploadAbortedError`.
 */
export async function requestOnce(
    t: Transport,
    method: string,
    route: string,
    options: { query?: Record<string, string>; body?: unknown } = {},
): Promise<Answer> {
    const query = options.query ? `?${new URLSearchParams(options.query)}` : '';
    let status: number;
    let text: string;
    let retryAfter: string | null;
    try {
        const res = await t.fetch(t.baseUrl + route + query, {
            method,
            headers: { 'x-visitor-token': t.visitorToken, 'content-type': 'application/json' },
            body: options.body === undefined ? undefined : JSON.stringify(options.body),
            signal: t.signal,
        });
        status = res.status;
        retryAfter = res.headers.get('retry-after');
        text = await res.text();
    } catch (err) {
        if (t.signal?.aborted) throw new UploadAbortedError();
        throw new UploadNetworkError(`${method} ${route} failed: ${(err as Error)?.message ?? err}`, err);
    }
    let body: Answer | undefined;
    try {
        body = text ? JSON.parse(text) : undefined;
    } catch {
        body = undefined; // e.g. Rocket.Chat's own HTML 413 page
    }
    if (status >= 200 && status < 300 && body && body.success !== false) return body;
    const { success: _s, error, reason, message, ...details } = body ?? {};
    const code = typeof error === 'string' ? error : typeof reason === 'string' ? reason : `http-${status}`;
    const text0 = typeof message === 'string' ? message : `HTTP ${status}`;
    throw new UploadHttpError(status, code, details, `${text0} (${code})`, parseRetryAfter(retryAfter));
}

/** Runs `attempt` again after transient failures (network, 5xx, 429), up to the policy's retries. */
export async function withRetry<T>(t: Transport, attempt: () => Promise<T>): Promise<T> {
    for (let tries = 0; ; tries++) {
        try {
            return await attempt();
        } catch (err) {
            if (!isTransientError(err) || tries >= t.retry.retries) throw err;
            await t.sleep(backoffDelayMs(tries, t.retry, err), t.signal);
        }
    }
}

/** `requestOnce` with retries. */
export function request(t: Transport, method: string, route: string, options?: { query?: Record<string, string>; body?: unknown }): Promise<Answer> {
    return withRetry(t, () => requestOnce(t, method, route, options));
}
