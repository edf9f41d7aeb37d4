// Packages the app once with the real `rc-apps package`, as an admin would, before any test runs:
// the packaging test lists this zip and the end-to-end tests install it in the local host.
const { execFileSync } = require('child_process');
const path = require('path');

module.exports = async () => {
    const root = path.join(__dirname, '..');
    const output = execFileSync(path.join(root, 'node_modules', '.bin', 'rc-apps'), ['package'], { cwd: root, encoding: 'utf8' });
    process.env.LIVECHAT_UPLOAD_PACKAGE_OUTPUT = output;
};
