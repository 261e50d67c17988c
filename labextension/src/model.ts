/**
 * The panel's model: jobs, endpoints and cost, kept fresh by a `Poll` and a long poll on
 * `/changes`. It says what happened through signals (`jobEnded`, `endpointIdle`,
 * `kernelEnded`); the view turns them into notifications, so the model has no DOM and is
 * unit-tested with `requestAPI` mocked (labextension/test/model.spec.ts).
 */
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { ApiError, requestAPI } from './handler';
import {
  ApprovalAction,
  IChanges,
  ICostSummary,
  IEndpoint,
  IEndpointList,
  IIdleEndpoint,
  IJob,
  IKernelEndedReminder,
  IJobList,
  ILineage,
  ILineageNode,
  IModelList,
  IModelPackage,
  ISmMagicsModel,
  TERMINAL_JOB_STATUSES,
  TRANSITIONAL_ENDPOINT_STATUSES
} from './tokens';

/** How many jobs the panel reads (newest first): the server's maximum. */
export const JOB_LIMIT = 1000;

/** The slowest refresh while nothing runs; `/changes` still sees new jobs at once. */
const IDLE_MAX_INTERVAL = 60 * 1000;

/** One kernel event may be seen several ways (status, session): one reminder within this. */
const REMIND_AGAIN_MS = 10_000;

/** How long `/changes` may hold a request (the server caps it at 30 s). */
const CHANGES_TIMEOUT_S = 30;

export namespace SmMagicsModel {
  export interface IOptions {
    /** Whether the view is shown; the model stands by and stops long-polling if not. */
    isVisible: () => boolean;
    /** Refresh interval while something runs, in milliseconds. */
    refreshInterval?: number;
    /** Warn about an endpoint idle (or, if never invoked, alive) longer than this. */
    idleWarningMinutes?: number;
  }
}

export class SmMagicsModel implements ISmMagicsModel {
  constructor(options: SmMagicsModel.IOptions) {
    this._isVisible = options.isVisible;
    this._refreshInterval = options.refreshInterval ?? 2000;
    this._idleWarningMinutes = options.idleWarningMinutes ?? 60;
    this._interval = this._refreshInterval;
    this._poll = new Poll({
      auto: true,
      factory: () => this._refresh(),
      frequency: { interval: this._interval, backoff: true, max: 5 * 60 * 1000 },
      name: 'sm-magics:panel',
      standby: () => !this._isVisible() || 'when-hidden'
    });
  }

  get jobs(): ReadonlyArray<IJob> {
    return this._jobs;
  }

  get endpoints(): ReadonlyArray<IEndpoint> {
    return this._endpoints;
  }

  get cost(): ICostSummary | null {
    return this._cost;
  }

  get models(): ReadonlyArray<IModelPackage> {
    return this._models;
  }

  get error(): string | null {
    return this._error;
  }

