/**
 * The side panel: billing now, endpoints, then one section per job kind, with a search box.
 *
 * It scales to a thousand jobs: endpoints (the things that bill) come first; inside each
 * section the current notebook's resources come first and the other notebooks' sit in a
 * collapsed group; running ones come before finished ones, which a toggle hides; every
 * group shows a page of rows and a "Show more" button, so the page never holds a thousand
 * rows. Rendering is keyed by name and updates text in place, so a refresh every two
 * seconds never replaces a button under the mouse.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import {
  addBelowIcon,
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
  failureSummary,
  formatDuration,
  formatInstance,
  formatTtl,
  formatUsd,
  middleEllipsis,
  plural,
  statusColour
} from './format';
import { samePath, SmMagicsModel } from './model';
import { IEndpoint, IJob, JOB_KINDS, PANEL_ID, TERMINAL_JOB_STATUSES } from './tokens';

/** Rows a group shows before its "Show more" button, and how many more each click adds. */
export const PAGE_SIZE = 25;

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
    /** Re-attach a live widget to a job or endpoint in the current notebook (%sm_watch). */
    watch: (name: string) => void;
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

    const tools = el('div', 'sm-Panel-tools');
    this._search = el('input', 'sm-Panel-search jp-mod-styled') as HTMLInputElement;
    this._search.type = 'search';
    this._search.placeholder = 'Search…';
    this._search.title = 'Filter by name, status, instance type or notebook';
    this._search.setAttribute('aria-label', 'Search jobs and endpoints');
    this._search.addEventListener('input', () => this._render());
    this._hideFinished = el(
      'button',
      'sm-Panel-hideFinished jp-Button jp-mod-minimal',
      'Hide finished'
    ) as HTMLButtonElement;
    this._hideFinished.type = 'button';
    this._hideFinished.title = 'Show only running jobs (finished ones stay in the ledger)';
    this._hideFinished.setAttribute('aria-pressed', 'false');
    this._hideFinished.addEventListener('click', () => {
      const pressed = this._hideFinished.getAttribute('aria-pressed') !== 'true';
      this._hideFinished.setAttribute('aria-pressed', String(pressed));
      this._render();
    });
    tools.append(this._search, this._hideFinished);

    this._content = el('div', 'sm-Panel-content');
    this._endpoints = new Section('endpoints', 'Endpoints', 'No live endpoints.');
    this._content.append(this._endpoints.node);
    this.node.append(header, this._billing, this._error, tools, this._content);

    this.model.changed.connect(this._render, this);
    this._render();
  }

  readonly model: SmMagicsModel;

  /** The contents path of the notebook in focus (its resources are listed first). */
  get currentNotebook(): string | null {
    return this._notebook;
  }

  set currentNotebook(path: string | null) {
    if (path !== this._notebook) {
      this._notebook = path;
      this._render();
    }
  }

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
    this._render();
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.visibilityChanged();
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    super.onResize(msg);
    this._render();
  }

  private _render(): void {
    const { model } = this;
    this._renderBilling();
    this._error.hidden = model.error === null;
    this._error.textContent = model.error ?? '';

    // About 7 px a character at the panel's font; the status takes the rest of the row.
    const width = this.node.clientWidth || 300;
    const nameChars = Math.max(14, Math.floor((width - 120) / 7));
    const query = this._search.value.trim().toLowerCase();
    const hideFinished = this._hideFinished.getAttribute('aria-pressed') === 'true';
    const here = (notebook: string | null): boolean =>
      this._notebook !== null && notebook !== null && samePath(notebook, this._notebook);
    const context: IRenderContext = {
      nameChars,
      now: model.cost?.generated_at ?? Date.now() / 1000,
      notebookOpen: this._notebook !== null
    };

    const endpoints = model.endpoints.filter(e => matches(query, endpointText(e)));
    this._endpoints.update(
      [
        {
          id: 'all',
          label: '',
          collapsedByDefault: false,
          rows: sortBy(endpoints, e => (here(e.notebook) ? 0 : 1))
        }
      ],
      query !== '',
      endpoint => endpoint.name,
      () => new EndpointItem(this._options),
      (item, endpoint) => (item as EndpointItem).update(endpoint, context),
      model.endpoints.length
    );
    this._endpoints.empty = query ? 'No endpoint matches.' : 'No live endpoints.';

    // One section per kind: the known ones in their order, then any the server adds.
    const byKind = new Map<string, IJob[]>();
    for (const job of model.jobs) {
      const list = byKind.get(job.kind) ?? [];
      list.push(job);
      byKind.set(job.kind, list);
    }
    const kinds = JOB_KINDS.map(k => k.kind);
    for (const kind of byKind.keys()) {
      if (!kinds.includes(kind)) {
        kinds.push(kind);
      }
    }
    for (const kind of kinds) {
      const all = byKind.get(kind) ?? [];
      let section = this._jobSections.get(kind);
      if (!section) {
        if (!all.length && kind !== 'training') {
          continue;
        }
        const title = JOB_KINDS.find(k => k.kind === kind)?.title ?? `${kind} jobs`;
        const empty = kind === 'training' ? 'No jobs yet: run a %%sm_train cell.' : 'None.';
        section = new Section(`jobs sm-Panel-kind-${kind}`, title, empty);
        section.node.dataset.kind = kind;
        this._jobSections.set(kind, section);
      }
      this._content.append(section.node); // keeps the order of `kinds`
      section.node.hidden = !all.length && kind !== 'training';
      const shown = all.filter(
        j =>
          matches(query, jobText(j)) &&
          !(hideFinished && TERMINAL_JOB_STATUSES.includes(j.status))
      );
      // Running first, then newest first (the server's order) within each.
      const ordered = sortBy(shown, j => (TERMINAL_JOB_STATUSES.includes(j.status) ? 1 : 0));
      const groups: IGroup<IJob>[] = [];
      if (this._notebook === null) {
        groups.push({ id: 'all', label: '', collapsedByDefault: false, rows: ordered });
      } else {
        const mine = ordered.filter(j => here(j.notebook));
        const others = ordered.filter(j => !here(j.notebook));
        const running = others.filter(j => !TERMINAL_JOB_STATUSES.includes(j.status)).length;
        groups.push(
          {
            id: 'here',
            label: `This notebook · ${baseName(this._notebook)}`,
            collapsedByDefault: false,
            rows: mine
          },
          {
            id: 'others',
            label: 'Other notebooks',
            note: running ? `${running} running` : '',
            collapsedByDefault: true,
            rows: others
          }
        );
      }
      section.update(
        groups,
        query !== '',
        job => job.name,
        () => new JobItem(this._options),
        (item, job) => (item as JobItem).update(job, context),
        all.length
      );
      section.empty = query || hideFinished ? 'No job matches.' : section.defaultEmpty;
    }
  }

  private _renderBilling(): void {
    const cost = this.model.cost;
    if (!cost) {
      this._billing.textContent = this.model.loaded ? '' : 'Loading…';
      return;
    }
    const totals: string[] = [];
    if (cost.totals?.today !== null && cost.totals?.today !== undefined) {
      totals.push(`today ${formatUsd(cost.totals.today)}`);
    }
    if (cost.totals?.month !== null && cost.totals?.month !== undefined) {
      totals.push(`this month ${formatUsd(cost.totals.month)}`);
    }
    const running = cost.running?.length ?? 0;
    const rate = el('div', 'sm-Panel-billingNow');
    rate.append(
      el('span', 'sm-Panel-billingLabel', 'Billing now'),
      el('span', 'sm-Panel-billingRate', `${formatUsd(cost.billing_per_hour)}/h`),
      el('span', 'sm-Panel-billingCount', running ? `(${plural(running, 'resource')})` : '')
    );
    const line = el('div', 'sm-Panel-billingTotals', totals.join(' · '));
    line.title = 'Spent on this machine (UTC days and months; local runs priced as on SageMaker)';
    this._billing.replaceChildren(rate, line);
    this._billing.dataset.billing = cost.billing_per_hour > 0 ? 'true' : 'false';
  }

  private _options: SmMagicsPanel.IOptions;
  private _notebook: string | null = null;
  private _billing: HTMLElement;
  private _error: HTMLElement;
  private _search: HTMLInputElement;
  private _hideFinished: HTMLButtonElement;
  private _content: HTMLElement;
  private _endpoints: Section;
  private _jobSections = new Map<string, Section>();
}

