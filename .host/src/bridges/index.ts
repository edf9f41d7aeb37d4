// The bridge set handed to the AppManager. Bridges the host does not implement at all are abstract
// classes instantiated through withUnsupported(): every call throws "<Bridge>.<method> is not supported
// by the local host".
import { AppBridges } from '@rocket.chat/apps-engine/server/bridges/AppBridges';
import { CommandBridge } from '@rocket.chat/apps-engine/server/bridges/CommandBridge';
import type { ContactBridge } from '@rocket.chat/apps-engine/server/bridges/ContactBridge';
import { HttpBridge } from '@rocket.chat/apps-engine/server/bridges/HttpBridge';
import type { EmailBridge } from '@rocket.chat/apps-engine/server/bridges/EmailBridge';
import { UiInteractionBridge } from '@rocket.chat/apps-engine/server/bridges/UiInteractionBridge';
import { CloudWorkspaceBridge } from '@rocket.chat/apps-engine/server/bridges/CloudWorkspaceBridge';
import { VideoConferenceBridge } from '@rocket.chat/apps-engine/server/bridges/VideoConferenceBridge';
import { OAuthAppsBridge } from '@rocket.chat/apps-engine/server/bridges/OAuthAppsBridge';
import { ModerationBridge } from '@rocket.chat/apps-engine/server/bridges/ModerationBridge';
import { ThreadBridge } from '@rocket.chat/apps-engine/server/bridges/ThreadBridge';
import { RoleBridge } from '@rocket.chat/apps-engine/server/bridges/RoleBridge';
import type { OutboundMessageBridge } from '@rocket.chat/apps-engine/server/bridges/OutboundMessagesBridge';
import type { ExperimentalBridge } from '@rocket.chat/apps-engine/server/bridges/ExperimentalBridge';
import type { IListenerBridge } from '@rocket.chat/apps-engine/server/bridges/IListenerBridge';
import { withUnsupported, type HostContext } from '../context';
import type { Chat } from '../chat';
import { HostApiBridge, type Authenticate } from './api';
import { HostLivechatBridge } from './livechat';
import { HostMessageBridge, HostRoomBridge } from './rooms';
import { HostPersistenceBridge } from './persistence';
import { HostSchedulerBridge } from './scheduler';
import { HostServerSettingBridge, type ServerSettings } from './settings';
import { HostUploadBridge } from './uploads';
import { HostUserBridge } from './users';
import { HostActivationBridge, HostDetailChangesBridge, HostEnvironmentBridge, HostFederationBridge, HostInternalBridge } from './misc';

// Listener events the host itself raises go straight to the engine's listener manager (see uploads.ts);
// message/room events from the engine are not raised by this host.
const listenerBridge = withUnsupported(class ListenerBridge {} as unknown as abstract new () => IListenerBridge);

/**
 * A bridge class the engine added over time: ContactBridge in 1.53, OutboundMessagesBridge in 1.55,
 * ExperimentalBridge in 1.57 (EmailBridge is in every engine with a Deno runtime). An older engine never asks
 * for it, so an empty stand-in of that name takes its place there.
 */
function laterBridge<T>(file: string, name: string): abstract new () => T {
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        return require(`@rocket.chat/apps-engine/server/bridges/${file}`)[name];
    } catch {
        return { [name]: class {} }[name] as unknown as abstract new () => T;
    }
}

export class HostBridges extends AppBridges {
    readonly api: HostApiBridge;
    readonly scheduler: HostSchedulerBridge;
    private readonly b;

    constructor(ctx: HostContext, chat: Chat, settings: ServerSettings, authenticate: Authenticate) {
        super();
        this.api = new HostApiBridge(ctx, authenticate);
        this.scheduler = new HostSchedulerBridge(ctx);
        this.b = {
            command: withUnsupported(CommandBridge),
            contact: withUnsupported(laterBridge<ContactBridge>('ContactBridge', 'ContactBridge')),
            details: withUnsupported(HostDetailChangesBridge),
            env: withUnsupported(HostEnvironmentBridge),
            http: withUnsupported(HttpBridge),
            livechat: withUnsupported(HostLivechatBridge, ctx, chat),
            message: withUnsupported(HostMessageBridge, ctx, chat),
            persistence: withUnsupported(HostPersistenceBridge, ctx),
            activation: withUnsupported(HostActivationBridge, ctx),
            room: withUnsupported(HostRoomBridge, ctx, chat),
            internal: withUnsupported(HostInternalBridge, ctx),
            federation: new HostFederationBridge(ctx),
            settings: withUnsupported(HostServerSettingBridge, ctx, settings),
            upload: withUnsupported(HostUploadBridge, ctx, chat, settings),
            email: withUnsupported(laterBridge<EmailBridge>('EmailBridge', 'EmailBridge')),
            user: withUnsupported(HostUserBridge, ctx),
            ui: withUnsupported(UiInteractionBridge),
            cloud: withUnsupported(CloudWorkspaceBridge),
            video: withUnsupported(VideoConferenceBridge),
            oauth: withUnsupported(OAuthAppsBridge),
            moderation: withUnsupported(ModerationBridge),
            thread: withUnsupported(ThreadBridge),
            role: withUnsupported(RoleBridge),
            outbound: withUnsupported(laterBridge<OutboundMessageBridge>('OutboundMessagesBridge', 'OutboundMessageBridge')),
            experimental: withUnsupported(laterBridge<ExperimentalBridge>('ExperimentalBridge', 'ExperimentalBridge')),
        };
    }

    getCommandBridge() {
        return this.b.command;
    }
    getContactBridge() {
        return this.b.contact;
    }
    getApiBridge() {
        return this.api;
    }
    getAppDetailChangesBridge() {
        return this.b.details;
    }
    getEnvironmentalVariableBridge() {
        return this.b.env;
    }
    getHttpBridge() {
        return this.b.http;
    }
    getListenerBridge() {
        return listenerBridge;
    }
    getLivechatBridge() {
        return this.b.livechat;
    }
    getMessageBridge() {
        return this.b.message;
    }
    getPersistenceBridge() {
        return this.b.persistence;
    }
    getAppActivationBridge() {
        return this.b.activation;
    }
    getRoomBridge() {
        return this.b.room;
    }
    getInternalBridge() {
        return this.b.internal;
    }
    getInternalFederationBridge() {
        return this.b.federation;
    }
    getServerSettingBridge() {
        return this.b.settings;
    }
    getUploadBridge() {
        return this.b.upload;
    }
    getEmailBridge() {
        return this.b.email;
    }
    getUserBridge() {
        return this.b.user;
    }
    getUiInteractionBridge() {
        return this.b.ui;
    }
    getSchedulerBridge() {
        return this.scheduler;
    }
    getCloudWorkspaceBridge() {
        return this.b.cloud;
    }
    getVideoConferenceBridge() {
        return this.b.video;
    }
    getOAuthAppsBridge() {
        return this.b.oauth;
    }
    getModerationBridge() {
        return this.b.moderation;
    }
    getThreadBridge() {
        return this.b.thread;
    }
    getRoleBridge() {
        return this.b.role;
    }
    getOutboundMessageBridge() {
        return this.b.outbound;
    }
    getExperimentalBridge() {
        return this.b.experimental;
    }
}
