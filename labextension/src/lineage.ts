/**
 * The "Lineage" part of an endpoint's or a model version's row: closed, it is one line;
 * opened, it reads `GET /lineage/<name>` and shows where the thing came from, one node a
 * line, indented by depth: endpoint → model package version → training job (its code
 * hash) → inputs → the processing job that produced them. A long value (a URI) is cut in
 * its middle, whole in its tooltip.
 */
import { el } from './dom';
import { middleEllipsis } from './format';
import { ILineageNode } from './tokens';

/** Details shown first, in this order; the others follow as the server sent them. */
const DETAIL_ORDER = ['status', 'sha256', 'uri', 'model', 'metrics', 'hyperparameters'];
/** Details the row itself already says, or too long to help here (in the name's tooltip). */
const DETAIL_SKIP = ['backend', 'arn'];
/** A longer value (a URI, a hash) is cut in its middle; the full one is its tooltip. */
const VALUE_CHARS = 64;

export class LineagePart {
  constructor(load: (name: string) => Promise<ILineageNode>) {
    this._load = load;
    this.node = el('div', 'sm-Lineage');
    this._toggle = el('button', 'sm-Lineage-toggle') as HTMLButtonElement;
    this._toggle.type = 'button';
    this._toggle.addEventListener('click', () => void this._setOpen(!this._open));
    this._summary = el('span', 'sm-Lineage-summary');
    this._body = el('div', 'sm-Lineage-body');
    this._body.hidden = true;
    const line = el('div', 'sm-Lineage-line');
    line.append(this._toggle, this._summary);
    this.node.append(line, this._body);
    this._renderToggle();
  }

  readonly node: HTMLElement;

  /** The endpoint, `group/version` or job whose lineage this shows. */
  get name(): string {
    return this._name;
  }

  set name(value: string) {
    if (value !== this._name) {
      this._name = value;
      if (this._open) {
        void this._read();
      }
    }
  }

  /** What the closed line says after "Lineage" (e.g. the version an endpoint serves). */
  set summary(text: string) {
    if (this._summary.textContent !== text) {
      this._summary.textContent = text;
      this._summary.title = text;
    }
  }

  /** Read it again (something was registered, approved or deployed meanwhile). */
  reload(): void {
    if (this._open) {
      void this._read();
    }
  }

  private async _setOpen(open: boolean): Promise<void> {
    this._open = open;
    this._renderToggle();
    this._body.hidden = !open;
    this._summary.hidden = open; // the tree's first line says it again
    if (open) {
      await this._read();
    }
  }

  private _renderToggle(): void {
    this._toggle.textContent = `${this._open ? '▾' : '▸'} Lineage`;
    this._toggle.setAttribute('aria-expanded', String(this._open));
    this._toggle.title = this._open
      ? 'Hide the lineage'
      : 'Where this came from: model package, training job, code, inputs (%sm_lineage)';
  }

  private async _read(): Promise<void> {
    const name = this._name;
    const request = ++this._request;
    if (!this._body.firstChild) {
      this._body.replaceChildren(el('div', 'sm-Lineage-note', 'Loading…'));
    }
    let root: ILineageNode;
    try {
      root = await this._load(name);
    } catch (error) {
      if (request === this._request) {
        const text = error instanceof Error ? error.message : String(error);
        this._body.replaceChildren(el('div', 'sm-Lineage-note sm-Lineage-error', text));
      }
      return;
    }
    if (request !== this._request) {
      return; // a newer read (or another name) answers instead
    }
    this._body.replaceChildren(renderLineage(root));
  }

  private _load: (name: string) => Promise<ILineageNode>;
  private _toggle: HTMLButtonElement;
  private _summary: HTMLElement;
  private _body: HTMLElement;
  private _name = '';
  private _open = false;
  private _request = 0;
}

/**
 * The lineage below `root` as nested lists (the root is the row it belongs to, so it is
 * not repeated); a lineage with nothing behind it says so.
 */
export function renderLineage(root: ILineageNode): HTMLElement {
  if (!root.parents?.length) {
    return el(
      'div',
      'sm-Lineage-note',
      `No lineage recorded for ${root.kind} ${root.name} (deployed from a model file).`
    );
  }
  return renderParents(root.parents);
}

function renderParents(nodes: ILineageNode[]): HTMLElement {
  const list = el('ul', 'sm-Lineage-list');
  for (const node of nodes) {
    list.append(renderNode(node));
  }
  return list;
}

function renderNode(node: ILineageNode): HTMLElement {
  const item = el('li', 'sm-Lineage-node');
  item.dataset.kind = node.kind;
  const head = el('div', 'sm-Lineage-head');
  if (node.relation && node.relation !== node.kind) {
    head.append(el('span', 'sm-Lineage-relation', `${node.relation} `));
  }
  head.append(el('span', 'sm-Lineage-kind', node.kind));
  const name = el('div', 'sm-Lineage-name', node.name);
  const details = { ...(node.details ?? {}) };
  // The code's name is its short hash: the full one goes to the tooltip.
  const full = details.sha256;
  if (full && full.startsWith(node.name)) {
    delete details.sha256;
  }
  name.title = [full ?? node.name, details.arn ? `ARN: ${details.arn}` : '']
    .filter(Boolean)
    .join('\n');
  item.append(head, name);
  for (const [key, value] of orderedDetails(details)) {
    const detail = el('div', 'sm-Lineage-detail');
    detail.append(
      el('span', 'sm-Lineage-key', `${key} `),
      el('span', 'sm-Lineage-value', middleEllipsis(value, VALUE_CHARS))
    );
    detail.title = `${key}: ${value}`;
    item.append(detail);
  }
  if (node.parents?.length) {
    item.append(renderParents(node.parents));
  }
  return item;
}

/** `details` as `[key, value]` pairs: the telling ones first, the row's own left out. */
export function orderedDetails(details: Record<string, string>): Array<[string, string]> {
  const keys = Object.keys(details).filter(k => !DETAIL_SKIP.includes(k));
  const rank = (key: string): number => {
    const index = DETAIL_ORDER.indexOf(key);
    return index < 0 ? DETAIL_ORDER.length : index;
  };
  return keys
    .sort((a, b) => rank(a) - rank(b))
    .map(key => [key, String(details[key])] as [string, string]);
}
