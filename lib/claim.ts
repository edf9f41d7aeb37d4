/**
 * Claims: who may do a one-time action (complete an upload, post an idempotent request) when several
 * servers of a cluster may try at the same instant. App persistence offers inserts, reads and
 * deletes but no compare-and-set, so the rule is "insert, then look":
 *
 * 1. every contender inserts its own claim record (a random id, the time);
 * 2. it then reads every claim of the key;
 * 3. it wins only when no other *live* claim is there; otherwise it deletes its own and backs off.
 *
 * At most one contender wins at a time: if A and B both won, each read happened after its own
 * insert, and the later of the two inserts happened after the other's read (else that read would
 * have seen it) — so the later contender's read came after the earlier one's insert and saw it.
 * This needs only that a read sees every insert that finished before it started (MongoDB's
 * primary reads: Rocket.Chat's default read preference, docs/API.md says what else breaks it) and
 * no clocks. Clocks matter only for
 * *staleness*: a holder renews its claim every `CLAIM_RENEW_MS`, and a claim not renewed for
 * `CLAIM_STALE_MS` belongs to a server that died; it no longer blocks anyone. If a holder is alive
 * but cannot renew for that long (a stalled process) or clocks differ by more than that margin, a
 * second holder can start: docs/API.md ("Exactly once") says what then happens.
 */

/** One contender's claim on a key, as stored. */
export interface Claim {
    key: string;
    claimId: string;
    /** When the contender inserted it (its server's clock, ms). */
    sinceMs: number;
    /** Last renewal by its holder (its server's clock, ms). */
    renewedAtMs: number;
}

/** A holder renews its claim this often while it works. */
export const CLAIM_RENEW_MS = 5_000;

/**
 * A claim not renewed for this long is stale: its server died or stalled. Six renewals, so one
 * slow bridge call or a busy runtime (a large `uploadBuffer` blocks the runtime's event loop for a
 * few seconds) never makes a live holder look dead; well above the clock skew NTP keeps servers in.
 */
export const CLAIM_STALE_MS = 30_000;

export interface ClaimJudgement {
    /** True when `mine` is there and no other live claim is. */
    won: boolean;
    /** Other claims still renewed: their holders are working. */
    live: Claim[];
    /** Claims whose holders stopped renewing them (a crash): to take over and remove. */
    stale: Claim[];
}

/**
 * Judges the claims read for one key after inserting `mineId`. When `mineId` is missing from what
 * was read (a read that did not see its own insert), the contender has not won: it retries.
 */
export function judgeClaims(mineId: string, claims: Claim[], nowMs: number, staleAfterMs = CLAIM_STALE_MS): ClaimJudgement {
    const others = claims.filter((c) => c.claimId !== mineId);
    const live = others.filter((c) => !isClaimStale(c, nowMs, staleAfterMs));
    const stale = others.filter((c) => isClaimStale(c, nowMs, staleAfterMs));
    const seenMine = claims.some((c) => c.claimId === mineId);
    return { won: seenMine && live.length === 0, live, stale };
}

/** True when the claim's holder has not renewed it for `staleAfterMs`. */
export function isClaimStale(claim: Claim, nowMs: number, staleAfterMs = CLAIM_STALE_MS): boolean {
    return nowMs - claim.renewedAtMs >= staleAfterMs;
}
