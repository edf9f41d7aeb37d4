// Scheduler (apps/meteor/app/apps/server/bridges/scheduler.ts uses Agenda over MongoDB). Here jobs are
// timers in this process: they really run, recurring ones repeat, but they are not kept across restarts
// (processors with a startupSetting are scheduled again when the app starts, as in Rocket.Chat).
import { SchedulerBridge } from '@rocket.chat/apps-engine/server/bridges/SchedulerBridge';
import type { IOnetimeSchedule, IProcessor, IRecurringSchedule } from '@rocket.chat/apps-engine/definition/scheduler';
import type { HostContext } from '../context';
import { randomId } from '../store';

const UNITS: Record<string, number> = {
    ms: 1,
    millisecond: 1,
    second: 1000,
    minute: 60_000,
    hour: 3_600_000,
    day: 86_400_000,
    week: 604_800_000,
};

/** Milliseconds of a number or a simple human-interval string ("30 seconds", "1 minute", "2.5 hours"). */
export function parseIntervalMs(value: string | number): number {
    if (typeof value === 'number') return value;
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|milliseconds?|seconds?|minutes?|hours?|days?|weeks?)\s*$/i.exec(value);
    if (!m) throw new Error(`Scheduler interval "${value}" (cron or complex human-interval) is not supported by the local host`);
    return Number(m[1]) * UNITS[m[2].toLowerCase().replace(/s$/, '')];
}

type Processor = (ctx: object) => Promise<void>;

export class HostSchedulerBridge extends SchedulerBridge {
    private readonly processors = new Map<string, { appId: string; fn: Processor }>();
    private readonly timers = new Map<string, { appId: string; timer: NodeJS.Timeout }>();

    constructor(private readonly ctx: HostContext) {
        super();
    }

    private run(id: string, data: object | undefined): void {
        const p = this.processors.get(id);
        if (!p) return;
        p.fn({ ...(data ?? {}), jobId: randomId() }).catch((e: Error) => this.ctx.log(`job ${id} failed: ${e?.message ?? e}`));
    }

    protected async registerProcessors(processors: Array<IProcessor>, appId: string): Promise<void | Array<string>> {
        for (const p of processors) {
            this.processors.set(p.id, {
                appId,
                fn: p.processor as unknown as Processor,
            });
            const s = p.startupSetting;
            if (s?.type === 'onetime') await this.scheduleOnce({ id: p.id, when: s.when, data: s.data });
            if (s?.type === 'recurring')
                await this.scheduleRecurring({
                    id: p.id,
                    interval: s.interval,
                    skipImmediate: s.skipImmediate,
                    data: s.data,
                });
        }
        return processors.map((p) => p.id);
    }

    protected async scheduleOnce(job: IOnetimeSchedule): Promise<void | string> {
        const appId = this.processors.get(job.id)?.appId ?? '';
        const at =
            job.when instanceof Date
                ? job.when.getTime()
                : /^\d{4}-/.test(String(job.when))
                  ? Date.parse(String(job.when))
                  : Date.now() + parseIntervalMs(job.when);
        this.cancel(job.id);
        const timer = setTimeout(
            () => {
                this.timers.delete(job.id);
                this.run(job.id, job.data);
            },
            Math.max(0, at - Date.now()),
        );
        timer.unref();
        this.timers.set(job.id, { appId, timer });
        return job.id;
    }

    protected async scheduleRecurring(job: IRecurringSchedule): Promise<void | string> {
        const appId = this.processors.get(job.id)?.appId ?? '';
        const everyMs = parseIntervalMs(job.interval);
        this.cancel(job.id);
        const timer = setInterval(() => this.run(job.id, job.data), everyMs);
        timer.unref();
        this.timers.set(job.id, { appId, timer });
        if (!job.skipImmediate) setImmediate(() => this.run(job.id, job.data));
        return job.id;
    }

    private cancel(jobId: string): void {
        const t = this.timers.get(jobId);
        if (t) {
            clearTimeout(t.timer);
            clearInterval(t.timer);
            this.timers.delete(jobId);
        }
    }

    protected async cancelJob(jobId: string): Promise<void> {
        this.cancel(jobId);
    }

    protected async cancelAllJobs(appId: string): Promise<void> {
        for (const [id, t] of this.timers) if (t.appId === appId) this.cancel(id);
    }

    stopAll(): void {
        for (const id of [...this.timers.keys()]) this.cancel(id);
    }
}
