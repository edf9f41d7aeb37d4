import { randomBytes } from 'crypto';

import type { ILogger } from '@rocket.chat/apps-engine/definition/accessors';

import { type Claim, judgeClaims } from '../claim';
import { UploadError } from '../errors';
import { LockWaitTimeout } from '../locks';
import { type ServerState } from './server-state';
import { type ClaimOwner, type SessionStore } from './session-store';

/** How soon a client told `error-upload-in-progress` should ask again. */
export const RETRY_AFTER_MS = 2_000;

/** A claim won: its holder is alone until `release`, renewing it meanwhile. */
export interface HeldClaim {
    claim: Claim;
    /** Claims of holders that stopped renewing (a crash): their work may have half happened. */
    stale: Claim[];
}

export interface ExactlyOnce<T> {
    /** Serializes this server's requests for the same thing (`locks.ts`). */
    lockKey: string;
    /** Serializes the servers of a cluster (`claim.ts`). */
    claimKey: string;
    owner: ClaimOwner;
    /**
     * The answer when the action already happened (a finished upload), else undefined. Called before each
     * try and once more right after winning, just before `act`: what that last call read is current.
     */
    settled(): Promise<T | undefined>;
    /** The action, run by the one holder. */
    act(held: HeldClaim): Promise<T>;
}

/**
 * Runs `act` at most once at a time across every server, and gives every other request for the
 * same thing the outcome instead: a request waits for this server's other requests (lock), then
 * for other servers' (claim), and answers `settled()` when the winner has finished. After
 * `timing.waitLimitMs` of waiting it fails with `error-upload-in-progress` (and `retryAfterMs`),
 * so a waiter answers before the runtime's call timeout.
 */
export async function runExactlyOnce<T>(state: ServerState, store: SessionStore, logger: ILogger, job: ExactlyOnce<T>): Promise<T> {
    const deadline = state.now() + state.timing.waitLimitMs;
    return inProgressOnTimeout(state.locks.run(job.lockKey, () => claimAndAct(state, store, logger, job, deadline), state.timing.waitLimitMs));
}

/**
 * Runs `work` after this server's other work on `key` (no claim: for rules whose cluster-wide
 * safety comes from elsewhere, e.g. insert-then-count). Too long a wait is `error-upload-in-progress`.
 */
export function runLocally<T>(state: ServerState, key: string, work: () => Promise<T>): Promise<T> {
    return inProgressOnTimeout(state.locks.run(key, work, state.timing.waitLimitMs));
}

/** What a wait for a lock, a claim or a completion slot that ran out answers: `error-upload-in-progress`. */
export async function inProgressOnTimeout<T>(waiting: Promise<T>): Promise<T> {
    try {
        return await waiting;
    } catch (e) {
        throw e instanceof LockWaitTimeout ? inProgress() : e;
    }
}

function inProgress(): UploadError {
    return new UploadError('error-upload-in-progress', { retryAfterMs: RETRY_AFTER_MS });
}

async function claimAndAct<T>(state: ServerState, store: SessionStore, logger: ILogger, job: ExactlyOnce<T>, deadline: number): Promise<T> {
    for (;;) {
        const before = await job.settled();
        if (before !== undefined) {
            return before;
        }
        const held = await tryClaim(state, store, job.claimKey, job.owner);
        if (held) {
            const stopRenewing = keepRenewing(state, store, logger, held.claim, job.owner);
            try {
                // A holder that finished released its claim only after writing its outcome: a
                // contender that wins after that release reads the outcome here.
                const after = await job.settled();
                return after !== undefined ? after : await job.act(held);
            } finally {
                await stopRenewing();
                // The outcome is written: a claim that cannot be removed now goes stale and is taken
                // over, so the answer stands rather than becoming a 500.
                await Promise.all(
                    [held.claim, ...held.stale].map((c) =>
                        store.removeClaim(c.claimId).catch((e) => {
                            logger.warn('a claim could not be removed; it goes stale', { error: e instanceof Error ? e.message : String(e) });
                        }),
                    ),
                );
            }
        }
        // Jitter keeps two servers that collided from colliding again in step.
        const pause = state.timing.pollMs * (1 + Math.random());
        if (state.now() + pause > deadline) {
            throw inProgress();
        }
        await state.sleep(pause);
    }
}

/** Inserts a claim and judges what is there; the loser removes its own claim at once. */
async function tryClaim(state: ServerState, store: SessionStore, claimKey: string, owner: ClaimOwner): Promise<HeldClaim | undefined> {
    const nowMs = state.now();
    const claim: Claim = { key: claimKey, claimId: randomBytes(12).toString('hex'), sinceMs: nowMs, renewedAtMs: nowMs };
    await store.insertClaim(claim, owner);
    const judgement = judgeClaims(claim.claimId, await store.readClaims(claimKey), state.now(), state.timing.claimStaleMs);
    if (!judgement.won) {
        await store.removeClaim(claim.claimId);
        return undefined;
    }
    return { claim, stale: judgement.stale };
}

function keepRenewing(state: ServerState, store: SessionStore, logger: ILogger, claim: Claim, owner: ClaimOwner): () => Promise<void> {
    const inFlight = new Set<Promise<void>>();
    const timer = setInterval(() => {
        const renewal: Promise<void> = store
            .renewClaim({ ...claim, renewedAtMs: state.now() }, owner)
            .catch((e) => {
                logger.warn('a claim could not be renewed', { error: e instanceof Error ? e.message : String(e) });
            })
            .finally(() => inFlight.delete(renewal));
        inFlight.add(renewal);
    }, state.timing.claimRenewMs);
    // A renewal that already saw the claim lands before the claim is removed, or it would bring the
    // claim back after its holder is gone.
    return async () => {
        clearInterval(timer);
        await Promise.all([...inFlight]);
    };
}
