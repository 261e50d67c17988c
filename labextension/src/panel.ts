/**
 * The side panel: billing now, training jobs and endpoints, their actions.
 *
 * Rendering is keyed by name and updates text in place, so a refresh every two seconds
 * never replaces a button under the mouse.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import {
  copyIcon,
  deleteIcon,
  LabIcon,
  listIcon,
  refreshIcon,
  stopIcon
} from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import {
  formatDuration,
  formatInstance,
  formatUsd,
  statusColour
} from './format';
import { SmMagicsModel } from './model';
import { IEndpoint, IJob, PANEL_ID, TERMINAL_JOB_STATUSES } from './tokens';

export namespace SmMagicsPanel {
  export interface IOptions {
    model: SmMagicsModel;
    icon: LabIcon;
    /** Open a job's log view in the main area. */
    openLogs: (name: string) => void;
    /** Stop a job (the panel has already disabled its button). */
    stopJob: (job: IJob) => Promise<void>;
    /** Ask, then delete an endpoint. */
    deleteEndpoint: (endpoint: IEndpoint) => Promise<void>;
    /** Put an endpoint's invoke snippet on the clipboard. */
    copySnippet: (endpoint: IEndpoint) => void;
  }
}

export class SmMagicsPanel extends Widget {
  constructor(options: SmMagicsPanel.IOptions) {
    super();
    this.id = PANEL_ID;
    this.addClass('sm-Panel');
    this.title.icon = options.icon;
    this.title.caption = 'SageMaker jobs and endpoints (sm-magics)';
    this._options = options;
    this.model = options.model;

    const header = el('div', 'sm-Panel-header');
    const title = el('div', 'sm-Panel-title', 'SageMaker');
    const refresh = el('button', 'sm-Panel-refresh jp-Button jp-mod-minimal') as HTMLButtonElement;
    refresh.title = 'Refresh';
    refresh.setAttribute('aria-label', 'Refresh');
    refreshIcon.element({ container: refresh, tag: 'span', elementPosition: 'center' });
    refresh.addEventListener('click', () => void this.model.refresh());
    header.append(title, refresh);

    this._billing = el('div', 'sm-Panel-billing');
    this._error = el('div', 'sm-Panel-error');
    this._error.hidden = true;

    const content = el('div', 'sm-Panel-content');
    this._jobs = new Section('jobs', 'Training jobs', 'No jobs yet: run a %%sm_train cell.');
    this._endpoints = new Section('endpoints', 'Endpoints', 'No live endpoints.');
    content.append(this._jobs.node, this._endpoints.node);
    this.node.append(header, this._billing, this._error, content);

    this.model.changed.connect(this._render, this);
    this._render();
  }

  readonly model: SmMagicsModel;

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.changed.disconnect(this._render, this);
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.visibilityChanged();
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.visibilityChanged();
  }

  private _render(): void {
    const { model } = this;
    const cost = model.cost;
    if (cost) {
      const totals: string[] = [];
      if (cost.totals?.today !== null && cost.totals?.today !== undefined) {
        totals.push(`today ${formatUsd(cost.totals.today)}`);
      }
      if (cost.totals?.month !== null && cost.totals?.month !== undefined) {
        totals.push(`month ${formatUsd(cost.totals.month)}`);
      }
      this._billing.replaceChildren(
        el('span', 'sm-Panel-billingLabel', 'Billing now'),
        el('span', 'sm-Panel-billingRate', `${formatUsd(cost.billing_per_hour)}/h`),
        el('span', 'sm-Panel-billingTotals', totals.join(' · '))
      );
      this._billing.dataset.billing = cost.billing_per_hour > 0 ? 'true' : 'false';
    } else {
      this._billing.textContent = model.loaded ? '' : 'Loading…';
    }
    this._error.hidden = model.error === null;
    this._error.textContent = model.error ?? '';

    this._jobs.update(
      model.jobs,
      job => job.name,
      () => new JobItem(this._options),
      (item, job) => (item as JobItem).update(job)
    );
    this._endpoints.update(
      model.endpoints,
      endpoint => endpoint.name,
      () => new EndpointItem(this._options),
      (item, endpoint) => (item as EndpointItem).update(endpoint)
    );
  }

  private _options: SmMagicsPanel.IOptions;
  private _billing: HTMLElement;
  private _error: HTMLElement;
  private _jobs: Section;
  private _endpoints: Section;
}

