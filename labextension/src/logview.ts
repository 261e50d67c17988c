/**
 * A job's logs in the main area, followed live (the reading is `LogModel`'s). The view
 * keeps itself at the bottom unless the user scrolled up, and keeps at most MAX_LINES
 * lines in the page.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { formatClock, statusColour } from './format';
import { LogModel } from './logmodel';
import { ILogEvent } from './tokens';

/** Lines kept in the page; older ones are dropped (the full log stays on disk / in CloudWatch). */
const MAX_LINES = 10000;

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
    this.model = new LogModel(jobName);
    this.model.appended.connect((_, events) => this._append(events));
    this.model.statusChanged.connect((_, status) => {
      this._status.textContent = status.text;
      this._status.style.color = statusColour(status.status);
      if (this.model.done) {
        this.node.dataset.done = 'true';
      }
    });
  }

  readonly model: LogModel;

  /** True once every line was read and the job ended. */
  get done(): boolean {
    return this.model.done;
  }

  /** Number of lines shown (the tests read it through the DOM instead). */
  get lineCount(): number {
    return this.model.lineCount;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.dispose();
    super.dispose();
  }

  private _append(events: ILogEvent[]): void {
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
    const extra = this._pre.childElementCount - MAX_LINES;
    for (let i = 0; i < extra; i++) {
      this._pre.firstElementChild?.remove();
    }
    if (stick) {
      this._scroller.scrollTop = this._scroller.scrollHeight;
    }
  }

  private _atBottom(): boolean {
    const s = this._scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 8;
  }

  private _stick = true;
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
