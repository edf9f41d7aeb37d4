// Rocket.Chat documents <-> Apps-Engine objects, following Rocket.Chat's converters
// (apps/meteor/app/apps/server/converters/{rooms,messages,visitors,users,uploads,departments}.ts).
import type { Doc, Store } from './store';

type AnyObj = Record<string, any>;
type Mapper = string | ((data: AnyObj) => unknown | Promise<unknown>);

/** As Rocket.Chat's transformMappedData: mapped fields move, the rest lands in `_unmappedProperties_`. */
function deepClone<T>(v: T): T {
    if (v instanceof Date) return new Date(v.getTime()) as T;
    if (Array.isArray(v)) return v.map(deepClone) as T;
    if (v && typeof v === 'object' && !Buffer.isBuffer(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deepClone(x)])) as T;
    return v;
}

export async function transformMappedData(input: AnyObj, map: Record<string, Mapper>): Promise<AnyObj> {
    const data: AnyObj = deepClone(input);
    const out: AnyObj = {};
    for (const [to, from] of Object.entries(map)) {
        if (typeof from === 'function') {
            const value = await from(data);
            if (typeof value !== 'undefined') out[to] = value;
        } else if (from in data) {
            if (typeof data[from] !== 'undefined') out[to] = data[from];
            delete data[from];
        }
    }
    out._unmappedProperties_ = data;
    return out;
}

const roomTypes: Record<string, string> = { c: 'c', p: 'p', d: 'd', l: 'l' };

export class Converters {
    constructor(private readonly store: Store) {}

    async user(doc: Doc | undefined): Promise<AnyObj | undefined> {
        if (!doc) return undefined;
        return transformMappedData(doc, {
            id: '_id',
            username: 'username',
            emails: 'emails',
            type: 'type',
            isEnabled: 'active',
            name: 'name',
            roles: 'roles',
            status: 'status',
            statusConnection: 'statusConnection',
            utcOffset: 'utcOffset',
            createdAt: 'createdAt',
            updatedAt: '_updatedAt',
            lastLoginAt: 'lastLogin',
            appId: 'appId',
            customFields: 'customFields',
            settings: 'settings',
        });
    }

    async userById(id: string): Promise<AnyObj | undefined> {
        return this.user(this.store.get('users', id));
    }

    async visitor(doc: Doc | undefined): Promise<AnyObj | undefined> {
        if (!doc) return undefined;
        return transformMappedData(doc, {
            id: '_id',
            username: 'username',
            name: 'name',
            department: 'department',
            updatedAt: '_updatedAt',
            token: 'token',
            phone: 'phone',
            visitorEmails: 'visitorEmails',
            livechatData: 'livechatData',
            status: 'status',
            activity: 'activity',
        });
    }

    async department(doc: Doc | undefined): Promise<AnyObj | undefined> {
        if (!doc) return undefined;
        return transformMappedData(doc, {
            id: '_id',
            name: 'name',
            email: 'email',
            description: 'description',
            enabled: 'enabled',
            numberOfAgents: 'numAgents',
            updatedAt: '_updatedAt',
            offlineMessageChannelName: 'offlineMessageChannelName',
            showOnRegistration: 'showOnRegistration',
            showOnOfflineForm: 'showOnOfflineForm',
            requestTagBeforeClosingChat: 'requestTagBeforeClosingChat',
            chatClosingTags: 'chatClosingTags',
            waitingQueueMessage: 'waitingQueueMessage',
            departmentsAllowedToForward: 'departmentsAllowedToForward',
        });
    }