/** Create an element with a class and optional text. */
function el(tag: string, className: string, text?: string): HTMLElement {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function setText(node: HTMLElement, text: string): void {
  if (node.textContent !== text) {
    node.textContent = text;
  }
}

/** A small icon button; its label is its tooltip and its accessible name. */
function button(icon: LabIcon, className: string, label: string): HTMLButtonElement {
  const node = el('button', `sm-Item-action ${className}`) as HTMLButtonElement;
  node.type = 'button';
  node.title = label;
  node.setAttribute('aria-label', label);
  icon.element({ container: node, tag: 'span', elementPosition: 'center', height: '16px', width: '16px' });
  return node;
}

interface IItem {
  node: HTMLElement;
}

/** A titled list whose items are keyed by name and updated in place. */
class Section {
  constructor(kind: string, title: string, emptyText: string) {
    this.node = el('section', `sm-Panel-section sm-Panel-${kind}`);
    const heading = el('h3', 'sm-Panel-sectionTitle', title);
    this._count = el('span', 'sm-Panel-count', '0');
    heading.append(this._count);
    this._list = el('ul', 'sm-Panel-list');
    this._empty = el('div', 'sm-Panel-empty', emptyText);
    this.node.append(heading, this._list, this._empty);
  }

  readonly node: HTMLElement;

  update<T>(
    rows: ReadonlyArray<T>,
    key: (row: T) => string,
    create: () => IItem,
    render: (item: IItem, row: T) => void
  ): void {
    const seen = new Set<string>();
    const ordered: HTMLElement[] = [];
    for (const row of rows) {
      const name = key(row);
      seen.add(name);
      let item = this._items.get(name);
      if (!item) {
        item = create();
        this._items.set(name, item);
      }
      render(item, row);
      ordered.push(item.node);
    }
    for (const [name, item] of this._items) {
      if (!seen.has(name)) {
        item.node.remove();
        this._items.delete(name);
      }
    }
    // Move nodes only when the order changed (a moved node loses a click in progress).
    const current = Array.from(this._list.children);
    if (current.length !== ordered.length || ordered.some((n, i) => current[i] !== n)) {
      this._list.replaceChildren(...ordered);
    }
    setText(this._count, String(rows.length));
    this._empty.hidden = rows.length > 0;
  }

  private _count: HTMLElement;
  private _list: HTMLElement;
  private _empty: HTMLElement;
  private _items = new Map<string, IItem>();
}

/** The parts every item has: name and status, a details line, a cost line, actions. */
abstract class Item implements IItem {
  constructor(className: string) {
    this.node = el('li', `sm-Item ${className}`);
    const top = el('div', 'sm-Item-row');
    this.name = el('span', 'sm-Item-name');
    this.status = el('span', 'sm-Item-status');
    top.append(this.name, this.status);
    const middle = el('div', 'sm-Item-row sm-Item-meta');
    this.details = el('span', 'sm-Item-details');
    this.timing = el('span', 'sm-Item-timing');
    middle.append(this.details, this.timing);
    const bottom = el('div', 'sm-Item-row');
    this.cost = el('span', 'sm-Item-cost');
    this.actions = el('span', 'sm-Item-actions');
    bottom.append(this.cost, this.actions);
    this.node.append(top, middle, bottom);
  }

  readonly node: HTMLElement;

  protected setHeader(name: string, status: string, tooltip: string): void {
    this.node.dataset.name = name;
    this.node.dataset.status = status;
    setText(this.name, name);
    this.name.title = tooltip;
    setText(this.status, status);
    this.status.style.color = statusColour(status);
  }

  protected name: HTMLElement;
  protected status: HTMLElement;
  protected details: HTMLElement;
  protected timing: HTMLElement;
  protected cost: HTMLElement;
  protected actions: HTMLElement;
}

class JobItem extends Item {
  constructor(options: SmMagicsPanel.IOptions) {
    super('sm-JobItem');
    this._logs = button(listIcon, 'sm-Item-logs', 'Show the logs (live)');
    this._stop = button(stopIcon, 'sm-Item-stop', 'Stop this training job');
    this._logs.addEventListener('click', () => options.openLogs(this._job!.name));
    this._stop.addEventListener('click', async () => {
      const job = this._job!;
      this._stop.disabled = true;
      this._stopping = true;
      try {
        await options.stopJob(job);
      } catch {
        this._stopping = false;
        this._stop.disabled = false;
      }
    });
    this.actions.append(this._logs, this._stop);
  }

  update(job: IJob): void {
    this._job = job;
    const tooltip = [
      job.name,
      job.notebook ? `notebook: ${job.notebook}` : '',
      job.region ? `region: ${job.region}` : '',
      job.failure_reason ? `failure: ${job.failure_reason}` : ''
    ]
      .filter(Boolean)
      .join('\n');
    this.setHeader(job.name, job.status, tooltip);
    const details = [job.backend];
    if (job.kind && job.kind !== 'training') {
      details.push(job.kind);
    }
    details.push(formatInstance(job.instance_type, job.instance_count) + (job.spot ? ' spot' : ''));
    setText(this.details, details.join(' · '));
    this.details.title = details.join(' · ');
    const timing = [formatDuration(job.duration)];
    if (job.secondary_status && job.secondary_status !== job.status) {
      timing.unshift(job.secondary_status);
    }
    setText(this.timing, timing.join(' · '));
    const finished = TERMINAL_JOB_STATUSES.includes(job.status);
    const rate = job.cost_per_hour === null ? '' : ` · ${formatUsd(job.cost_per_hour)}/h`;
    setText(this.cost, `${formatUsd(job.cost)}${finished ? '' : ' so far'}${rate}`);
    this.cost.title =
      job.backend === 'local' ? 'What this job would cost on SageMaker' : 'On-demand price';
    if (job.status === 'Stopping') {
      this._stopping = true;
    }
    this._stop.hidden = finished || job.kind !== 'training';
    this._stop.disabled = this._stopping && !finished;
  }

  private _job: IJob | null = null;
  private _stopping = false;
  private _logs: HTMLButtonElement;
  private _stop: HTMLButtonElement;
}

class EndpointItem extends Item {
  constructor(options: SmMagicsPanel.IOptions) {
    super('sm-EndpointItem');
    this._copy = button(copyIcon, 'sm-Item-copy', 'Copy an invoke snippet (%sm_invoke)');
    this._delete = button(deleteIcon, 'sm-Item-delete', 'Delete this endpoint…');
    this._copy.addEventListener('click', () => options.copySnippet(this._endpoint!));
    this._delete.addEventListener('click', async () => {
      this._delete.disabled = true;
      try {
        await options.deleteEndpoint(this._endpoint!);
      } finally {
        this._delete.disabled = false;
      }
    });
    this.actions.append(this._copy, this._delete);
  }

  update(endpoint: IEndpoint): void {
    this._endpoint = endpoint;
    const tooltip = [
      endpoint.name,
      endpoint.url ? `url: ${endpoint.url}` : '',
      endpoint.notebook ? `notebook: ${endpoint.notebook}` : '',
      endpoint.failure_reason ? `failure: ${endpoint.failure_reason}` : ''
    ]
      .filter(Boolean)
      .join('\n');
    this.setHeader(endpoint.name, endpoint.status, tooltip);
    const details = [endpoint.backend, describeVariants(endpoint)];
    setText(this.details, details.join(' · '));
    this.details.title = details.join(' · ');
    const timing = [`up ${formatDuration(endpoint.age)}`];
    if (endpoint.last_invoked_at && endpoint.age !== null && endpoint.created_at) {
      const now = endpoint.created_at + endpoint.age;
      timing.push(`idle ${formatDuration(now - endpoint.last_invoked_at)}`);
    }
    setText(this.timing, timing.join(' · '));
    const rate = endpoint.cost_per_hour === null ? '' : ` · ${formatUsd(endpoint.cost_per_hour)}/h`;
    setText(this.cost, `${formatUsd(endpoint.cost)}${rate}`);
    this._copy.hidden = !endpoint.snippet;
    this._delete.hidden = endpoint.status === 'Deleting' || endpoint.status === 'Deleted';
  }

  private _endpoint: IEndpoint | null = null;
  private _copy: HTMLButtonElement;
  private _delete: HTMLButtonElement;
}

function describeVariants(endpoint: IEndpoint): string {
  const variants = endpoint.variants ?? [];
  if (variants.length === 0) {
    return '-';
  }
  if (variants.length > 1) {
    return `${variants.length} variants`;
  }
  const [variant] = variants;
  if (variant.serverless_memory_mb) {
    return `serverless ${variant.serverless_memory_mb} MB`;
  }
  return formatInstance(variant.instance_type, variant.instance_count);
}

/** Ask before deleting an endpoint; true when the user confirmed. */
export async function confirmDelete(endpoint: IEndpoint): Promise<boolean> {
  const rate = endpoint.cost_per_hour === null ? '' : ` It costs ${formatUsd(endpoint.cost_per_hour)}/h while it runs.`;
  const result = await showDialog({
    title: `Delete endpoint ${endpoint.name}?`,
    body: `The endpoint stops serving and its ${endpoint.backend} resources are removed.${rate}`,
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
  });
  return result.button.accept;
}
