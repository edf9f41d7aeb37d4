// What every bridge and route of the local host shares.
import type { AppManager } from '@rocket.chat/apps-engine/server/AppManager';
import type { Converters } from './converters';
import type { Store } from './store';

export interface HostContext {
    store: Store;
    conv: Converters;
    /** Folder the engine and the IPreFileUpload event use for temporary files (readable by the Deno child). */
    tempDir: string;
    /** Set once the AppManager exists. */
    manager?: AppManager;
    /** Public base URL of the host, e.g. http://127.0.0.1:3000 (Site_Url). */
    siteUrl: () => string;
    log: (msg: string) => void;
}

/** The error every bridge method the local host does not implement throws. */
export function unsupported(method: string): Error {
    return new Error(`${method} is not supported by the local host`);
}

/**
 * Instantiates an abstract bridge class whose unimplemented abstract methods throw
 * "<Bridge>.<method> is not supported by the local host" instead of "is not a function".
 */
export function withUnsupported<T extends object>(Bridge: abstract new (...args: any[]) => T, ...args: unknown[]): T {
    const instance = new (Bridge as unknown as new (...a: unknown[]) => T)(...args);
    // HostRoomBridge -> "RoomBridge" (the engine's name); engine classes used as they are keep their own name
    const parent = Object.getPrototypeOf(Bridge) as { name?: string };
    const label = Bridge.name.startsWith('Host') && parent?.name ? parent.name : Bridge.name;
    return new Proxy(instance, {
        get(target, prop, receiver) {
            if (typeof prop === 'symbol' || prop in target || prop === 'then' || prop === 'toJSON') return Reflect.get(target, prop, receiver);
            return () => {
                throw unsupported(`${label}.${prop}`);
            };
        },
    });
}
