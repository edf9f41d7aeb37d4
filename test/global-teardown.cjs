// Removes the temporary project global-setup.cjs installed the packed client into.
const fs = require('fs');

module.exports = async () => {
    const project = process.env.LIVECHAT_UPLOAD_CLIENT_PROJECT;
    if (project) fs.rmSync(project, { recursive: true, force: true });
};