    async room(doc: Doc | undefined): Promise<AnyObj | undefined> {
        if (!doc) return undefined;
        return transformMappedData(doc, {
            id: '_id',
            displayName: 'fname',
            slugifiedName: 'name',
            members: 'members',
            userIds: 'uids',
            messageCount: 'msgs',
            createdAt: 'ts',
            updatedAt: '_updatedAt',
            closedAt: 'closedAt',
            lastModifiedAt: 'lm',
            customFields: 'customFields',
            livechatData: 'livechatData',
            isWaitingResponse: 'waitingResponse',
            isOpen: 'open',
            _USERNAMES: '_USERNAMES',
            description: 'description',
            source: 'source',
            closer: 'closer',
            teamId: 'teamId',
            isTeamMain: 'teamMain',
            isDefault: (r) => {
                const v = !!r.default;
                delete r.default;
                return v;
            },
            isReadOnly: (r) => {
                const v = !!r.ro;
                delete r.ro;
                return v;
            },
            displaySystemMessages: (r) => {
                const v = r.sysMes;
                delete r.sysMes;
                return typeof v === 'undefined' ? true : v;
            },
            type: (r) => {
                const v = roomTypes[r.t] ?? r.t;
                delete r.t;
                return v;
            },
            creator: async (r) => {
                const u = r.u;
                delete r.u;
                return u ? this.userById(u._id) : undefined;
            },
            visitor: async (r) => (r.v ? this.visitor(this.store.get('visitors', r.v._id)) : undefined),
            visitorChannelInfo: (r) =>
                r.v
                    ? {
                          ...(r.v.phone && { phone: r.v.phone }),
                          ...(r.v.lastMessageTs && { lastMessageTs: r.v.lastMessageTs }),
                      }
                    : undefined,
            department: async (r) => {
                const id = r.departmentId;
                delete r.departmentId;
                return id ? this.department(this.store.get('departments', id)) : undefined;
            },
            closedBy: async (r) => {
                const c = r.closedBy;
                delete r.closedBy;
                if (!c) return undefined;
                return doc.closer === 'user' ? this.userById(c._id) : this.visitor(this.store.get('visitors', c._id));
            },
            servedBy: async (r) => {
                const s = r.servedBy;
                delete r.servedBy;
                return s ? this.userById(s._id) : undefined;
            },
            responseBy: async (r) => {
                const s = r.responseBy;
                delete r.responseBy;
                return s ? this.userById(s._id) : undefined;
            },
            parentRoom: async (r) => {
                const p = r.prid;
                delete r.prid;
                return p ? this.room(this.store.get('rooms', p)) : undefined;
            },
        });
    }

    async attachmentsToApp(attachments: AnyObj[] | undefined): Promise<AnyObj[] | undefined> {
        if (!Array.isArray(attachments)) return undefined;
        return Promise.all(
            attachments.map((a) =>
                transformMappedData(a, {
                    collapsed: 'collapsed',
                    color: 'color',
                    text: 'text',
                    timestampLink: 'message_link',
                    thumbnailUrl: 'thumb_url',
                    imageDimensions: 'image_dimensions',
                    imagePreview: 'image_preview',
                    imageUrl: 'image_url',
                    imageType: 'image_type',
                    imageSize: 'image_size',
                    audioUrl: 'audio_url',
                    audioType: 'audio_type',
                    audioSize: 'audio_size',
                    videoUrl: 'video_url',
                    videoType: 'video_type',
                    videoSize: 'video_size',
                    fields: 'fields',
                    actionButtonsAlignment: 'button_alignment',
                    actions: 'actions',
                    type: 'type',
                    description: 'description',
                    author: (x) => {
                        const r = {
                            name: x.author_name,
                            link: x.author_link,
                            icon: x.author_icon,
                        };
                        delete x.author_name;
                        delete x.author_link;
                        delete x.author_icon;
                        return r;
                    },
                    title: (x) => {
                        const r = {
                            value: x.title,
                            link: x.title_link,
                            displayDownloadLink: x.title_link_download,
                        };
                        delete x.title;
                        delete x.title_link;
                        delete x.title_link_download;
                        return r;
                    },
                    timestamp: (x) => {
                        const r = new Date(x.ts);
                        delete x.ts;
                        return r;
                    },
                }),
            ),
        );
    }

