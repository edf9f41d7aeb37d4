// Uploads (apps/meteor/app/apps/server/bridges/uploads.ts): type from name then magic bytes, the
// Uploads store's checks (FileUpload.validateFileUpload), the IPreFileUpload app event, the bytes
// stored, then the file message posted as the visitor (sendFileLivechatMessage), returning the IUpload.
import { UploadBridge } from '@rocket.chat/apps-engine/server/bridges/UploadBridge';
import { AppInterface } from '@rocket.chat/apps-engine/definition/metadata';
import type { IUpload } from '@rocket.chat/apps-engine/definition/uploads';
import type { IUploadDetails } from '@rocket.chat/apps-engine/definition/uploads/IUploadDetails';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import type { HostContext } from '../context';
import type { Chat, MessageDoc, RoomDoc } from '../chat';
import type { ServerSettings } from './settings';
import { determineFileType, isValidContentType } from '../filetype';
import { randomId, type Doc } from '../store';
import { activeEngineDir } from '../engines';

export interface UploadDoc extends Doc {
    name: string;
    size: number;
    type: string;
    rid: string;
    visitorToken?: string;
    userId?: string;
    description?: string;
    identify?: { format?: string; size?: { width: number; height: number } };
}

export abstract class HostUploadBridge extends UploadBridge {
    constructor(
        private readonly ctx: HostContext,
        private readonly chat: Chat,
        private readonly settings: ServerSettings,
    ) {
        super();
    }

    protected async getById(id: string): Promise<IUpload> {
        return (await this.ctx.conv.upload(this.ctx.store.get('uploads', id))) as IUpload;
    }

    protected async getBuffer(upload: IUpload): Promise<Buffer> {
        const bytes = this.ctx.store.readBytes(upload.id);
        if (!bytes) throw new Error('Unknown error');
        return bytes;
    }

    protected async createUpload(details: IUploadDetails, buffer: Buffer, appId: string): Promise<IUpload> {
        if (!details.userId && !details.visitorToken) throw new Error('Missing user to perform the upload operation');
        if (!details.visitorToken) throw new Error('UploadBridge.createUpload for a user (sendFileMessage) is not supported by the local host');
        const bytes = Buffer.isBuffer(buffer) ? buffer : Buffer.from(buffer as unknown as Uint8Array);
        const type = determineFileType(bytes, details.name);
        const file = {
            name: details.name,
            size: bytes.length,
            type,
            rid: details.rid,
            visitorToken: details.visitorToken,
        };

        this.validateFileUpload(file);
        await this.firePreFileUpload({ ...details, type, size: bytes.length }, bytes);
        const upload = await this.storeUpload(file, bytes);
        this.ctx.log(`upload ${upload._id} (${upload.type}, ${upload.size} bytes) stored for app ${appId}`);
        await this.sendFileLivechatMessage(upload, details.visitorToken);
        return (await this.ctx.conv.upload(upload)) as IUpload;
    }

    /** FileUpload.validateFileUpload: room access by visitor token (open room), FileUpload_Enabled, size, type lists. */
    validateFileUpload(file: { rid: string; size: number; type: string; visitorToken?: string }): void {
        const room = this.ctx.store.get<RoomDoc>('rooms', file.rid);
        if (!room || room.t !== 'l' || room.v?.token !== file.visitorToken || room.open !== true)
            throw new Error('error-not-allowed: Not allowed to upload into this room');
        if (!this.settings.get<boolean>('FileUpload_Enabled')) throw new Error('error-file-upload-disabled: File upload is disabled');
        const maxFileSize = Number(this.settings.get('FileUpload_MaxFileSize'));
        if (maxFileSize > -1 && file.size > maxFileSize) throw new Error(`error-file-too-large: File exceeds allowed size of ${maxFileSize} bytes`);
        if (
            !isValidContentType(
                file.type,
                this.settings.get('FileUpload_MediaTypeWhiteList') ?? '',
                this.settings.get('FileUpload_MediaTypeBlackList') ?? '',
            )
        ) {
            throw new Error('error-invalid-file-type: File type is not accepted');
        }
    }

    /**
     * IPreFileUpload through the engine's listener manager. Apps-Engine 1.62.0's runtime reads the bytes from
     * a temp file (`{ file, path }`, handlers/app/handleUploadEvents.ts); engines up to 1.59.0 hand the event
     * data to the app as it is, so Rocket.Chat sent `{ file, content }` with the bytes inline.
     */
    private async firePreFileUpload(file: IUploadDetails, bytes: Buffer): Promise<void> {
        const manager = this.ctx.manager;
        if (!manager) return;
        const listeners = manager.getListenerManager();
        if (!fs.existsSync(path.join(activeEngineDir(), 'deno-runtime', 'handlers', 'app', 'handleUploadEvents.ts'))) {
            await listeners.executeListener(AppInterface.IPreFileUpload, {
                file,
                content: bytes,
            } as never);
            return;
        }
        const tmp = path.join(this.ctx.tempDir, `upload-${randomId()}`);
        fs.writeFileSync(tmp, bytes);
        try {
            await listeners.executeListener(AppInterface.IPreFileUpload, {
                file,
                path: tmp,
            } as never);
        } finally {
            fs.rmSync(tmp, { force: true });
        }
    }

