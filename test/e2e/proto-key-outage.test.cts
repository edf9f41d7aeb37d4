// Documents an Apps-Engine behaviour the app cannot prevent (docs/SECURITY.md): a JSON body with a
// `__proto__` key, sent to any app route without a token, kills the message loop of the app's Deno
// process — its msgpack decoder refuses the key — so that request and every one after it time out
// with a 500 until the engine's liveness check restarts the process. The app never sees the request.
// This file runs its own host: the outage must not hit the other end-to-end tests.
import { ENGINE } from '../host-process.cjs';
import { afterAll, beforeAll, expect, it, jest } from '@jest/globals';

import { makeText } from './files.cjs';
import { appLogs, callApp, history, newVisitor, REMOTE_URL, type Reply, startTarget, type Target, uploadSingle } from './harness.cjs';

jest.setTimeout(180_000);

/** The engine's answer when the Deno process does not answer a call within APPS_ENGINE_RUNTIME_TIMEOUT (30 s). */
// Engines up to 1.5x end the message at "timed out"; 1.62.0 adds " after 30000ms".
const timedOut = (method: string) => new RegExp(`^\\[[0-9a-f-]+\\] Request "[^"]+" for method "${method}" timed out( after 30000ms)?$`);
const PROBE_INTERVAL_MS = 2_000;
const GIVE_UP_MS = 120_000;

let target: Target;

beforeAll(async () => {
    target = await startTarget();
});

afterAll(async () => {
    await target?.stop();
});

interface Probe {
    sentMs: number;
    answeredMs?: number;
    reply?: Reply;
}

// It takes the app down for about a minute: never run against a real server (reported as skipped there).
(REMOTE_URL ? it.skip : it)('a __proto__ key in a JSON body makes every app request time out until the engine restarts the app', async () => {
    const visitor = await newVisitor(target);
    expect((await callApp(target, 'GET', 'limits', { token: visitor.token })).body).toMatchObject({ success: true });

    const start = Date.now();
    const since = () => Date.now() - start;
    const timed = (reply: Promise<Reply>) => reply.then((r) => ({ ...r, answeredMs: since() }));
    const poisoned = timed(callApp(target, 'POST', 'upload', { raw: '{"__proto__":{}}', headers: { 'content-type': 'application/json' } }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const next = timed(callApp(target, 'GET', 'limits', { token: visitor.token }));

    // A probe every 2 s, each on its own (a stuck one does not delay the next), until one is answered 200.
    const probes: Probe[] = [];
    const abort = new AbortController();
    let recovered: Probe | undefined;
    // How the engine recovers is 1.62.0's liveness restart (below). Other engines (the lowest claimed one runs
    // in npm test) are only checked for the outage: 1.53.1 had not answered again 120 s later when measured.
    const awaitRecovery = ENGINE === undefined;
    while (awaitRecovery && !recovered && since() < GIVE_UP_MS) {
        const probe: Probe = { sentMs: since() };
        probes.push(probe);
        void callApp(target, 'GET', 'limits', { token: visitor.token, signal: abort.signal })
            .then((reply) => {
                Object.assign(probe, { reply, answeredMs: since() });
                if (reply.status === 200) recovered ??= probe;
            })
            .catch(() => undefined); // aborted below, once the app is back
        await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
    }
    abort.abort();

    const poisonedReply = await poisoned;
    const nextReply = await next;
    expect({ status: poisonedReply.status, body: poisonedReply.body }).toEqual({
        status: 500,
        body: expect.stringMatching(timedOut('api:upload:post')),
    });
    expect({ status: nextReply.status, body: nextReply.body }).toEqual({ status: 500, body: expect.stringMatching(timedOut('api:limits:get')) });
    if (!awaitRecovery) {
        console.log(
            `__proto__ body on Apps-Engine ${ENGINE}: the poisoned request and the next one both timed out (500 after 30 s); recovery not awaited`,
        );
        return;
    }

    expect(recovered?.reply?.body).toMatchObject({ success: true, chunkSizeBytes: expect.any(Number) });
    const recoveryMs = recovered!.answeredMs!;
    // The liveness check pings only after 10 s without a message, every 10 s, and restarts after 4
    // unanswered pings of 1 s each: 41–51 s after the last message, plus the restart itself.
    expect(recoveryMs).toBeGreaterThan(35_000);
    expect(recoveryMs).toBeLessThan(90_000);
    // Before that, every answer was a 500: a timeout, or — sent while the new process was starting, before
    // the app registered its routes there — "Endpoint limits not found" at once.
    const failedBefore = probes.filter((p) => p.answeredMs !== undefined && p.answeredMs < recoveryMs);
    const timeouts = failedBefore.filter((p) => timedOut('api:limits:get').test(String(p.reply!.body)));
    const duringRestart = failedBefore.filter((p) => String(p.reply!.body) === 'Endpoint limits not found');
    const failure = new RegExp(`${timedOut('api:limits:get').source}|^Endpoint limits not found$`);
    expect(failedBefore.map((p) => ({ status: p.reply!.status, body: p.reply!.body }))).toEqual(
        failedBefore.map(() => ({ status: 500, body: expect.stringMatching(failure) })),
    );
    expect(timeouts.length).toBeGreaterThan(0);
    const lastProbeBeforeRestartMs = Math.max(...probes.filter((p) => p.sentMs < recovered!.sentMs).map((p) => p.sentMs));

    // Why, from the engine's own records in the app's log: the Deno side's unhandled rejection, then the restart.
    const logs = await appLogs(target);
    const rejection = logs.find((l) => l.method === 'runtime:unhandledRejection');
    expect(JSON.stringify(rejection?.entries)).toContain('The key __proto__ is not allowed');
    const restart = logs.find((l) => l.method === 'runtime:restart');
    expect(JSON.stringify(restart?.entries)).toContain('Too many pings timed out');

    // Back for good: an upload goes through and posts its file.
    const file = makeText();
    expect((await uploadSingle(target, visitor, file)).status).toBe(200);
    expect((await history(target, visitor)).filter((m) => m.file)).toHaveLength(1);

    const seconds = (ms: number) => (ms / 1000).toFixed(1);
    console.log(
        `__proto__ body: the poisoned request answered 500 after ${seconds(poisonedReply.answeredMs)} s, the next one after ` +
            `${seconds(nextReply.answeredMs)} s; probes every 2 s: ${timeouts.length} timed out, ${duringRestart.length} "Endpoint limits not found" ` +
            `during the restart; the last probe sent before the app was back left at ${seconds(lastProbeBeforeRestartMs)} s; ` +
            `the app answered again ${seconds(recoveryMs)} s after the poisoned request`,
    );
});
