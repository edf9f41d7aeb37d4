import type { IModify, IRead } from '@rocket.chat/apps-engine/definition/accessors';
import type { ILivechatRoom } from '@rocket.chat/apps-engine/definition/livechat';
import type { IMessageRaw } from '@rocket.chat/apps-engine/definition/messages';

import { withCheapToJson } from '../cheap-json-buffer';
import { toCoreMessage } from '../message-shape';
import { type PostingAttempt } from '../session';

/** How many of the room's newest messages are searched for the file message. */
const RECENT_MESSAGES = 20;
const FIND_ATTEMPTS = 10;
const FIND_DELAY_MS = 100;

export interface PostFileInput {
    room: ILivechatRoom;
    visitorToken: string;
    name: string;
    bytes: Buffer;
    description?: string;
}

export interface PostedFile {
    fileId: string;
    message: Record<string, unknown>;
}

/** Raised when the server's store refused the file (an IPreFileUpload app, a server rule). */
export class StoreRejectedError extends Error {}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The newest message of the room that carries `fileId`, or undefined. */
export async function findFileMessage(read: IRead, rid: string, fileId: string): Promise<IMessageRaw | undefined> {
    for (let attempt = 0; attempt < FIND_ATTEMPTS; attempt += 1) {
        const messages = await read.getRoomReader().getMessages(rid, { limit: RECENT_MESSAGES, sort: { createdAt: 'desc' } });
        const found = messages.find((m) => m.file?._id === fileId);
        if (found) {
            return found;
        }
        await sleep(FIND_DELAY_MS);
    }
    return undefined;
}

/**
 * Stores the file through the upload accessor, which posts the file message as the visitor
 * (docs/ROCKETCHAT.md, "The upload accessor"), then puts the description on the attachment as
 * core does and reads the message back. The accessor has no description field, so the app edits
 * the message as its own user: Rocket.Chat then shows it as edited. Returns the upload id and the
 * message in core's shape. Throws `StoreRejectedError` when the store refuses the file, or stores
 * it and posts no message.
 */
export async function postFile(read: IRead, modify: IModify, input: PostFileInput): Promise<PostedFile> {
    let upload;
    try {
        upload = await modify.getCreator().getUploadCreator().uploadBuffer(withCheapToJson(input.bytes), {
            filename: input.name,
            room: input.room,
            visitorToken: input.visitorToken,
        });
    } catch (e) {
        throw new StoreRejectedError(e instanceof Error ? e.message : String(e));
    }
    if (!upload) {
        throw new Error('the upload accessor returned nothing: is the upload.write permission granted?');
    }
    const posted = await findFileMessage(read, input.room.id, upload.id);
    if (!posted) {
        // The accessor returns once its message is written; Rocket.Chat stores the file and posts
        // nothing when the room closed or livechat was turned off between the two
        // (docs/ROCKETCHAT.md, "The upload accessor").
        throw new StoreRejectedError(`file ${upload.id} was stored but no message was posted in room ${input.room.id}`);
    }
    if (input.description) {
        await describeAttachment(read, modify, posted.id, input.description);
    }
    const message = input.description ? await findFileMessage(read, input.room.id, upload.id) : posted;
    return { fileId: upload.id, message: toCoreMessage((message ?? posted) as unknown as Record<string, unknown>) };
}

/** How many of the room's newest messages are searched for the file of an earlier attempt. */
const EARLIER_POST_SEARCH = 50;

/**
 * Allowance for the clock of the server that posted against the one recorded in the attempt:
 * the attempt's time is written before the upload starts, so a real post is never earlier than it
 * by more than the servers' clock difference.
 */
const EARLIER_POST_CLOCK_SKEW_MS = 5_000;

/** Whose attempt is being recovered: the visitor, and the messages other uploads already have as theirs. */
export interface AttemptOwner {
    /** The visitor's id (undefined when the server gave none: then the sender is not compared). */
    visitorId: string | undefined;
    /** Messages that other uploads (sessions, keyed single uploads) of the visitor recorded as their outcome. */
    takenMessageIds: ReadonlySet<string>;
}

/**
 * The message an earlier attempt posted, when it did: a file message of the visitor in the room
 * with the attempt's file name, created after the attempt started, that no other upload has as its
 * outcome, whose stored file has the attempt's size; the oldest such message, as the attempt's own
 * post is the first after its start (phones name every photo `image.jpg`: a later photo of the same
 * name is another upload's). Images may be re-encoded by the server (Rocket.Chat's
 * `FileUpload_RotateImages` turns photos upright), so for an image the size is not compared. When
 * the attempt stopped before adding the description, it is added now. Returns the message in core's
 * shape, or undefined. Needs `upload.read` to read the stored file's size.
 */
export async function recoverEarlierPost(
    read: IRead,
    modify: IModify,
    rid: string,
    attempt: PostingAttempt,
    description: string | undefined,
    owner: AttemptOwner,
): Promise<Record<string, unknown> | undefined> {
    const newestFirst = await read.getRoomReader().getMessages(rid, { limit: EARLIER_POST_SEARCH, sort: { createdAt: 'desc' } });
    const candidates = newestFirst
        .filter(
            (m) =>
                m.file?.name === attempt.name &&
                new Date(m.createdAt).getTime() >= attempt.sinceMs - EARLIER_POST_CLOCK_SKEW_MS &&
                !isFromSomeoneElse(m, owner.visitorId) &&
                !owner.takenMessageIds.has(String(m.id)),
        )
        .reverse();
    for (const candidate of candidates) {
        const upload = await read.getUploadReader().getById(candidate.file!._id);
        const isSameFile = Boolean(upload) && (Number(upload.size) === attempt.size || attempt.type.startsWith('image/'));
        if (!isSameFile) {
            continue;
        }
        if (description && candidate.attachments?.[0]?.description !== description) {
            await describeAttachment(read, modify, candidate.id, description);
        }
        const message = await read.getMessageReader().getById(candidate.id);
        return toCoreMessage((message ?? candidate) as unknown as Record<string, unknown>);
    }
    return undefined;
}

/**
 * Whether a message was sent by someone other than the visitor. Rocket.Chat hands a visitor's
 * message over with the visitor as its sender (`id`); a message without a sender is not ruled out.
 */
function isFromSomeoneElse(message: { sender?: unknown }, visitorId: string | undefined): boolean {
    const sender = message.sender as { id?: string | null; _id?: string | null } | null | undefined;
    const senderId = sender?.id ?? sender?._id;
    return visitorId !== undefined && senderId !== undefined && senderId !== null && senderId !== visitorId;
}

/** Reads back the message of a finished upload by its id, in core's shape. */
export async function readPostedMessage(read: IRead, messageId: string): Promise<Record<string, unknown> | undefined> {
    const message = await read.getMessageReader().getById(messageId);
    return message ? toCoreMessage(message as unknown as Record<string, unknown>) : undefined;
}

async function describeAttachment(read: IRead, modify: IModify, messageId: string, description: string): Promise<void> {
    const appUser = await read.getUserReader().getAppUser();
    if (!appUser) {
        throw new Error('the app user is missing: cannot add the description');
    }
    const builder = await modify.getUpdater().message(messageId, appUser);
    const attachments = builder.getAttachments() ?? [];
    if (attachments.length === 0) {
        attachments.push({ description });
    } else {
        attachments[0] = { ...attachments[0], description };
    }
    builder.setAttachments(attachments);
    builder.setEditor(appUser);
    await modify.getUpdater().finish(builder);
}