interface IRenderContext {
  /** Characters a name may take before its middle is cut. */
  nameChars: number;
  /** The server's "now", epoch seconds. */
  now: number;
  /** Whether a notebook is in focus (the "watch" action needs one). */
  notebookOpen: boolean;
}

interface IGroup<T> {
  id: string;
  /** Empty for a section's only group (no heading). */
  label: string;
  note?: string;
  collapsedByDefault: boolean;
  rows: T[];
}

function matches(query: string, text: string): boolean {
  return !query || text.toLowerCase().includes(query);
}

function jobText(job: IJob): string {
  return [job.name, job.status, job.secondary_status, job.backend, job.instance_type, job.notebook]
    .filter(Boolean)
    .join(' ');
}

function endpointText(endpoint: IEndpoint): string {
  const types = (endpoint.variants ?? []).map(v => v.instance_type ?? '');
  return [endpoint.name, endpoint.status, endpoint.backend, endpoint.notebook, ...types]
    .filter(Boolean)
    .join(' ');
}

/** A stable sort by a small integer key (Array.prototype.sort is stable). */
function sortBy<T>(rows: ReadonlyArray<T>, key: (row: T) => number): T[] {
  return [...rows].sort((a, b) => key(a) - key(b));
}

function baseName(path: string): string {
  return path.split('/').pop() ?? path;
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

/**
 * A titled section of groups; each group is a collapsible, paged list of items keyed by
 * name. Items are kept across refreshes (and moves between groups).
 */
class Section {
  constructor(kind: string, title: string, emptyText: string) {
    this.node = el('section', `sm-Panel-section sm-Panel-${kind}`);
    const heading = el('h3', 'sm-Panel-sectionTitle', title);
    this._count = el('span', 'sm-Panel-count', '0');
    heading.append(this._count);
    this._groupsNode = el('div', 'sm-Panel-groups');
    this._empty = el('div', 'sm-Panel-empty', emptyText);
    this.defaultEmpty = emptyText;
    this.node.append(heading, this._groupsNode, this._empty);
  }

  readonly node: HTMLElement;
  readonly defaultEmpty: string;

  set empty(text: string) {
    setText(this._empty, text);
  }

  update<T>(
    groups: IGroup<T>[],
    searching: boolean,
    key: (row: T) => string,
    create: () => IItem,
    render: (item: IItem, row: T) => void,
    total: number
  ): void {
    const seen = new Set<string>();
    const groupNodes: HTMLElement[] = [];
    let shownRows = 0;
    for (const group of groups) {
      let view = this._groups.get(group.id);
      if (!view) {
        view = new Group(group.id, () => this._rerender?.());
        this._groups.set(group.id, view);
      }
      const collapsed = searching ? false : (this._collapsed.get(group.id) ?? group.collapsedByDefault);
      view.setHeading(group.label, group.rows.length, group.note ?? '', collapsed, next =>
        this._collapsed.set(group.id, next)
      );
      const visible = collapsed ? [] : group.rows.slice(0, view.limit);
      const nodes: HTMLElement[] = [];
      for (const row of visible) {
        const name = key(row);
        seen.add(name);
        let item = this._items.get(name);
        if (!item) {
          item = create();
          this._items.set(name, item);
        }
        render(item, row);
        nodes.push(item.node);
      }
      view.setItems(nodes, collapsed ? 0 : group.rows.length - visible.length);
      view.node.hidden = group.label !== '' && group.rows.length === 0;
      shownRows += group.rows.length;
      groupNodes.push(view.node);
    }
    for (const [name, item] of this._items) {
      if (!seen.has(name)) {
        item.node.remove();
        this._items.delete(name);
      }
    }
    const current = Array.from(this._groupsNode.children);
    if (current.length !== groupNodes.length || groupNodes.some((n, i) => current[i] !== n)) {
      this._groupsNode.replaceChildren(...groupNodes);
    }
    this._rerender = () => this.update(groups, searching, key, create, render, total);
    setText(this._count, shownRows === total ? String(total) : `${shownRows}/${total}`);
    this._empty.hidden = shownRows > 0;
  }

  private _count: HTMLElement;
  private _groupsNode: HTMLElement;
  private _empty: HTMLElement;
  private _groups = new Map<string, Group>();
  private _collapsed = new Map<string, boolean>();
  private _items = new Map<string, IItem>();
  private _rerender: (() => void) | null = null;
}

/** One group of a section: a heading that collapses it, a page of items, "Show more". */
class Group {
  constructor(id: string, rerender: () => void) {
    this.node = el('div', 'sm-Panel-group');
    this.node.dataset.group = id;
    this._heading = el('button', 'sm-Panel-groupHeading') as HTMLButtonElement;
    this._heading.type = 'button';
    this._heading.addEventListener('click', () => {
      const next = this.node.dataset.collapsed !== 'true';
      this._onToggle?.(next);
      rerender();
    });
    this._list = el('ul', 'sm-Panel-list');
    this._more = el('button', 'sm-Panel-more jp-Button jp-mod-minimal') as HTMLButtonElement;
    this._more.type = 'button';
    this._more.addEventListener('click', () => {
      this.limit += PAGE_SIZE;
      rerender();
    });
    this.node.append(this._heading, this._list, this._more);
  }

  readonly node: HTMLElement;
  limit = PAGE_SIZE;

  setHeading(
    label: string,
    count: number,
    note: string,
    collapsed: boolean,
    onToggle: (collapsed: boolean) => void
  ): void {
    this._onToggle = onToggle;
    this._heading.hidden = label === '';
    this.node.dataset.collapsed = String(collapsed);
    this._heading.setAttribute('aria-expanded', String(!collapsed));
    const text = `${collapsed ? '▸' : '▾'} ${label} (${count})${note ? ` · ${note}` : ''}`;
    setText(this._heading, text);
  }

  setItems(nodes: HTMLElement[], hidden: number): void {
    const current = Array.from(this._list.children);
    // Move nodes only when the order changed (a moved node loses a click in progress).
    if (current.length !== nodes.length || nodes.some((n, i) => current[i] !== n)) {
      this._list.replaceChildren(...nodes);
    }
    this._more.hidden = hidden <= 0;
    setText(this._more, `Show ${Math.min(PAGE_SIZE, hidden)} more (of ${hidden})`);
  }

  private _heading: HTMLButtonElement;
  private _list: HTMLElement;
  private _more: HTMLButtonElement;
  private _onToggle: ((collapsed: boolean) => void) | null = null;
}

/** The parts every item has: name and status, details, timing, a reason, cost, actions. */
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
    this.reason = el('div', 'sm-Item-reason');
    this.reason.hidden = true;
    const bottom = el('div', 'sm-Item-row');
    this.cost = el('span', 'sm-Item-cost');
    this.actions = el('span', 'sm-Item-actions');
    bottom.append(this.cost, this.actions);
    this.node.append(top, middle, this.reason, bottom);
  }

  readonly node: HTMLElement;

  protected setHeader(name: string, status: string, tooltip: string, chars: number): void {
    this.node.dataset.name = name;
    this.node.dataset.status = status;
    setText(this.name, middleEllipsis(name, chars));
    this.name.title = tooltip;
    setText(this.status, status);
    this.status.style.color = statusColour(status);
  }

  protected setReason(reason: string | null): void {
    const summary = failureSummary(reason);
    this.reason.hidden = !summary;
    setText(this.reason, summary);
    this.reason.title = reason ?? '';
  }

  protected name: HTMLElement;
  protected status: HTMLElement;
  protected details: HTMLElement;
  protected timing: HTMLElement;
  protected reason: HTMLElement;
  protected cost: HTMLElement;
  protected actions: HTMLElement;
}

