/**
 * Reading one job's log through `/jobs/<name>/logs?cursor=`, with no DOM (unit-tested with
 * `requestAPI` mocked): it polls fast while lines arrive and backs off when none do, stops
 * once the server says `done`, and collapses `\r`-redrawn progress lines (tqdm) to their
 * latest state, as the widget and `%sm_logs` do.
 */
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { ApiError, requestAPI } from './handler';
import { collapseCarriageReturns } from './format';
import { IJob, ILogEvent, ILogPage } from './tokens';

/** Lines per request. */
export const PAGE_SIZE = 1000;

/** What the view shows above the lines: a text and the status that colours it. */
export interface ILogStatus {
  text: string;
  status: string;
}

/** Reads one job's log through the REST API, page after page, until the job ended. */
export class LogModel {
  constructor(
    readonly jobName: string,
    options: { auto?: boolean } = {}
  ) {
    this._poll = new Poll({
      auto: options.auto ?? true,
      factory: () => this.fetch(),
      frequency: { interval: 250, backoff: true, max: 10_000 },
      name: `sm-magics:logs:${jobName}`,
      standby: 'when-hidden'
    });
  }

  /** New lines (their messages already collapsed). */
  get appended(): ISignal<this, ILogEvent[]> {
    return this._appended;
  }

  get statusChanged(): ISignal<this, ILogStatus> {
    return this._statusChanged;
  }

  /** True once every line was read and the job ended. */
  get done(): boolean {
    return this._done;
  }

  get lineCount(): number {
    return this._lineCount;
  }

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  /** Read the next page (the Poll calls this; tests call it directly). */
  async fetch(): Promise<void> {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (this._cursor !== null) {
      query.set('cursor', this._cursor);
    }
    let page: ILogPage;
    try {
      page = await requestAPI<ILogPage>(
        `jobs/${encodeURIComponent(this.jobName)}/logs?${query.toString()}`
      );
    } catch (error) {
      const message = error instanceof ApiError ? error.message : `${error}`;
      if (error instanceof ApiError && error.status === 404 && error.code === 'NotFound') {
        this._finish(`Not found: ${message}`, 'Stopped');
        return;
      }
      this._statusChanged.emit({ text: `Retrying: ${message}`, status: 'Failed' });
      throw error; // the Poll backs off
    }
    this._cursor = page.cursor ?? this._cursor;
    const events = (page.events ?? []).map(e => ({
      ...e,
      message: collapseCarriageReturns(e.message)
    }));
    if (events.length) {
      this._lineCount += events.length;
      this._appended.emit(events);
    }
    if (page.done) {
      const job = await requestAPI<IJob>(`jobs/${encodeURIComponent(this.jobName)}`).catch(
        () => null
      );
      this._finish(
        job ? `Job ${job.status}. ${this._lineCount} lines.` : 'Job ended.',
        job?.status ?? 'Stopped'
      );
      return;
    }
    const full = events.length >= PAGE_SIZE;
    // More lines waiting: ask again at once; lines came: soon; nothing: back off to 2 s.
    this._idle = events.length ? 0 : this._idle + 1;
    const interval = full ? 0 : this._idle === 0 ? 250 : Math.min(2000, 250 * 2 ** this._idle);
    if (!this._poll.isDisposed) {
      this._poll.frequency = { ...this._poll.frequency, interval };
    }
    this._statusChanged.emit({ text: `Following… ${this._lineCount} lines`, status: 'InProgress' });
  }

  dispose(): void {
    if (!this._poll.isDisposed) {
      this._poll.dispose();
    }
    Signal.clearData(this);
  }

  private _finish(text: string, status: string): void {
    this._done = true;
    this._statusChanged.emit({ text, status });
    this._poll.dispose();
  }

  private _poll: Poll;
  private _cursor: string | null = null;
  private _done = false;
  private _idle = 0;
  private _lineCount = 0;
  private _appended = new Signal<this, ILogEvent[]>(this);
  private _statusChanged = new Signal<this, ILogStatus>(this);
}
