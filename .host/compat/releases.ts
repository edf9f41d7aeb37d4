// Which Rocket.Chat releases ship which Apps-Engine, for the compatibility table. Read from Rocket.Chat's own
// files, named per row (see docs/COMPATIBILITY.md, "Where the Rocket.Chat versions come from"):
//  - up to 6.9, apps/meteor/package.json names the engine version ("@rocket.chat/apps-engine": "^1.42.1");
//  - from 6.10 the engine lives in the monorepo (packages/apps-engine) and apps/meteor/package.json says
//    "workspace:^", so its history names no version. The changesets changelog packages/apps/CHANGELOG.md
//    records each engine bump next to core-typings, whose version is the Rocket.Chat release
//    ("@rocket.chat/apps-engine@1.55.1" with "@rocket.chat/core-typings@7.10.1");
//  - the "Engine versions" block of each GitHub release (Node, Deno, MongoDB, Apps-Engine) for the Deno row.

export interface Release {
    /** The Rocket.Chat versions that ship this engine, as far as the sources below reach. */
    rocketChat: string;
    /** The Deno those Rocket.Chat versions ship (none: apps run in the Node process). */
    deno: string;
    source: string;
}

const CHANGELOG = 'packages/apps/CHANGELOG.md';

export const RELEASES: Record<string, Release> = {
    '1.42.1': {
        rocketChat: '6.7.x (6.8 moved to 1.42.2)',
        deno: 'none (vm2 in the Node process)',
        source: 'apps/meteor/package.json: "^1.42.1" from 6.7.0-rc.3 (commit e2d05e92d7), "1.42.2" from 6.8.0-rc.1 (b94ca7c30b)',
    },
    '1.46.0': {
        rocketChat: '6.13.x (7.0.0 moved to 1.47.0)',
        deno: '1.37.1 (the engine’s own deno-bin dependency)',
        source: `release notes 6.13.0-rc.6 ("Apps-Engine: 1.46.0"); ${CHANGELOG} 0.2.0: 1.47.0 with core-typings 7.0.0`,
    },
    '1.53.1': {
        rocketChat: '7.8.3 – 7.8.x (7.8.0 – 7.8.2 ship 1.53.0)',
        deno: '1.43.5',
        source: `${CHANGELOG} 0.5.11: 1.53.1 with core-typings 7.8.3; release notes 7.8.6 ("Apps-Engine: 1.53.1", "Deno: 1.43.5")`,
    },
    '1.55.0': { rocketChat: '7.10.0', deno: '1.43.5', source: `${CHANGELOG} 0.5.16: 1.55.0 with core-typings 7.10.0` },
    '1.55.1': {
        rocketChat: '7.10.1 – 7.10.2 (7.10.4 ships 1.55.2)',
        deno: '1.43.5',
        source: `${CHANGELOG} 0.5.17 / 0.5.18: 1.55.1 with core-typings 7.10.1, unchanged in 7.10.2; release notes 7.10.4 ("Apps-Engine: 1.55.2")`,
    },
    '1.57.1': {
        rocketChat: '7.12.1 – 7.12.2 (7.12.0 ships 1.57.0)',
        deno: '1.43.5',
        source: `${CHANGELOG} 0.5.21 / 0.5.22: 1.57.1 with core-typings 7.12.1, unchanged in 7.12.2`,
    },
    '1.57.2': {
        rocketChat: 'a 7.12 patch after 7.12.2 (not in the changelog read)',
        deno: '1.43.5',
        source: `${CHANGELOG} as read ends the 7.12 line at 7.12.2 with 1.57.1`,
    },
    '1.58.0': {
        rocketChat: '7.13.0 – 7.13.2',
        deno: '1.43.5',
        source: `${CHANGELOG} 0.5.23 – 0.5.25: 1.58.0 with core-typings 7.13.0, unchanged in 7.13.1, 7.13.2`,
    },
    '1.58.1': {
        rocketChat: 'a 7.13 patch after 7.13.2 (not in the changelog read)',
        deno: '1.43.5',
        source: `${CHANGELOG} as read ends the 7.13 line at 7.13.2 with 1.58.0; 1.58.1 differs from 1.58.0 only in its version number`,
    },
    '1.59.0': {
        rocketChat: '8.0.0 – 8.0.1 (8.1.0 ships 1.59.1)',
        deno: '1.43.5',
        source: `${CHANGELOG} 0.6.0 / 0.6.1 / 0.6.2: 1.59.0 with core-typings 8.0.0, unchanged in 8.0.1, 1.59.1 with 8.1.0; release notes 8.0.0-rc.4 ("Deno: 1.43.5")`,
    },
    '1.62.0': {
        rocketChat: '8.4.x (8.4.0-rc.0 ships 1.62.0-rc.0; 8.5.0 moves to 1.63)',
        deno: '2.x (8.5 – 8.8 release notes: 2.3.1)',
        source: `${CHANGELOG} 0.6.9-rc.0: 1.62.0-rc.0 with core-typings 8.4.0-rc.0; release notes 8.5.0-rc.5 ("Apps-Engine: 1.63.0-rc.0", "Deno: 2.3.1")`,
    },
};

/**
 * Engines Rocket.Chat shipped that this machine cannot install (the npm registry here does not carry them, or
 * they were published without server/), each with the Rocket.Chat versions concerned: untested.
 */
export const UNTESTED: Array<{ engines: string; lowest: string; rocketChat: string; why: string }> = [
    { engines: '1.43 – 1.45', lowest: '1.43.0', rocketChat: '6.10 – 6.12', why: 'not on the npm registry reachable here' },
    { engines: '1.47 – 1.52, 1.53.0', lowest: '1.47.0', rocketChat: '7.0 – 7.8.2', why: 'not on the npm registry reachable here' },
    {
        engines: '1.54.0, 1.55.2, 1.56.0, 1.57.0',
        lowest: '1.54.0',
        rocketChat: '7.9, 7.10.4, 7.11, 7.12.0',
        why: 'not on the npm registry reachable here',
    },
    { engines: '1.59.1, 1.60.0, 1.61.x', lowest: '1.59.1', rocketChat: '8.1 – 8.3', why: 'not on the npm registry reachable here' },
    {
        engines: '1.63 and later',
        lowest: '1.63.0',
        rocketChat: '8.5 and later',
        why: 'published on npm without server/ (definitions only): no runtime to run',
    },
];