class JobItem extends Item {
  constructor(options: SmMagicsPanel.IOptions) {
    super('sm-JobItem');
    this._logs = button(listIcon, 'sm-Item-logs', 'Show the logs (live)');
    this._watch = button(addBelowIcon, 'sm-Item-watch', 'Watch in the current notebook (%sm_watch)');
    this._stop = button(stopIcon, 'sm-Item-stop', 'Stop this job');
    this._logs.addEventListener('click', () => options.openLogs(this._job!.name));
    this._watch.addEventListener('click', () => options.watch(this._job!.name));
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
    this.actions.append(this._logs, this._watch, this._stop);
  }

  update(job: IJob, context: IRenderContext): void {
    this._job = job;
    const tooltip = [
      job.name,
      job.notebook ? `notebook: ${job.notebook}` : '',
      job.region ? `region: ${job.region}` : ''
    ]
      .filter(Boolean)
      .join('\n');
    this.node.dataset.kind = job.kind;
    this.setHeader(job.name, job.status, tooltip, context.nameChars);
    const details = [
      job.backend,
      formatInstance(job.instance_type, job.instance_count) + (job.spot ? ' spot' : '')
    ];
    setText(this.details, details.join(' · '));
    this.details.title = details.join(' · ');
    const timing: string[] = [];
    if (job.secondary_status && job.secondary_status !== job.status) {
      timing.push(job.secondary_status);
    }
    if (job.duration !== null) {
      timing.push(formatDuration(job.duration));
    }
    setText(this.timing, timing.join(' · '));
    this.setReason(job.status === 'Failed' ? job.failure_reason : null);
    const finished = TERMINAL_JOB_STATUSES.includes(job.status);
    const rate = job.cost_per_hour === null ? '' : ` · ${formatUsd(job.cost_per_hour)}/h`;
    setText(this.cost, `${formatUsd(job.cost)}${finished ? '' : ' so far'}${rate}`);
    this.cost.title =
      job.backend === 'local' ? 'What this job would cost on SageMaker' : 'On-demand price';
    if (job.status === 'Stopping') {
      this._stopping = true;
    }
    if (finished) {
      this._stopping = false;
    }
    this._stop.hidden = finished;
    this._stop.disabled = this._stopping;
    this._watch.hidden = !context.notebookOpen;
  }