  /** True once the first refresh answered (the view then stops saying "Loading"). */
  get loaded(): boolean {
    return this._loaded;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get jobEnded(): ISignal<this, IJob> {
    return this._jobEnded;
  }

  get endpointIdle(): ISignal<this, IIdleEndpoint> {
    return this._endpointIdle;
  }

  get kernelEnded(): ISignal<this, IKernelEndedReminder> {
    return this._kernelEnded;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Refresh interval while something runs, in milliseconds (setting `refreshInterval`). */
  get refreshInterval(): number {
    return this._refreshInterval;
  }

  set refreshInterval(value: number) {
    this._refreshInterval = Math.max(250, value);
    this._setInterval(this._refreshInterval);
  }

  get idleWarningMinutes(): number {
    return this._idleWarningMinutes;
  }

  set idleWarningMinutes(value: number) {
    this._idleWarningMinutes = value;
  }

  /** Refresh now; resolves after the refresh. */
  async refresh(): Promise<void> {
    await this._poll.refresh();
    await this._poll.tick;
  }

  /** The view became visible or hidden: refresh at once and (re)start the long poll. */
  visibilityChanged(): void {
    if (this._isDisposed) {
      return;
    }
    if (this._isVisible()) {
      void this._poll.refresh();
      this._startLongPoll();
    } else {
      this._stopLongPoll();
    }
  }

  async stopJob(name: string): Promise<IJob> {
    const job = await requestAPI<IJob>(`jobs/${encodeURIComponent(name)}/stop`, {
      method: 'POST'
    });
    this._replaceJob(job);
    void this._poll.refresh();
    return job;
  }

  async deleteEndpoint(name: string): Promise<IEndpoint> {
    const endpoint = await requestAPI<IEndpoint>(`endpoints/${encodeURIComponent(name)}`, {
      method: 'DELETE'
    });
    this._endpoints = this._endpoints.filter(e => e.name !== name);
    this._changed.emit();
    void this._poll.refresh();
    return endpoint;
  }

  /** Approve or reject one registry version; the answer (who and when) replaces it. */
  async setApproval(
    group: string,
    version: number,
    action: ApprovalAction
  ): Promise<IModelPackage> {
    const route = `models/${encodeURIComponent(group)}/${version}/${action}`;
    const answer = await requestAPI<IModelPackage>(route, { method: 'POST' });
    this._models = this._models.map(m =>
      m.group === answer.group && m.version === answer.version ? answer : m
    );
    this._changed.emit();
    void this._poll.refresh();
    return answer;
  }

  /**
   * Where an endpoint, a version (`group/version`) or a job came from. Read when the view
   * opens a lineage (never polled: it changes only when something is registered or deployed).
   */
  async lineage(name: string): Promise<ILineageNode> {
    // A version's name has a slash: each part is encoded, the slash stays (the route takes it).
    const path = name.split('/').map(encodeURIComponent).join('/');
    return (await requestAPI<ILineage>(`lineage/${path}`)).root;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._stopLongPoll();
    this._poll.dispose();
    Signal.clearData(this);
  }

  // -- refresh ------------------------------------------------------------------------------

  private async _refresh(): Promise<void> {
    let jobs: IJobList;
    let endpoints: IEndpointList;
    let cost: ICostSummary;
    let models: IModelList | null;
    try {
      [jobs, endpoints, cost, models] = await Promise.all([
        requestAPI<IJobList>(`jobs?limit=${JOB_LIMIT}`),
        requestAPI<IEndpointList>('endpoints'),
        requestAPI<ICostSummary>('cost'),
        // The registry is secondary: a server without it (or a failure) keeps the rest.
        requestAPI<IModelList>('models').catch(() => null)
      ]);
    } catch (error) {
      this._error = error instanceof ApiError ? error.message : `${error}`;
      this._changed.emit();
      throw error; // the Poll backs off
    }
    this._notifyJobs(jobs.jobs);
    this._jobs = jobs.jobs;
    this._endpoints = endpoints.endpoints;
    this._cost = cost;
    if (models) {
      this._models = models.models ?? [];
    }
    this._version = jobs.version;
    this._error = null;
    this._loaded = true;
    this._warnIdleEndpoints();
    const active =
      this._jobs.some(j => !TERMINAL_JOB_STATUSES.includes(j.status)) ||
      this._endpoints.some(e => TRANSITIONAL_ENDPOINT_STATUSES.includes(e.status));
    // Fast while something moves; doubling up to a minute while idle.
    this._setInterval(
      active
        ? this._refreshInterval
        : Math.min(Math.max(this._interval * 2, this._refreshInterval), IDLE_MAX_INTERVAL)
    );
    this._changed.emit();
    this._startLongPoll();
  }

  private _setInterval(interval: number): void {
    this._interval = interval;
    if (this._poll.isDisposed) {
      return;
    }
    this._poll.frequency = {
      ...this._poll.frequency,
      interval,
      max: Math.max(interval, this._poll.frequency.max)
    };
  }

  private _replaceJob(job: IJob): void {
    if (job && job.name) {
      this._jobs = this._jobs.map(j => (j.name === job.name ? { ...j, ...job } : j));
      this._changed.emit();
    }
  }

  // -- long poll on /changes ----------------------------------------------------------------

  private _startLongPoll(): void {
    if (this._longPoll || this._isDisposed || !this._isVisible() || this._version === null) {
      return;
    }
    const controller = new AbortController();
    this._longPoll = controller;
    void this._runLongPoll(controller).finally(() => {
      if (this._longPoll === controller) {
        this._longPoll = null;
      }
    });
  }

  private _stopLongPoll(): void {
    this._longPoll?.abort();
    this._longPoll = null;
  }

  private async _runLongPoll(controller: AbortController): Promise<void> {
    let failures = 0;
    while (!controller.signal.aborted && !this._isDisposed && this._isVisible()) {
      try {
        const since = encodeURIComponent(String(this._version));
        const answer = await requestAPI<IChanges>(
          `changes?since=${since}&timeout=${CHANGES_TIMEOUT_S}`,
          { signal: controller.signal }
        );
        failures = 0;
        if (answer && answer.version !== this._version && !controller.signal.aborted) {
          this._version = answer.version; // no second wake-up for the same change
          await this._poll.refresh();
          await this._poll.tick;
        }
      } catch (error) {
        if (controller.signal.aborted) {
          return;
        }
        // The regular Poll still runs; retry the long poll gently.
        failures += 1;
        await sleep(Math.min(60_000, 1000 * 2 ** failures));
      }
    }
  }

  // -- what the view turns into notifications ---------------------------------------------

  /**
   * A notebook's kernel went away (shut down, or restarted when `restarted`): emit
   * `kernelEnded` when endpoints that notebook made still bill, so the browser shows the
   * reminder the kernel could only write to the server log.
   */
  async onKernelEnded(path: string, restarted = false): Promise<void> {
    // One restart says 'restarting' (and may say 'autorestarting', or end the session):
    // one reminder for it.
    const now = Date.now();
    if (now - (this._reminded.get(path) ?? -Infinity) < REMIND_AGAIN_MS) {
      return;
    }
    this._reminded.set(path, now);
    let endpoints: IEndpoint[];
    try {
      // Fresh: a hidden panel stands by, so what the model holds may be minutes old.
      endpoints = (await requestAPI<IEndpointList>('endpoints')).endpoints;
    } catch {
      endpoints = this._endpoints;
    }
    const left = endpoints.filter(
      e => e.billing && e.notebook !== null && samePath(e.notebook, path)
    );
    if (!left.length || this._isDisposed) {
      return;
    }
    const rates = left.map(e => e.cost_per_hour);
    const perHour = rates.some(r => r === null)
      ? null
      : rates.reduce<number>((sum, r) => sum + (r ?? 0), 0);
    this._kernelEnded.emit({ path, restarted, endpoints: left, perHour });
  }

  private _notifyJobs(jobs: IJob[]): void {
    const first = this._previous === null;
    const previous = this._previous ?? new Map<string, string>();
    const next = new Map<string, string>();
    for (const job of jobs) {
      next.set(job.name, job.status);
      if (first || !TERMINAL_JOB_STATUSES.includes(job.status)) {
        continue;
      }
      const before = previous.get(job.name);
      // A transition seen while the model ran: it was running, or it is new since then.
      const seenRunning = before !== undefined && !TERMINAL_JOB_STATUSES.includes(before);
      const newSinceStart =
        before === undefined && (job.created_at ?? 0) * 1000 >= this._startedAt;
      if (seenRunning || newSinceStart) {
        this._jobEnded.emit(job);
      }
    }
    this._previous = next;
  }

  private _warnIdleEndpoints(): void {
    const limit = this._idleWarningMinutes * 60;
    if (!(limit > 0)) {
      return;
    }
    const now = this._cost?.generated_at ?? Date.now() / 1000;
    for (const endpoint of this._endpoints) {
      if (!endpoint.billing || this._warned.has(endpoint.name)) {
        continue;
      }
      const invoked = endpoint.last_invoked_at !== null && endpoint.last_invoked_at !== undefined;
      const idle = invoked ? now - (endpoint.last_invoked_at as number) : endpoint.age;
      if (idle === null || idle === undefined || idle < limit) {
        continue;
      }
      this._warned.add(endpoint.name);
      this._endpointIdle.emit({ endpoint, idle, invoked });
    }
  }

  private _isVisible: () => boolean;
  private _refreshInterval: number;
  private _idleWarningMinutes: number;
  private _interval: number;
  private _poll: Poll;
  private _longPoll: AbortController | null = null;
  private _jobs: IJob[] = [];
  private _endpoints: IEndpoint[] = [];
  private _cost: ICostSummary | null = null;
  private _models: IModelPackage[] = [];
  private _version: string | null = null;
  private _error: string | null = null;
  private _loaded = false;
  private _previous: Map<string, string> | null = null;
  private _warned = new Set<string>();
  private _reminded = new Map<string, number>();
  private _startedAt = Date.now();
  private _isDisposed = false;
  private _changed = new Signal<this, void>(this);
  private _jobEnded = new Signal<this, IJob>(this);
  private _endpointIdle = new Signal<this, IIdleEndpoint>(this);
  private _kernelEnded = new Signal<this, IKernelEndedReminder>(this);
}

/**
 * Whether the ledger's notebook path (the kernel's `__session__`: absolute, or relative to
 * the server root) names the notebook at contents path `path` (always relative).
 */
export function samePath(recorded: string, path: string): boolean {
  const a = recorded.replace(/\\/g, '/');
  const b = path.replace(/\\/g, '/').replace(/^\/+/, '');
  return a === b || a.endsWith(`/${b}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}
