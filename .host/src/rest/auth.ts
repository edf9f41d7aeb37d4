// Users and authentication as Rocket.Chat's REST API has them: the admin account, X-User-Id +
// X-Auth-Token, login tokens kept hashed.
import type { Request, Response } from 'express';
import { createHash } from 'node:crypto';
import type { HostContext } from '../context';
import { randomId, type Doc } from '../store';

export const hash = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Creates (or resets) the admin account the host starts with. */
export function createAdmin(ctx: HostContext, username: string, password: string): Doc {
    const existing = ctx.store.findOne('users', (u: Doc) => u.username === username);
    const now = new Date();
    const doc = {
        _id: existing?._id ?? randomId(),
        username,
        name: 'Administrator',
        type: 'user',
        active: true,
        roles: ['admin', 'user'],
        status: 'online',
        emails: [{ address: `${username}@localhost`, verified: true }],
        createdAt: existing?.createdAt ?? now,
        _updatedAt: now,
        services: { password: { sha256: hash(password) } },
    };
    return ctx.store.put('users', doc);
}

/** Rocket.Chat's REST authentication: X-User-Id + X-Auth-Token headers. */
export function authenticate(ctx: HostContext, req: Request): Doc | undefined {
    const userId = req.header('x-user-id');
    const token = req.header('x-auth-token');
    if (!userId || !token) return undefined;
    const login = ctx.store.get('loginTokens', hash(token));
    return login && login.userId === userId ? ctx.store.get('users', userId) : undefined;
}

/** A user as Rocket.Chat shows it: without its services (password hash). */
export const publicUser = (u: Doc): Doc => {
    const { services: _s, ...rest } = u;
    return rest as Doc;
};

export const answerUnauthorized = (res: Response): void =>
    void res.status(401).json({ status: 'error', message: 'You must be logged in to do this.' });

const isAdmin = (u: Doc | undefined): boolean => Array.isArray(u?.roles) && (u!.roles as string[]).includes('admin');

/** The authenticated admin, or undefined after answering 401 or 403 as Rocket.Chat does. */
export function requireAdmin(ctx: HostContext, req: Request, res: Response): Doc | undefined {
    const user = authenticate(ctx, req);
    if (!user) return void answerUnauthorized(res);
    if (!isAdmin(user)) {
        return void res.status(403).json({
            success: false,
            error: 'User does not have the permissions required for this action [error-unauthorized]',
        });
    }
    return user;
}