  private _job: IJob | null = null;
  private _stopping = false;
  private _logs: HTMLButtonElement;
  private _watch: HTMLButtonElement;
  private _stop: HTMLButtonElement;
}

class EndpointItem extends Item {
  constructor(options: SmMagicsPanel.IOptions) {
    super('sm-EndpointItem');
    this._copy = button(copyIcon, 'sm-Item-copy', 'Copy an invoke snippet (%sm_invoke)');
    this._watch = button(addBelowIcon, 'sm-Item-watch', 'Watch in the current notebook (%sm_watch)');
    this._delete = button(deleteIcon, 'sm-Item-delete', 'Delete this endpoint…');
    this._copy.addEventListener('click', () => options.copySnippet(this._endpoint!));
    this._watch.addEventListener('click', () => options.watch(this._endpoint!.name));
    this._delete.addEventListener('click', async () => {
      this._delete.disabled = true;
      try {
        await options.deleteEndpoint(this._endpoint!);
      } finally {
        this._delete.disabled = false;
      }
    });
    this.actions.append(this._copy, this._watch, this._delete);
  }

  update(endpoint: IEndpoint, context: IRenderContext): void {
    this._endpoint = endpoint;
    const tooltip = [
      endpoint.name,
      endpoint.url ? `url: ${endpoint.url}` : '',
      endpoint.notebook ? `notebook: ${endpoint.notebook}` : ''
    ]
      .filter(Boolean)
      .join('\n');
    this.setHeader(endpoint.name, endpoint.status, tooltip, context.nameChars);
    const details = [endpoint.backend, describeVariants(endpoint)];
    setText(this.details, details.join(' · '));
    this.details.title = details.join(' · ');
    const failed = endpoint.status === 'Failed';
    const now = endpoint.created_at + endpoint.age;
    const timing: string[] = [];
    if (failed) {
      timing.push(`created ${formatDuration(endpoint.age)} ago`);
    } else {
      timing.push(`up ${formatDuration(endpoint.age)}`);
      if (endpoint.last_invoked_at) {
        timing.push(`idle ${formatDuration(now - endpoint.last_invoked_at)}`);
      }
      const ttl = formatTtl(endpoint.ttl_at, now);
      if (ttl) {
        timing.push(ttl);
      }
    }
    setText(this.timing, timing.join(' · '));
    this.timing.title = endpoint.ttl_at
      ? `Deleted automatically at ${new Date(endpoint.ttl_at * 1000).toLocaleString()} (--ttl)`
      : '';
    this.setReason(failed ? endpoint.failure_reason ?? 'Failed (no reason given)' : null);
    if (failed) {
      setText(this.cost, endpoint.billing ? formatUsd(endpoint.cost) : 'not billing');
    } else {
      const rate =
        endpoint.cost_per_hour === null ? '' : ` · ${formatUsd(endpoint.cost_per_hour)}/h`;
      setText(this.cost, `${formatUsd(endpoint.cost)}${rate}`);
    }
    this._copy.hidden = failed || !endpoint.snippet || endpoint.status !== 'InService';
    this._watch.hidden = !context.notebookOpen;
    this._delete.hidden = endpoint.status === 'Deleting' || endpoint.status === 'Deleted';
  }

  private _endpoint: IEndpoint | null = null;
  private _copy: HTMLButtonElement;
  private _watch: HTMLButtonElement;
  private _delete: HTMLButtonElement;
}

function describeVariants(endpoint: IEndpoint): string {
  const variants = endpoint.variants ?? [];
  if (variants.length === 0) {
    return '-';
  }
  if (variants.length > 1) {
    return plural(variants.length, 'variant');
  }
  const [variant] = variants;
  if (variant.serverless_memory_mb) {
    return `serverless ${variant.serverless_memory_mb} MB`;
  }
  return formatInstance(variant.instance_type, variant.instance_count);
}

/** Ask before deleting an endpoint; true when the user confirmed. */
export async function confirmDelete(endpoint: IEndpoint): Promise<boolean> {
  const rate =
    endpoint.cost_per_hour === null || !endpoint.billing
      ? ''
      : ` It costs ${formatUsd(endpoint.cost_per_hour)}/h while it runs.`;
  const result = await showDialog({
    title: `Delete endpoint ${endpoint.name}?`,
    body: `The endpoint stops serving and its ${endpoint.backend} resources are removed.${rate}`,
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
  });
  return result.button.accept;
}
