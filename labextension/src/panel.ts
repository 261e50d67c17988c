/**
 * The side panel: billing now, endpoints, the model registry, then one section per job
 * kind, with a search box.
 *
 * It scales to a thousand jobs: endpoints (the things that bill) come first; inside each
 * section the current notebook's resources come first and the other notebooks' sit in a
 * collapsed group; running ones come before finished ones, which a toggle hides; every
 * group shows a page of rows and a "Show more" button, so the page never holds a thousand
 * rows. Rendering is keyed by name and updates text in place, so a refresh every two
 * seconds never replaces a button under the mouse.
 */
import { LabIcon, refreshIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { el, fontOf, TextFitter } from './dom';
import { formatUsd, plural } from './format';
import { EndpointItem, IRowActions, JobItem } from './items';
import { samePath, SmMagicsModel } from './model';
import { modelGroups, ModelItem, modelText } from './registry';
import { IGroup, IRenderContext, Section } from './sections';
import {
  ApprovalAction,
  IEndpoint,
  IJob,
  IModelPackage,
  JOB_KINDS,
  PANEL_ID,
  TERMINAL_JOB_STATUSES
} from './tokens';

export { PAGE_SIZE } from './sections';

export namespace SmMagicsPanel {
  export interface IOptions extends IRowActions {
    model: SmMagicsModel;
    icon: LabIcon;
    /** Ask, then approve or reject a model version. */
    setApproval: (version: IModelPackage, action: ApprovalAction) => Promise<void>;
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
    this._models = new Section(
      'models',
      'Models',
      'No registered models: %sm_register JOB --group NAME.'
    );
    this._content.append(this._endpoints.node, this._models.node);
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

    const query = this._search.value.trim().toLowerCase();
    const hideFinished = this._hideFinished.getAttribute('aria-pressed') === 'true';
    const here = (notebook: string | null): boolean =>
      this._notebook !== null && notebook !== null && samePath(notebook, this._notebook);
    const context: IRenderContext = {
      ...this._fitters(),
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
      () => new EndpointItem(this._options, name => this.model.lineage(name)),
      (item, endpoint) => (item as EndpointItem).update(endpoint, context),
      model.endpoints.length
    );
    this._endpoints.empty = query ? 'No endpoint matches.' : 'No live endpoints.';

    // The registry: one collapsed group per model group (a search opens them).
    const versions = model.models.filter(v => matches(query, modelText(v)));
    this._models.update(
      modelGroups(versions),
      query !== '',
      version => `${version.group}/${version.version}`,
      () =>
        new ModelItem({
          setApproval: this._options.setApproval,
          lineage: name => this.model.lineage(name)
        }),
      (item, version) => (item as ModelItem).update(version, context),
      model.models.length
    );
    // Shown once something is registered: until then it would only push the jobs down.
    this._models.node.hidden = model.models.length === 0;
    this._models.empty = query ? 'No model matches.' : this._models.defaultEmpty;

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

  /**
   * How names fit this render: measured in the rows' real fonts against the rows' real
   * width (one layout read per render), the status label's width left to it.
   */
  private _fitters(): Pick<IRenderContext, 'fitName' | 'fitLine'> {
    // An item's content box: the list's width less the item's padding (12 + 8 px).
    const width = (this._content.clientWidth || this.node.clientWidth || 300) - 20;
    const nameFont = fontOf(this.node, '600');
    const lineFont = fontOf(this.node, '400');
    const fitter = this._fitter;
    return {
      fitName: (name, status) => {
        // The status: its text, the dot before it (9 px + 4 px margin) and the row's gap.
        const statusWidth = fitter.measure(status, nameFont) + 13 + 8;
        return fitter.fit(name, width - statusWidth - 2, nameFont);
      },
      fitLine: (text, reserved = 0) => fitter.fit(text, width - reserved - 2, lineFont)
    };
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
  private _models: Section;
  private _fitter = new TextFitter();
  private _jobSections = new Map<string, Section>();
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
