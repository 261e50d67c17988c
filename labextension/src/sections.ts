/**
 * The panel's building blocks: a titled Section of collapsible, paged Groups of Items,
 * keyed by name and updated in place (a refresh every two seconds never replaces a button
 * under the mouse), and the Item every row extends (name and status, details and timing,
 * a failure reason, a cost line and actions).
 */
import { failureSummary, formatUsd, statusColour } from './format';
import { el, setText } from './dom';

/** Rows a group shows before its "Show more" button, and how many more each click adds. */
export const PAGE_SIZE = 25;

/** What every row's update needs besides its own data. */
export interface IRenderContext {
  /** The name as it fits its row beside a status label (its middle cut when too long). */
  fitName: (name: string, status: string) => string;
  /** Fit text into the full width of a row in the small (meta) font, middle cut. */
  fitLine: (text: string, reserved?: number) => string;
  /** The server's "now", epoch seconds. */
  now: number;
  /** Whether a notebook is in focus (the "watch" action needs one). */
  notebookOpen: boolean;
}

export interface IGroup<T> {
  id: string;
  /** Empty for a section's only group (no heading). */
  label: string;
  note?: string;
  collapsedByDefault: boolean;
  rows: T[];
}

export interface IItem {
  node: HTMLElement;
}

/**
 * A titled section of groups; each group is a collapsible, paged list of items keyed by
 * name. Items are kept across refreshes (and moves between groups).
 */
export class Section {
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
export class Group {
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
export abstract class Item implements IItem {
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
    this.bottom = bottom;
  }

  readonly node: HTMLElement;

  /**
   * Name and status; the name cut in its middle to what the row leaves it (`context`), so
   * its end, which tells generated names apart, stays readable.
   */
  protected setHeader(
    name: string,
    status: string,
    tooltip: string,
    context: IRenderContext,
    label = status
  ): void {
    this.node.dataset.name = name;
    this.node.dataset.status = status;
    setText(this.name, context.fitName(name, label));
    this.name.title = tooltip;
    setText(this.status, label);
    this.status.title = label === status ? '' : status;
    this.status.style.color = statusColour(status);
  }

  /**
   * The cost line: what it cost (so far) and its rate, two parts that wrap onto two lines
   * when the panel is narrow rather than being cut.
   */
  protected setCost(spent: string, perHour: number | null): void {
    if (!this._spent) {
      this._spent = el('span', 'sm-Item-spent');
      this._rate = el('span', 'sm-Item-rate');
      this.cost.replaceChildren(this._spent, this._rate);
    }
    setText(this._spent, spent);
    setText(this._rate!, perHour === null ? '' : `at ${formatUsd(perHour)}/h`);
    this._rate!.hidden = perHour === null;
  }

  protected setReason(reason: string | null): void {
    const summary = failureSummary(reason);
    this.reason.hidden = !summary;
    setText(this.reason, summary);
    this.reason.title = reason ?? '';
  }

  protected bottom: HTMLElement;
  private _spent: HTMLElement | null = null;
  private _rate: HTMLElement | null = null;
  protected name: HTMLElement;
  protected status: HTMLElement;
  protected details: HTMLElement;
  protected timing: HTMLElement;
  protected reason: HTMLElement;
  protected cost: HTMLElement;
  protected actions: HTMLElement;
}