    private async storeUpload(
        file: {
            name: string;
            size: number;
            type: string;
            rid: string;
            visitorToken?: string;
        },
        input: Buffer,
    ): Promise<UploadDoc> {
        const _id = randomId();
        let bytes = input;
        let identify: UploadDoc['identify'];
        // FileUpload.uploadsOnValidate: dimensions swap when EXIF orientation != 1, and with
        // FileUpload_RotateImages (default true) the stored image is re-oriented by sharp
        if (/^image\/((x-windows-)?bmp|p?jpeg|png|gif|webp)$/.test(file.type)) {
            try {
                const meta = await sharp(bytes).metadata();
                const rotated = typeof meta.orientation !== 'undefined' && meta.orientation !== 1;
                const width = rotated ? meta.height : meta.width;
                const height = rotated ? meta.width : meta.height;
                identify = {
                    format: meta.format,
                    ...(width != null && height != null && { size: { width, height } }),
                } as UploadDoc['identify'];
                if (rotated && this.settings.get('FileUpload_RotateImages') === true) bytes = await sharp(bytes).rotate().toBuffer();
            } catch (e) {
                this.ctx.log(`could not read image metadata: ${(e as Error).message}`);
            }
        }
        const now = new Date();
        const ext = path.extname(file.name).slice(1);
        const upload: UploadDoc = {
            _id,
            name: file.name,
            size: bytes.length,
            type: file.type,
            rid: file.rid,
            ...(file.visitorToken && { visitorToken: file.visitorToken }),
            store: 'GridFS:Uploads',
            extension: ext,
            complete: true,
            uploading: false,
            progress: 1,
            etag: createHash('md5').update(bytes).digest('hex').slice(0, 17),
            path: `/ufs/GridFS:Uploads/${_id}/${encodeURI(file.name)}`,
            url: `${this.ctx.siteUrl()}/ufs/GridFS:Uploads/${_id}/${encodeURI(file.name)}`,
            token: randomId(10),
            uploadedAt: now,
            _updatedAt: now,
            typeGroup: file.type.split('/')[0],
            ...(identify && { identify }),
        };
        this.ctx.store.writeBytes(_id, bytes);
        return this.ctx.store.put('uploads', upload);
    }

    /** sendFileLivechatMessage: the file message, posted as the visitor, with core's attachment shape. */
    private async sendFileLivechatMessage(file: UploadDoc, visitorToken: string): Promise<MessageDoc> {
        const visitor = this.chat.visitorByToken(visitorToken);
        if (!visitor) throw new Error('error-invalid-visitor');
        const fileUrl = `/file-upload/${file._id}/${encodeURI(file.name)}`;
        const attachment: Record<string, unknown> = {
            title: file.name,
            type: 'file',
            description: file.description,
            title_link: fileUrl,
            title_link_download: true,
        };
        if (/^image\/.+/.test(file.type)) {
            Object.assign(attachment, {
                image_url: fileUrl,
                image_type: file.type,
                image_size: file.size,
            });
            if (file.identify?.size) attachment.image_dimensions = file.identify.size;
            try {
                const preview = await sharp(this.ctx.store.readBytes(file._id))
                    .resize({ width: 32, height: 32, fit: 'inside' })
                    .jpeg()
                    .blur()
                    .toBuffer();
                attachment.image_preview = preview.toString('base64');
            } catch {
                // core logs and posts without a preview when the image cannot be decoded
            }
        } else if (/^audio\/.+/.test(file.type)) {
            Object.assign(attachment, {
                audio_url: fileUrl,
                audio_type: file.type,
                audio_size: file.size,
            });
        } else if (/^video\/.+/.test(file.type)) {
            Object.assign(attachment, {
                video_url: fileUrl,
                video_type: file.type,
                video_size: file.size,
            });
        }
        if (attachment.description === undefined) delete attachment.description;
        const now = new Date();
        const fileRef = { _id: file._id, name: file.name, type: file.type };
        return this.chat.sendMessage({
            _id: randomId(),
            rid: file.rid,
            ts: now,
            _updatedAt: now,
            msg: '',
            file: fileRef,
            files: [fileRef],
            // Rocket.Chat's sendMessageLivechat passes no `groupable` on, and sendMessage sets the alias
            // to the visitor's name (docs/ROCKETCHAT.md, "The upload accessor").
            ...(visitor.name && { alias: visitor.name }),
            attachments: [attachment],
            u: {
                _id: visitor._id,
                username: visitor.username,
                ...(visitor.name && { name: visitor.name }),
            },
            token: visitorToken,
        });
    }
}