    attachmentsToRocketChat(attachments: AnyObj[] | undefined): AnyObj[] | undefined {
        if (!Array.isArray(attachments)) return undefined;
        return attachments.map((a) => {
            const out: AnyObj = {
                collapsed: a.collapsed,
                color: a.color,
                text: a.text,
                ts: a.timestamp instanceof Date ? a.timestamp.toJSON() : a.timestamp,
                message_link: a.timestampLink,
                thumb_url: a.thumbnailUrl,
                author_name: a.author?.name,
                author_link: a.author?.link,
                author_icon: a.author?.icon,
                title: a.title?.value,
                title_link: a.title?.link,
                title_link_download: a.title?.displayDownloadLink,
                image_dimensions: a.imageDimensions,
                image_preview: a.imagePreview,
                image_url: a.imageUrl,
                image_type: a.imageType,
                image_size: a.imageSize,
                audio_url: a.audioUrl,
                audio_type: a.audioType,
                audio_size: a.audioSize,
                video_url: a.videoUrl,
                video_type: a.videoType,
                video_size: a.videoSize,
                fields: a.fields,
                button_alignment: a.actionButtonsAlignment,
                actions: a.actions,
                type: a.type,
                description: a.description,
                ...a._unmappedProperties_,
            };
            // as @rocket.chat/tools removeEmpty
            for (const k of Object.keys(out)) if (out[k] === undefined || out[k] === null || out[k] === '') delete out[k];
            return out;
        });
    }

    /** Full IMessage (room, sender and editor resolved), as Rocket.Chat's convertMessage. */
    async message(doc: Doc | undefined): Promise<AnyObj | undefined> {
        if (!doc) return undefined;
        return transformMappedData(doc, {
            ...this.messageCommonMap(),
            room: async (m) => {
                const r = await this.room(this.store.get('rooms', m.rid));
                delete m.rid;
                return r;
            },
            editor: async (m) => {
                const e = m.editedBy;
                delete m.editedBy;
                return e ? this.userById(e._id) : undefined;
            },
            attachments: async (m) => {
                const r = await this.attachmentsToApp(m.attachments);
                delete m.attachments;
                return r;
            },
            sender: async (m) => {
                if (!m.u?._id) return undefined;
                const fromVisitor = 'token' in doc && !!doc.token;
                const user = fromVisitor ? await this.user({ ...m.u }) : await this.userById(m.u._id);
                const fallback = user ?? (await this.user({ ...m.u }));
                delete m.u;
                return fallback;
            },
        });
    }

    /** IMessageRaw (relations as lookups), as Rocket.Chat's convertMessageRaw. */
    async messageRaw(doc: Doc): Promise<AnyObj> {
        const { attachments, ...rest } = doc as AnyObj;
        return transformMappedData(rest, {
            ...this.messageCommonMap(),
            roomId: 'rid',
            editor: 'editedBy',
            sender: 'u',
            threadMsgCount: 'tcount',
            attachments: async () => this.attachmentsToApp(attachments),
        });
    }

    private messageCommonMap(): Record<string, Mapper> {
        return {
            id: '_id',
            threadId: 'tmid',
            reactions: 'reactions',
            parseUrls: 'parseUrls',
            text: 'msg',
            createdAt: 'ts',
            updatedAt: '_updatedAt',
            editedAt: 'editedAt',
            emoji: 'emoji',
            avatarUrl: 'avatar',
            alias: 'alias',
            file: 'file',
            customFields: 'customFields',
            groupable: 'groupable',
            token: 'token',
            blocks: 'blocks',
            type: 't',
        };
    }

    async upload(doc: Doc | undefined): Promise<AnyObj | undefined> {
        if (!doc) return undefined;
        return transformMappedData(doc, {
            id: '_id',
            name: 'name',
            size: 'size',
            type: 'type',
            store: 'store',
            description: 'description',
            complete: 'complete',
            uploading: 'uploading',
            extension: 'extension',
            progress: 'progress',
            etag: 'etag',
            path: 'path',
            token: 'token',
            url: 'url',
            updatedAt: '_updatedAt',
            uploadedAt: 'uploadedAt',
            room: async (u) => {
                const r = await this.room(this.store.get('rooms', u.rid));
                delete u.rid;
                return r;
            },
            user: async (u) => {
                if (!u.userId) return undefined;
                const r = await this.userById(u.userId);
                delete u.userId;
                return r;
            },
            visitor: async (u) => {
                if (!u.visitorToken) return undefined;
                const token = u.visitorToken;
                delete u.visitorToken;
                return this.visitor(this.store.findOne('visitors', (v: Doc) => v.token === token));
            },
        });
    }
}
