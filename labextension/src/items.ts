/**
 * The rows of jobs and endpoints: name and status, instance and timing, a failure reason,
 * the cost line and their actions (logs, watch, stop; copy snippet, watch, delete…), and
 * an endpoint's lineage.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { addBelowIcon, copyIcon, deleteIcon, listIcon, stopIcon } from '@jupyterlab/ui-components';

import { button, setText } from './dom';
import { formatDuration, formatInstance, formatTtl, formatUsd, plural } from './format';
import { LineagePart } from './lineage';
import { IRenderContext, Item } from './sections';
import { IEndpoint, IJob, ILineageNode, TERMINAL_JOB_STATUSES } from './tokens';

/** What the rows do; the panel's owner (index.ts) implements them. */
export interface IRowActions {
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

export class JobItem extends Item {
  constructor(options: IRowActions) {
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
    this.setHeader(job.name, job.status, tooltip, context);
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
    this.setCost(`${formatUsd(job.cost)}${finished ? '' : ' so far'}`, job.cost_per_hour);
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

export class EndpointItem extends Item {
  constructor(options: IRowActions, lineage: (name: string) => Promise<ILineageNode>) {
    super('sm-EndpointItem');
    this._lineage = new LineagePart(lineage);
    this.node.append(this._lineage.node);
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
    this.setHeader(endpoint.name, endpoint.status, tooltip, context);
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
      this.setCost(endpoint.billing ? formatUsd(endpoint.cost) : 'not billing', null);
    } else {
      this.setCost(formatUsd(endpoint.cost), endpoint.cost_per_hour);
    }
    this._copy.hidden = failed || !endpoint.snippet || endpoint.status !== 'InService';
    this._watch.hidden = !context.notebookOpen;
    this._delete.hidden = endpoint.status === 'Deleting' || endpoint.status === 'Deleted';
    if (this._lineage.name && this._served !== endpoint.model_package) {
      this._lineage.reload(); // redeployed from another version
    }
    this._served = endpoint.model_package ?? null;
    this._lineage.name = endpoint.name;
    // Beside "▸ Lineage" (about 70 px), cut in its middle: the version number stays.
    const served = endpoint.model_package ? `serves ${endpoint.model_package}` : '';
    this._lineage.summary = served && context.fitLine(served, 70);
  }

  private _endpoint: IEndpoint | null = null;
  private _lineage: LineagePart;
  private _served: string | null = null;
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
