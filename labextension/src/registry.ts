/**
 * The "Models" section: the model registry's groups, each a collapsed group of its
 * versions (newest first), with approval status, key metrics, who changed it and when,
 * the job it came from, Approve… / Reject… (asked first, as Delete… is) and its lineage.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { checkIcon, closeIcon } from '@jupyterlab/ui-components';

import { button, el, setText } from './dom';
import { approvalLabel, formatDuration, formatMetric } from './format';
import { LineagePart } from './lineage';
import { IGroup, IRenderContext, Item } from './sections';
import { ApprovalAction, ILineageNode, IModelPackage } from './tokens';

/** How many metrics a row shows (all of them are in its tooltip). */
const KEY_METRICS = 3;

export interface IModelActions {
  /** Ask, then approve or reject a version (the row disables its buttons meanwhile). */
  setApproval: (version: IModelPackage, action: ApprovalAction) => Promise<void>;
  /** Read a lineage (`GET /lineage/<name>`). */
  lineage: (name: string) => Promise<ILineageNode>;
}

/** A version's name as the magics take it: `group/version`. */
export function versionName(version: IModelPackage): string {
  return `${version.group}/${version.version}`;
}

/** Whether a version matches a search (group, version, status, source job, metrics). */
export function modelText(version: IModelPackage): string {
  return [
    versionName(version),
    version.status,
    approvalLabel(version.status),
    version.source_job,
    version.description,
    version.changed_by,
    ...Object.keys(version.metrics ?? {})
  ]
    .filter(Boolean)
    .join(' ');
}

/**
 * One collapsed group per model group, the group with the newest version first; inside,
 * newest version first. Its heading says the latest approved version and what waits.
 */
export function modelGroups(versions: ReadonlyArray<IModelPackage>): IGroup<IModelPackage>[] {
  const byGroup = new Map<string, IModelPackage[]>();
  for (const version of versions) {
    const list = byGroup.get(version.group) ?? [];
    list.push(version);
    byGroup.set(version.group, list);
  }
  const groups: IGroup<IModelPackage>[] = [];
  for (const [group, list] of byGroup) {
    list.sort((a, b) => b.version - a.version);
    const approved = list.find(v => v.status === 'Approved');
    const pending = list.filter(v => v.status === 'PendingManualApproval').length;
    // Short: it sits on the heading. "none approved" only when nothing waits either. No
    // break inside a part (a narrow panel wraps the heading between parts).
    const note = [
      approved ? `v${approved.version}\u00a0approved` : pending ? '' : 'none\u00a0approved',
      pending ? `${pending}\u00a0pending` : ''
    ]
      .filter(Boolean)
      .join(' · ');
    groups.push({ id: `group:${group}`, label: group, note, collapsedByDefault: true, rows: list });
  }
  const newest = (g: IGroup<IModelPackage>): number =>
    Math.max(...g.rows.map(v => v.created_at ?? 0));
  return groups.sort((a, b) => newest(b) - newest(a));
}

export class ModelItem extends Item {
  constructor(actions: IModelActions) {
    super('sm-ModelItem');
    this.note = el('div', 'sm-Item-note');
    this.note.hidden = true;
    this.node.insertBefore(this.note, this.bottom);
    this.cost.classList.add('sm-Item-source');
    this._approve = button(checkIcon, 'sm-Item-approve', 'Approve this version…');
    this._reject = button(closeIcon, 'sm-Item-reject', 'Reject this version…');
    const act = async (action: ApprovalAction, node: HTMLButtonElement): Promise<void> => {
      node.disabled = true;
      try {
        await actions.setApproval(this._version!, action);
      } finally {
        node.disabled = false;
      }
    };
    this._approve.addEventListener('click', () => void act('approve', this._approve));
    this._reject.addEventListener('click', () => void act('reject', this._reject));
    this.actions.append(this._approve, this._reject);
    this._lineage = new LineagePart(actions.lineage);
    this.node.append(this._lineage.node);
  }

