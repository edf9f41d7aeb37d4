// Packages, with the real `rc-apps package` as an admin would, before any test runs:
// - the app: the packaging test lists this zip and the end-to-end tests install it in the local host;
// - the scanner fixture (.host/fixtures/scanner-app), a stand-in virus scanner the end-to-end tests
//   install beside the app. The compiler resolves the engine from <app>/node_modules, hence the link.
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const rcApps = path.join(root, 'node_modules', '.bin', 'rc-apps');

module.exports = async () => {
    process.env.LIVECHAT_UPLOAD_PACKAGE_OUTPUT = execFileSync(rcApps, ['package'], { cwd: root, encoding: 'utf8' });
    const scanner = path.join(root, '.host', 'fixtures', 'scanner-app');
    const link = path.join(scanner, 'node_modules');
    if (!fs.existsSync(link)) {
        fs.symlinkSync(path.relative(scanner, path.join(root, 'node_modules')), link);
    }
    execFileSync(rcApps, ['package'], { cwd: scanner, encoding: 'utf8' });
};
