// The visitor page: pick or drop a file, watch it go, see the message it became.
// Plain ESM over the client library, imported by its package name and bundled with esbuild as a
// widget would be (`npm run build:client` writes page.bundle.js beside this file); no framework.
// Settings come from the query so the same page works against the local host and a real
// Rocket.Chat: ?server=<chat server URL>&app=<app id>&token=<visitor token>&rid=<room id>
import { describeUploadError, localStorageResumeStore, resolveLocale, uploadFile } from 'livechat-upload-client';
import WORDS from './words.json';

const $ = (id) => document.getElementById(id);

const query = new URLSearchParams(location.search);
const config = {
    serverUrl: (query.get('server') ?? '').replace(/\/+$/, ''),
    appId: query.get('app') ?? '',
    visitorToken: query.get('token') ?? '',
    rid: query.get('rid') ?? '',
};
// The page and its error messages in the visitor's language: the library's languages, chosen the
// library's way (resolveLocale); the page's own words are in words.json, English when one is missing.
const visitorLocale = navigator.languages?.length ? navigator.languages : navigator.language;
const locale = resolveLocale(visitorLocale);

/** The page's sentence `key` with its `{placeholders}` filled in. */
function t(key, values = {}) {
    const template = WORDS[locale]?.[key] ?? WORDS.en[key];
    return template.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ''));
}

/** "Send a smaller photo": JPEG photos re-encoded with their longest side at this many pixels. */
const SMALLER_PHOTO_MAX_PIXELS = 2048;

const configured = Boolean(/^https?:\/\/[^/]/.test(config.serverUrl) && config.appId && config.visitorToken && config.rid);

// Every progress event, kept for tests and anyone curious (also listed in #progress-log).
window.__progress = [];

const resumeStore = localStorageResumeStore();
// resumeKey() in ../src/resume.ts: livechat-upload:<rid>:<name>:<size>:<lastModified>
const resumePrefix = `livechat-upload:${config.rid}:`;

let controller;

function formatBytes(bytes) {
    if (!Number.isFinite(bytes)) return '';
    if (bytes < 1024) return `${bytes} B`;
    const units = ['KB', 'MB', 'GB'];
    let value = bytes / 1024;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
        value /= 1024;
        unit++;
    }
    return `${value.toLocaleString(locale, { maximumFractionDigits: value >= 100 ? 0 : 1 })} ${units[unit]}`;
}