  update(version: IModelPackage, context: IRenderContext): void {
    const before = this._version;
    this._version = version;
    const name = versionName(version);
    const tooltip = [
      name,
      version.description ?? '',
      `model: ${version.model_data}`,
      version.arn ? `ARN: ${version.arn}` : ''
    ]
      .filter(Boolean)
      .join('\n');
    this.setHeader(name, version.status, tooltip, context, approvalLabel(version.status));
    const metrics = Object.entries(version.metrics ?? {}).sort(([a], [b]) => a.localeCompare(b));
    const shown = metrics.slice(0, KEY_METRICS).map(([k, v]) => `${k} ${formatMetric(v)}`);
    setText(this.details, shown.length ? shown.join(' · ') : 'no metrics');
    this.details.title = metrics.map(([k, v]) => `${k} = ${v}`).join('\n');
    setText(this.timing, `registered ${formatDuration(context.now - version.created_at)} ago`);
    this.timing.title = new Date(version.created_at * 1000).toLocaleString();

    const note = [changedBy(version, context.now), version.description ?? '']
      .filter(Boolean)
      .join(' · ');
    this.note.hidden = !note;
    setText(this.note, note);
    this.note.title = note;
    const source = version.source_job ? `from ${version.source_job}` : 'from a model file';
    setText(this.cost, context.fitLine(source, 56));
    this.cost.title = version.source_job
      ? `Trained by job ${version.source_job}`
      : `Registered from ${version.model_data}`;
    this._approve.hidden = version.status === 'Approved';
    this._reject.hidden = version.status === 'Rejected';
    this._approve.title = `Approve ${name}… (deployable with %sm_deploy ${version.group})`;
    this._reject.title = `Reject ${name}…`;
    this._lineage.name = name;
    if (before && before.status !== version.status) {
      this._lineage.reload();
    }
  }

  private note: HTMLElement;
  private _version: IModelPackage | null = null;
  private _approve: HTMLButtonElement;
  private _reject: HTMLButtonElement;
  private _lineage: LineagePart;
}

/**
 * Who set the status, and when (the audit trail's last line): `approved by me@host 2m ago`,
 * or `registered by me@host` when the status is the one it was registered with.
 */
export function changedBy(version: IModelPackage, now: number): string {
  if (!version.changed_by || !version.changed_at) {
    return '';
  }
  const label = approvalLabel(version.status).toLowerCase();
  // The registration's own entry has the version's creation time.
  if (Math.abs(version.changed_at - version.created_at) < 0.001) {
    const as = version.status === 'PendingManualApproval' ? '' : ` as ${label}`;
    return `registered by ${version.changed_by}${as}`;
  }
  return `${label} by ${version.changed_by} ${formatDuration(now - version.changed_at)} ago`;
}

/** Ask before approving or rejecting a version; true when the user confirmed. */
export async function confirmApproval(
  version: IModelPackage,
  action: ApprovalAction
): Promise<boolean> {
  const name = versionName(version);
  const metrics = Object.entries(version.metrics ?? {})
    .map(([k, v]) => `${k} ${formatMetric(v)}`)
    .join(', ');
  const facts = [
    version.source_job ? `trained by ${version.source_job}` : `model ${version.model_data}`,
    metrics ? `metrics: ${metrics}` : ''
  ]
    .filter(Boolean)
    .join('; ');
  const body =
    action === 'approve'
      ? `Approved versions can be deployed (%sm_deploy ${version.group} takes the latest ` +
        `approved one). ${name}: ${facts}.`
      : `Rejected versions are not deployed without --force. ${name}: ${facts}.`;
  const label = action === 'approve' ? 'Approve' : 'Reject';
  const result = await showDialog({
    title: `${label} model ${name}?`,
    body,
    buttons: [
      Dialog.cancelButton(),
      action === 'approve' ? Dialog.okButton({ label }) : Dialog.warnButton({ label })
    ]
  });
  return result.button.accept;
}
