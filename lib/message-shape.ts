/**
 * Turns a message as the Apps-Engine hands it to apps back into the shape Rocket.Chat's REST API
 * answers with (core's `sendFileLivechatMessage` result). The field names are the reverse of
 * Rocket.Chat's app message converter (apps/meteor/app/apps/server/converters/messages.ts);
 * fields the converter does not map arrive in `_unmappedProperties_` and are kept as they are.
 * The visitor token the converter copies onto visitor messages is never returned.
 */
export function toCoreMessage(message: Record<string, unknown>): Record<string, unknown> {
    const { _unmappedProperties_: unmapped = {}, ...app } = message as AppMessage;
    const core: Record<string, unknown> = { ...withoutToken(unmapped) };
    set(core, '_id', app.id);
    set(core, 'rid', app.roomId ?? app.room?.id);
    core.msg = app.text ?? '';
    set(core, 'ts', app.createdAt);
    set(core, '_updatedAt', app.updatedAt);
    set(core, 'u', toCoreUser(app.sender));
    set(core, 'file', app.file);
    set(core, 'files', app.files ?? unmapped.files);
    set(core, 'alias', app.alias);
    set(core, 'groupable', app.groupable);
    set(core, 'editedAt', app.editedAt);
    set(core, 'editedBy', toCoreUser(app.editor));
    set(core, 't', app.type);
    if (Array.isArray(app.attachments)) {
        core.attachments = app.attachments.map(toCoreAttachment);
    }
    return core;
}

function withoutToken(fields: Record<string, unknown>): Record<string, unknown> {
    const { token: _token, ...rest } = fields;
    return rest;
}

function set(target: Record<string, unknown>, key: string, value: unknown): void {
    if (value !== undefined && value !== null) {
        target[key] = value;
    }
}

/**
 * The fields of an engine message (IMessage, or IMessageRaw as `getMessages` gives it) read here.
 * Loosely typed on purpose: the runtime sends what the converter wrote, `null` included.
 */
interface AppMessage {
    id?: string;
    roomId?: string;
    room?: { id?: string } | null;
    text?: string | null;
    createdAt?: unknown;
    updatedAt?: unknown;
    sender?: AppUser | null;
    file?: unknown;
    files?: unknown;
    alias?: unknown;
    groupable?: unknown;
    editedAt?: unknown;
    editor?: AppUser | null;
    type?: unknown;
    attachments?: unknown;
    _unmappedProperties_?: Record<string, unknown>;
}

/** A user as the engine names a sender or editor: IUser (`id`) or a lookup (`_id`). */
interface AppUser {
    id?: string;
    _id?: string;
    username?: string;
    name?: string;
}

/** An attachment as the engine's converter gives it: `title` as an object, the rest camel-cased. */
interface AppAttachment {
    title?: { value?: unknown; link?: unknown; displayDownloadLink?: unknown } | null;
    _unmappedProperties_?: Record<string, unknown>;
    [field: string]: unknown;
}

function toCoreUser(user: AppUser | null | undefined): Record<string, unknown> | undefined {
    if (!user) {
        return undefined;
    }
    const core: Record<string, unknown> = {};
    set(core, '_id', user._id ?? user.id);
    set(core, 'username', user.username);
    set(core, 'name', user.name);
    return core;
}

const ATTACHMENT_FIELDS: Array<[string, string]> = [
    ['type', 'type'],
    ['description', 'description'],
    ['text', 'text'],
    ['color', 'color'],
    ['collapsed', 'collapsed'],
    ['imageUrl', 'image_url'],
    ['imageType', 'image_type'],
    ['imageSize', 'image_size'],
    ['imageDimensions', 'image_dimensions'],
    ['imagePreview', 'image_preview'],
    ['audioUrl', 'audio_url'],
    ['audioType', 'audio_type'],
    ['audioSize', 'audio_size'],
    ['videoUrl', 'video_url'],
    ['videoType', 'video_type'],
    ['videoSize', 'video_size'],
    ['thumbnailUrl', 'thumb_url'],
    ['timestampLink', 'message_link'],
    ['fields', 'fields'],
    ['actions', 'actions'],
];

function toCoreAttachment(attachment: AppAttachment): Record<string, unknown> {
    const { _unmappedProperties_: unmapped = {}, ...app } = attachment;
    const core: Record<string, unknown> = { ...unmapped };
    if (app.title) {
        set(core, 'title', app.title.value);
        set(core, 'title_link', app.title.link);
        set(core, 'title_link_download', app.title.displayDownloadLink);
    }
    for (const [appKey, coreKey] of ATTACHMENT_FIELDS) {
        set(core, coreKey, app[appKey]);
    }
    return core;
}
