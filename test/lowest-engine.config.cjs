// A second jest project: the end-to-end suite (every test/e2e file, present and future) once more, on the lowest
// Apps-Engine app.json's requiredApiVersion claims, so `npm test` guards that claim. Its install folder
// (.host/engines/<version>/) is installed by pretest (prepare-engine.mjs --required). The full matrix of engines
// is `npm run compat` (docs/COMPATIBILITY.md).
const path = require('path');

const root = path.join(__dirname, '..');
const { requiredApiVersion } = require('../app.json');
const lowest = /(\d+\.\d+\.\d+)/.exec(requiredApiVersion)[1];
const base = { ...require('../package.json').jest };
delete base.projects; // this file is one of them

module.exports = {
    ...base,
    rootDir: root,
    displayName: `e2e on Apps-Engine ${lowest}`,
    // against a real server (E2E_URL) the engine is the server's: the suite runs once, in the default project
    testMatch: process.env.E2E_URL ? [] : ['<rootDir>/test/e2e/**/*.test.cts'],
    globals: { E2E_ENGINE: lowest },
};
