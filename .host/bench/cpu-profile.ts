// Where a V8 CPU profile (`node --cpu-prof`) of the host spends a window of time, by kind of work.
// A sample is charged to the first frame, from the sampled one up its callers, whose script says what
// it is: JSON.stringify has no script and is charged to jsonrpc-lite when jsonrpc-lite called it.

interface ProfileNode {
    id: number;
    callFrame: { functionName: string; url: string };
    children?: number[];
}

export interface CpuProfile {
    nodes: ProfileNode[];
    startTime: number;
    samples: number[];
    timeDeltas: number[];
}

const KINDS: Array<[RegExp, string]> = [
    [/^\(idle\)$/, 'idle: waiting for the Deno child, the client or the disk'],
    [/^\(garbage collector\)$/, 'garbage collection'],
    [/^\((program|root)\)$/, 'V8 and native code no script accounts for'],
    [/\/jsonrpc-lite\//, 'jsonrpc-lite: building and validating messages (JSON.stringify of params)'],
    [/\/@msgpack\//, 'msgpack encode and decode'],
    [/node:internal\/util\/inspect/, 'util.inspect: debug strings the engine builds even with debug off'],
    [/\/apps-engine\//, 'engine: other (runtime controller, managers, accessors)'],
    [
        /\/(body-parser|raw-body|express|router|iconv-lite|qs|type-is|content-type|on-finished|finalhandler|send|depd|destroy|accepts|negotiator)\//,
        'Express: routing, json() body parsing, response',
    ],
    [/\/better-sqlite3\/|\.host\/src\/(store|storage)\.ts/, 'host: storing the app log entries (SQLite)'],
    [/\.host\/src\//, 'host: routes and bridges'],
    [/^node:/, 'Node: HTTP, sockets, streams, timers'],
];

function kindOf(frame: ProfileNode['callFrame']): string | undefined {
    const key = frame.url || (frame.functionName.startsWith('(') ? frame.functionName : '');
    if (!key) return undefined;
    return KINDS.find(([pattern]) => pattern.test(key))?.[1] ?? 'other';
}

/** Milliseconds per kind of work between `fromUs` and `toUs` (CLOCK_MONOTONIC µs, as `process.hrtime` in any process). */
export function summarizeCpuProfile(profile: CpuProfile, fromUs: number, toUs: number): Map<string, number> {
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const kindCache = new Map<number, string>();
    const kindOfNode = (id: number): string => {
        const cached = kindCache.get(id);
        if (cached) return cached;
        let kind: string | undefined;
        for (let at: number | undefined = id; at !== undefined && !kind; at = parent.get(at)) kind = kindOf(byId.get(at)!.callFrame);
        kindCache.set(id, kind ?? 'other');
        return kind ?? 'other';
    };
    const totals = new Map<string, number>();
    let t = profile.startTime;
    for (let i = 0; i < profile.samples.length; i++) {
        t += profile.timeDeltas[i];
        const duration = profile.timeDeltas[i + 1] ?? 0;
        if (t < fromUs || t > toUs) continue;
        const kind = kindOfNode(profile.samples[i]);
        totals.set(kind, (totals.get(kind) ?? 0) + duration / 1000);
    }
    return totals;
}
