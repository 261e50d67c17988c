/**
 * Types of the REST API (docs/rest-api.md), the plugin's ids and the model's token.
 */
import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';

/** The id of the plugin, also the name of its settings schema (schema/plugin.json). */
export const PLUGIN_ID = 'sm-magics:plugin';

/** The id of the side panel widget. */
export const PANEL_ID = 'sm-magics-panel';

/** Command ids. */
export namespace CommandIDs {
  export const open = 'sm-magics:open';
  export const refresh = 'sm-magics:refresh';
  export const openLogs = 'sm-magics:open-logs';
  export const watch = 'sm-magics:watch';
}

/** SageMaker's training statuses after which nothing changes any more. */
export const TERMINAL_JOB_STATUSES = ['Completed', 'Failed', 'Stopped'];

/** Endpoint statuses that move on by themselves (the panel refreshes fast meanwhile). */
export const TRANSITIONAL_ENDPOINT_STATUSES = ['Creating', 'Updating', 'Deleting'];

/**
 * The job kinds the panel knows, in the order of its sections. `GET /jobs` may name others
 * (a newer server): they get a section of their own after these.
 */
export const JOB_KINDS: ReadonlyArray<{ kind: string; title: string }> = [
  { kind: 'training', title: 'Training jobs' },
  { kind: 'tuning', title: 'Tuning jobs' },
  { kind: 'processing', title: 'Processing jobs' },
  { kind: 'transform', title: 'Batch transforms' }
];

/*
 * The REST objects below mirror sm_magics/server/serialize.py field by field;
 * tests/test_rest_types.py compares them (names, and whether a field can be null).
 */

/** A job of any kind (training, transform, processing, tuning), as `GET /jobs` lists it. */
export interface IJob {
  name: string;
  kind: string;
  backend: string;
  region: string | null;
  status: string;
  secondary_status: string | null;
  instance_type: string | null;
  instance_count: number;
  spot: boolean;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  duration: number | null;
  cost: number | null;
  cost_per_hour: number | null;
  billing: boolean;
  failure_reason: string | null;
  model_data: string | null;
  notebook: string | null;
}

/** One production variant of an endpoint. */
export interface IVariant {
  name: string;
  instance_type: string | null;
  instance_count: number;
  weight: number;
  serverless_memory_mb: number | null;
}

/** An endpoint, as `GET /endpoints` lists it. */
export interface IEndpoint {
  name: string;
  backend: string;
  region: string | null;
  status: string;
  url: string | null;
  variants: IVariant[];
  created_at: number;
  deleted_at: number | null;
  ttl_at: number | null;
  age: number;
  last_invoked_at: number | null;
  cost: number | null;
  cost_per_hour: number | null;
  billing: boolean;
  failure_reason: string | null;
  notebook: string | null;
  snippet: string;
  /** The registry version it serves (`group/version`), null when deployed otherwise. */
  model_package: string | null;
}

export interface IJobList {
  jobs: IJob[];
  /** Opaque: compare for equality only. */
  version: string;
}

export interface IEndpointList {
  endpoints: IEndpoint[];
  version: string;
}

/** A model package version, as `GET /models` lists it (newest version first per group). */
export interface IModelPackage {
  group: string;
  version: number;
  arn: string;
  backend: string;
  /** `PendingManualApproval`, `Approved` or `Rejected`. */
  status: string;
  model_data: string;
  source_job: string | null;
  description: string | null;
  metrics: Record<string, number>;
  created_at: number;
  /** `user@host` of the last status change. */
  changed_by: string | null;
  changed_at: number | null;
}

export interface IModelList {
  models: IModelPackage[];
}

/**
 * One node of a lineage (`GET /lineage/<name>`): an endpoint, a model package, a job, an
 * input or the code, with what it came from (`parents`) and how (`relation`).
 */
export interface ILineageNode {
  kind: string;
  name: string;
  relation: string;
  details: Record<string, string>;
  parents: ILineageNode[];
}

export interface ILineage {
  root: ILineageNode;
}

/** `GET /cost`. */
export interface ICostSummary {
  currency: string;
  generated_at: number;
  billing_per_hour: number;
  running: Array<Record<string, unknown>>;
  totals: { today: number | null; month: number | null; notebook: number | null };
}

/** One log line of `GET /jobs/<name>/logs`. */
export interface ILogEvent {
  timestamp: number;
  host: string;
  message: string;
}

export interface ILogPage {
  events: ILogEvent[];
  /** Opaque: pass it back as `?cursor=`; null only before the first line. */
  cursor: string | null;
  done: boolean;
}

/** `GET /changes`. */
export interface IChanges {
  version: string;
}

/** An endpoint still billing when the kernel of the notebook that made it went away. */
export interface IKernelEndedReminder {
  /** The notebook's path (as the server's contents API names it). */
  path: string;
  /** True for a restart, false for a shutdown. */
  restarted: boolean;
  endpoints: IEndpoint[];
  /** What they bill together, per hour (null when a price is unknown). */
  perHour: number | null;
}

/** An endpoint nobody invoked for a while (or never, since it started). */
export interface IIdleEndpoint {
  endpoint: IEndpoint;
  /** Seconds since the last invocation, or since it started when never invoked. */
  idle: number;
  invoked: boolean;
}

/** What the panel shows; other extensions may require it to read the same state. */
export interface ISmMagicsModel {
  readonly jobs: ReadonlyArray<IJob>;
  readonly endpoints: ReadonlyArray<IEndpoint>;
  readonly cost: ICostSummary | null;
  /** The model registry's versions, group by group, newest first. */
  readonly models: ReadonlyArray<IModelPackage>;
  /** The last refresh's error message, or null when it worked. */
  readonly error: string | null;
  /** Emitted after every refresh (and on errors). */
  readonly changed: ISignal<ISmMagicsModel, void>;
  /** A job the model saw running (or start) has ended: Completed, Failed or Stopped. */
  readonly jobEnded: ISignal<ISmMagicsModel, IJob>;
  /** An endpoint bills while idle for longer than the setting (once per endpoint). */
  readonly endpointIdle: ISignal<ISmMagicsModel, IIdleEndpoint>;
  /** A notebook's kernel went away with endpoints of that notebook still billing. */
  readonly kernelEnded: ISignal<ISmMagicsModel, IKernelEndedReminder>;
  refresh(): Promise<void>;
  stopJob(name: string): Promise<IJob>;
  deleteEndpoint(name: string): Promise<IEndpoint>;
  setApproval(group: string, version: number, action: ApprovalAction): Promise<IModelPackage>;
  lineage(name: string): Promise<ILineageNode>;
}

/** What `POST /models/<group>/<version>/<action>` does. */
export type ApprovalAction = 'approve' | 'reject';

export const ISmMagicsModel = new Token<ISmMagicsModel>(
  'sm-magics:ISmMagicsModel',
  'The jobs, endpoints and cost the sm-magics side panel shows.'
);
