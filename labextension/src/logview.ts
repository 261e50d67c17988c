/**
 * A job's logs in the main area, followed live through `/jobs/<name>/logs?cursor=`.
 *
 * It polls fast while lines arrive and backs off when none do, stops once the server says
 * `done`, keeps the view at the bottom unless the user scrolled up, and keeps at most
 * MAX_LINES lines in the page.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { LabIcon } from '@jupyterlab/ui-components';
import { Poll } from '@lumino/polling';
import { Widget } from '@lumino/widgets';

import { ApiError, requestAPI } from './handler';
import { formatClock, statusColour } from './format';
import { IJob, ILogPage } from './tokens';

/** Lines kept in the page; older ones are dropped (the full log stays on disk / in CloudWatch). */
const MAX_LINES = 10000;

/** Lines per request. */
const PAGE_SIZE = 1000;

export class LogContent extends Widget {
  constructor(readonly jobName: string) {
    super();
    this.addClass('sm-LogView');
    this._status = document.createElement('div');
    this._status.className = 'sm-LogView-status';
    this._status.textContent = 'Following…';
    this._scroller = document.createElement('div');
    this._scroller.className = 'sm-LogView-scroller';
    this._pre = document.createElement('pre');
    this._pre.className = 'sm-LogView-lines';
    this._scroller.append(this._pre);
    this.node.append(this._status, this._scroller);
    this._scroller.addEventListener('scroll', () => {
      this._stick = this._atBottom();
    });

    this._poll = new Poll({
      auto: true,
      factory: () => this._fetch(),
      frequency: { interval: 250, backoff: true, max: 10_000 },
      name: `sm-magics:logs:${jobName}`,
      standby: 'when-hidden'
    });
  }

  /** True once every line was read and the job ended. */
  get done(): boolean {
    return this._done;
  }

  /** Number of lines shown (the tests read it through the DOM instead). */
  get lineCount(): number {
    return this._lineCount;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    super.dispose();
  }

  private async _fetch(): Promise<void> {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (this._cursor !== null) {
      query.set('cursor', String(this._cursor));
    }
    let page: ILogPage;
    try {
      page = await requestAPI<ILogPage>(
        `jobs/${encodeURIComponent(this.jobName)}/logs?${query.toString()}`
      );
    } catch (error) {
      const message = error instanceof ApiError ? error.message : `${error}`;
      if (error instanceof ApiError && error.status === 404 && error.code === 'NotFound') {
        this._finish(`Not found: ${message}`);
        return;
      }
      this._setStatus(`Retrying: ${message}`, 'Failed');
      throw error; // the Poll backs off
    }
    this._cursor = page.cursor;
    this._append(page.events ?? []);
    if (page.done) {
      const job = await requestAPI<IJob>(`jobs/${encodeURIComponent(this.jobName)}`).catch(
        () => null
      );
      this._finish(job ? `Job ${job.status}. ${this._lineCount} lines.` : 'Job ended.', job?.status);
      return;
    }
    const full = (page.events ?? []).length >= PAGE_SIZE;
    // More lines waiting: ask again at once; lines came: soon; nothing: back off to 2 s.
    this._idle = page.events && page.events.length ? 0 : this._idle + 1;
    const interval = full ? 0 : this._idle === 0 ? 250 : Math.min(2000, 250 * 2 ** this._idle);
    this._poll.frequency = { ...this._poll.frequency, interval };
    this._setStatus(`Following… ${this._lineCount} lines`, 'InProgress');
  }

  private _append(events: ILogPage['events']): void {
    if (!events.length) {
      return;
    }
    for (const event of events) {
      this._hosts.add(event.host);
    }
    const multi = this._hosts.size > 1;
    const stick = this._stick;
    const fragment = document.createDocumentFragment();
    for (const event of events) {
      const line = document.createElement('div');
      line.className = 'sm-LogView-line';
      const time = document.createElement('span');
      time.className = 'sm-LogView-time';
      time.textContent = formatClock(event.timestamp) + ' ';
      line.append(time);
      if (multi) {
        const host = document.createElement('span');
        host.className = 'sm-LogView-host';
        host.textContent = `[${event.host}] `;
        line.append(host);
      }
      line.append(document.createTextNode(event.message));
      fragment.append(line);
    }
    this._pre.append(fragment);
    this._lineCount += events.length;
    const extra = this._pre.childElementCount - MAX_LINES;
    for (let i = 0; i < extra; i++) {
      this._pre.firstElementChild?.remove();
    }
    if (stick) {
      this._scroller.scrollTop = this._scroller.scrollHeight;
    }
  }

  private _finish(text: string, status?: string): void {
    this._done = true;
    this._setStatus(text, status ?? 'Stopped');
    this.node.dataset.done = 'true';
    this._poll.dispose();
  }

  private _setStatus(text: string, status: string): void {
    this._status.textContent = text;
    this._status.style.color = statusColour(status);
  }

  private _atBottom(): boolean {
    const s = this._scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 8;
  }

  private _poll: Poll;
  private _cursor: string | number | null = null;
  private _done = false;
  private _idle = 0;
  private _stick = true;
  private _lineCount = 0;
  private _hosts = new Set<string>();
  private _status: HTMLElement;
  private _scroller: HTMLElement;
  private _pre: HTMLElement;
}

/** The log view in a main-area widget with the job's name as its title. */
export function createLogView(jobName: string, icon: LabIcon): MainAreaWidget<LogContent> {
  const content = new LogContent(jobName);
  const widget = new MainAreaWidget({ content });
  widget.id = `sm-magics-logs-${jobName}`;
  widget.addClass('sm-LogPanel');
  widget.title.label = `Logs: ${jobName}`;
  widget.title.caption = `Logs of training job ${jobName}`;
  widget.title.icon = icon;
  widget.title.closable = true;
  return widget;
}
