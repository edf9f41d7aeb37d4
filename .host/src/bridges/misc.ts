// Small bridges: activation, app detail changes, internal, internal federation (a real RSA pair),
// listener, environment. Rocket.Chat's counterparts live beside the others in apps/meteor/app/apps/server/bridges.
import { generateKeyPairSync } from 'node:crypto';
import { AppActivationBridge } from '@rocket.chat/apps-engine/server/bridges/AppActivationBridge';
import { AppDetailChangesBridge } from '@rocket.chat/apps-engine/server/bridges/AppDetailChangesBridge';
import { InternalBridge } from '@rocket.chat/apps-engine/server/bridges/InternalBridge';
import type { IInternalFederationBridge } from '@rocket.chat/apps-engine/server/bridges/IInternalFederationBridge';
import { EnvironmentalVariableBridge } from '@rocket.chat/apps-engine/server/bridges/EnvironmentalVariableBridge';
import type { ProxiedApp } from '@rocket.chat/apps-engine/server/ProxiedApp';
import type { AppStatus } from '@rocket.chat/apps-engine/definition/AppStatus';
import type { ISetting } from '@rocket.chat/apps-engine/definition/settings';
import type { HostContext } from '../context';
import type { RoomDoc } from '../chat';
import { unsupported } from '../context';

export class HostActivationBridge extends AppActivationBridge {
    constructor(private readonly ctx: HostContext) {
        super();
    }
    protected async appAdded(app: ProxiedApp): Promise<void> {
        this.ctx.log(`app added: ${app.getName()} ${app.getVersion()}`);
    }
    protected async appUpdated(app: ProxiedApp): Promise<void> {
        this.ctx.log(`app updated: ${app.getName()} ${app.getVersion()}`);
    }
    protected async appRemoved(app: ProxiedApp): Promise<void> {
        this.ctx.log(`app removed: ${app.getName()}`);
    }
    protected async appStatusChanged(app: ProxiedApp, status: AppStatus): Promise<void> {
        this.ctx.log(`app ${app.getName()} is ${status}`);
    }
    protected async actionsChanged(): Promise<void> {}
}

export class HostDetailChangesBridge extends AppDetailChangesBridge {
    protected onAppSettingsChange(_appId: string, _setting: ISetting): void {}
}

export class HostInternalBridge extends InternalBridge {
    constructor(private readonly ctx: HostContext) {
        super();
    }
    protected async getUsernamesOfRoomById(roomId: string): Promise<Array<string>> {
        return this.getUsernamesOfRoomByIdSync(roomId);
    }
    protected getUsernamesOfRoomByIdSync(roomId: string): Array<string> {
        const room = this.ctx.store.get<RoomDoc>('rooms', roomId);
        return room?.servedBy ? [room.servedBy.username] : [];
    }
    protected async getWorkspacePublicKey(): Promise<ISetting> {
        throw unsupported('InternalBridge.getWorkspacePublicKey');
    }
}

/** The engine signs the installed app with this pair and verifies it at load time (AppSignatureManager, RS512). */
export class HostFederationBridge implements IInternalFederationBridge {
    constructor(private readonly ctx: HostContext) {}
    private keys(): { privateKey: string; publicKey: string } {
        let pair = this.ctx.store.get<{
            _id: string;
            privateKey: string;
            publicKey: string;
        }>('kv', 'federation-keys');
        if (!pair) {
            const { privateKey, publicKey } = generateKeyPairSync('rsa', {
                modulusLength: 2048,
                publicKeyEncoding: { type: 'spki', format: 'pem' },
                privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
            });
            pair = this.ctx.store.put('kv', {
                _id: 'federation-keys',
                privateKey,
                publicKey,
            });
        }
        return pair;
    }
    async getPrivateKey(): Promise<string | null> {
        return this.keys().privateKey;
    }
    async getPublicKey(): Promise<string | null> {
        return this.keys().publicKey;
    }
}

export abstract class HostEnvironmentBridge extends EnvironmentalVariableBridge {
    // Rocket.Chat lets apps read only a few variables; the host allows none of its own.
    protected async isReadable(): Promise<boolean> {
        return false;
    }
    protected async isSet(envVarName: string): Promise<boolean> {
        return typeof process.env[envVarName] !== 'undefined';
    }
    protected async getValueByName(): Promise<string | undefined> {
        return undefined;
    }
}
