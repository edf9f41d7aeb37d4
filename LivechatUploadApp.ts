import { App } from '@rocket.chat/apps-engine/definition/App';

export class LivechatUploadApp extends App {}
