// Puppeteer never downloads a browser here: PNG export and the browser tests drive Debian's
// chromium (/usr/bin/chromium, or PUPPETEER_EXECUTABLE_PATH / PROFILE_CHROMIUM).
module.exports = { skipDownload: true };