function formatDuration(seconds) {
    if (!Number.isFinite(seconds) || seconds < 0) return '';
    if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
    return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

function setState(state) {
    document.body.dataset.state = state;
    const busy = state === 'uploading';
    $('file').disabled = busy;
    $('description').disabled = busy;
    $('smaller').disabled = busy;
    $('drop-zone').classList.toggle('is-disabled', busy || !configured);
    $('progress').hidden = !busy;
}

function showStatus(text, { neutral = false } = {}) {
    $('status').textContent = text;
    $('status').classList.toggle('is-neutral', neutral);
    $('status').hidden = !text;
}

function showError(text, code) {
    $('error').textContent = text;
    $('error').dataset.code = code ?? '';
    $('error').hidden = !text;
}

/** Speed as a moving average over the last few seconds of progress events. */
function createSpeedometer() {
    const samples = [];
    return (bytes) => {
        const now = performance.now();
        samples.push({ now, bytes });
        while (samples.length > 2 && now - samples[0].now > 3000) samples.shift();
        const first = samples[0];
        const seconds = (now - first.now) / 1000;
        return seconds >= 0.3 ? (bytes - first.bytes) / seconds : undefined;
    };
}

function showSavings({ originalBytes, bytesSaved, metadataBytesRemoved, downscaledTo }) {
    const parts = [];
    if (metadataBytesRemoved > 0) parts.push(t('metadataRemoved', { size: formatBytes(metadataBytesRemoved) }));
    if (downscaledTo) parts.push(t('sentAt', downscaledTo));
    if (bytesSaved > 0) parts.push(t('saved', { saved: formatBytes(bytesSaved), total: formatBytes(originalBytes) }));
    $('savings').textContent = parts.length ? t('photo', { details: parts.join(', ') }) : '';
    $('savings').hidden = parts.length === 0;
}

function onProgress(progress, speedometer) {
    const { bytesConfirmed, totalBytes } = progress;
    window.__progress.push({ ...progress, at: Date.now() });
    const entry = document.createElement('li');
    entry.textContent = `${bytesConfirmed}/${totalBytes}`;
    $('progress-log').append(entry);

    const percent = totalBytes > 0 ? Math.floor((bytesConfirmed / totalBytes) * 100) : 100;
    $('progress-bar').value = percent;
    $('progress-bar').setAttribute('aria-valuetext', `${percent}%`);
    const speed = speedometer(bytesConfirmed);
    const parts = [`${percent}%`, t('ofTotal', { done: formatBytes(bytesConfirmed), total: formatBytes(totalBytes) })];
    if (speed > 0) {
        parts.push(`${formatBytes(speed)}/s`);
        if (bytesConfirmed < totalBytes) parts.push(t('left', { time: formatDuration((totalBytes - bytesConfirmed) / speed) }));
    }
    $('progress-text').textContent = parts.join(' · ');
}

/** `title_link` and `image_url` are server paths; a visitor reads them with its token and room (FileUpload.requestCanAccessFiles). */
function fileUrl(path) {
    const url = new URL(`${config.serverUrl}${path}`);
    url.searchParams.set('rc_token', config.visitorToken);
    url.searchParams.set('rc_rid', config.rid);
    url.searchParams.set('rc_room_type', 'l');
    return url.href;
}

function renderMessage(message, file) {
    const attachment = (message.attachments ?? [])[0] ?? {};
    const name = attachment.title ?? message.file?.name ?? file.name;
    const type = attachment.image_type ?? attachment.audio_type ?? attachment.video_type ?? message.file?.type ?? file.type;
    const size = attachment.image_size ?? attachment.audio_size ?? attachment.video_size ?? file.size;

    const item = $('message-template').content.firstElementChild.cloneNode(true);
    item.dataset.messageId = message._id ?? '';
    item.dataset.fileId = message.file?._id ?? '';

    const link = item.querySelector('[data-testid="message-link"]');
    link.textContent = name;
    if (attachment.title_link) link.href = fileUrl(attachment.title_link);

    const description = item.querySelector('[data-testid="message-description"]');
    description.textContent = attachment.description ?? '';
    description.hidden = !attachment.description;

    item.querySelector('[data-testid="message-size"]').textContent = formatBytes(size);
    item.querySelector('[data-testid="message-type"]').textContent = type || t('unknownType');

    const dims = attachment.image_dimensions;
    if (dims?.width && dims?.height) {
        item.querySelector('[data-testid="message-dimensions"]').textContent = `${dims.width} × ${dims.height}`;
        item.querySelector('.dimensions').hidden = false;
    }

    const preview = item.querySelector('[data-testid="message-preview"]');
    const full = item.querySelector('[data-testid="message-image"]');
    const badge = item.querySelector('[data-testid="message-badge"]');
    if (attachment.image_preview) {
        // A bare base64 JPEG of a few pixels (Rocket.Chat's FileUpload.resizeImagePreview).
        preview.src = `data:image/jpeg;base64,${attachment.image_preview}`;
        preview.alt = `Preview of ${name}`;
    } else {
        preview.hidden = true;
    }
    if (attachment.image_url) {
        full.alt = name;
        full.addEventListener('load', () => full.classList.add('is-loaded'), { once: true });
        full.addEventListener('error', () => (full.hidden = true), { once: true });
        full.src = fileUrl(attachment.image_url);
        full.hidden = false;
    }
    if (!attachment.image_preview && !attachment.image_url) {
        const extension = /\.([a-z0-9]{1,5})$/i.exec(name)?.[1] ?? 'file';
        badge.textContent = extension.toUpperCase();
        badge.hidden = false;
    }
    $('messages').prepend(item);
}

/** Unfinished uploads of this room kept in localStorage by the resume store. */
function listUnfinished() {
    const found = [];
    try {
        for (let i = 0; i < localStorage.length; i++) {
            const key = localStorage.key(i);
            if (!key?.startsWith(resumePrefix)) continue;
            const parts = key.slice(resumePrefix.length).split(':');
            if (parts.length < 3) continue;
            const size = Number(parts[parts.length - 2]);
            found.push({ key, name: parts.slice(0, -2).join(':'), size });
        }
    } catch {
        // storage disabled: nothing to resume
    }
    return found;
}

function showResumeNotice() {
    const [unfinished] = listUnfinished();
    $('resume-notice').hidden = !unfinished;
    if (!unfinished) return;
    $('resume-text').textContent = t('interrupted', { name: unfinished.name, size: formatBytes(unfinished.size) });
    $('resume-forget').onclick = () => {
        resumeStore.delete(unfinished.key);
        showResumeNotice();
    };
}

async function send(file) {
    if (!configured || document.body.dataset.state === 'uploading') return;
    showError('');
    showStatus('');
    $('resume-notice').hidden = true;
    $('progress-name').textContent = `${file.name} · ${formatBytes(file.size)}`;
    $('progress-bar').value = 0;
    $('progress-text').textContent = t('starting');
    $('savings').hidden = true;
    setState('uploading');

    controller = new AbortController();
    const speedometer = createSpeedometer();
    let savingsShown = false;
    const description = $('description').value.trim();
    try {
        const message = await uploadFile({
            ...config,
            file,
            description: description || undefined,
            onProgress: (progress) => {
                if (!savingsShown) showSavings(progress); // the first event says what preparing the file saved
                savingsShown = true;
                onProgress(progress, speedometer);
            },
            signal: controller.signal,
            resume: resumeStore,
            maxImageDimension: $('smaller').checked ? SMALLER_PHOTO_MAX_PIXELS : undefined,
        });
        renderMessage(message, file);
        $('description').value = '';
        showStatus(t('sent', { name: file.name }));
        setState('done');
    } catch (err) {
        const text = describeUploadError(err, visitorLocale);
        if (err?.name === 'UploadAbortedError') {
            showStatus(text, { neutral: true });
            setState('cancelled');
        } else {
            showError(text, err?.code ?? err?.name);
            setState('error');
            if (!String(err?.name).startsWith('Upload')) console.error(err); // not the server's answer: a bug
        }
        showResumeNotice();
    } finally {
        controller = undefined;
        $('file').value = ''; // picking the same file again must fire `change`
    }
}

function wireDropZone() {
    const zone = $('drop-zone');
    const over = (on) => (event) => {
        event.preventDefault();
        zone.classList.toggle('is-over', on && document.body.dataset.state !== 'uploading');
    };
    zone.addEventListener('dragenter', over(true));
    zone.addEventListener('dragover', over(true));
    zone.addEventListener('dragleave', over(false));
    zone.addEventListener('drop', (event) => {
        over(false)(event);
        const file = event.dataTransfer?.files?.[0];
        if (file) send(file);
    });
    // A file dropped beside the zone must not replace the page with the file.
    for (const type of ['dragover', 'drop']) window.addEventListener(type, (event) => event.preventDefault());
}

/** Puts the page's words in the visitor's language: `data-i18n` texts, `data-i18n-placeholder`, the message template. */
function translatePage() {
    document.documentElement.lang = locale;
    document.title = `${t('title')} · Livechat Upload`;
    for (const root of [document, $('message-template').content]) {
        for (const element of root.querySelectorAll('[data-i18n]'))
            element.textContent = t(element.dataset.i18n, { pixels: SMALLER_PHOTO_MAX_PIXELS });
        for (const element of root.querySelectorAll('[data-i18n-placeholder]')) element.placeholder = t(element.dataset.i18nPlaceholder);
    }
}

function init() {
    translatePage();
    if (!configured) {
        $('config-error').hidden = false;
        $('file').disabled = true;
        $('description').disabled = true;
        $('drop-zone').classList.add('is-disabled');
        document.body.dataset.state = 'unconfigured';
        return;
    }
    $('server-line').textContent = t('intoChat', { host: new URL(config.serverUrl).host });
    $('file').addEventListener('change', () => {
        const file = $('file').files?.[0];
        if (file) send(file);
    });
    $('cancel').addEventListener('click', () => controller?.abort());
    wireDropZone();
    showResumeNotice();
    setState('idle');
    document.body.dataset.ready = 'true';
}

init();
