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
}

/** SageMaker's training statuses after which nothing changes any more. */
export const TERMINAL_JOB_STATUSES = ['Completed', 'Failed', 'Stopped'];

/** Endpoint statuses that move on by themselves (the panel refreshes fast meanwhile). */
export const TRANSITIONAL_ENDPOINT_STATUSES = ['Creating', 'Updating', 'Deleting'];

/** A training or transform job, as `GET /jobs` lists it. */
export interface IJob {
  name: string;
  kind: string;
  backend: string;
  region: string | null;
  status: string;
  secondary_status: string | null;
  instance_type: string | null;
  instance_count: number | null;
  spot: boolean;
  created_at: number | null;
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
  instance_count: number | null;
  weight: number | null;
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
  created_at: number | null;
  deleted_at: number | null;
  ttl_at: number | null;
  age: number | null;
  last_invoked_at: number | null;
  cost: number | null;
  cost_per_hour: number | null;
  billing: boolean;
  failure_reason: string | null;
  notebook: string | null;
  snippet: string | null;
}

export interface IJobList {
  jobs: IJob[];
  version: number | string;
}

export interface IEndpointList {
  endpoints: IEndpoint[];
  version: number | string;
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
  cursor: string | number | null;
  done: boolean;
}

/** `GET /changes`. */
export interface IChanges {
  version: number | string;
}

/** What the panel shows; other extensions may require it to read the same state. */
export interface ISmMagicsModel {
  readonly jobs: ReadonlyArray<IJob>;
  readonly endpoints: ReadonlyArray<IEndpoint>;
  readonly cost: ICostSummary | null;
  /** The last refresh's error message, or null when it worked. */
  readonly error: string | null;
  /** Emitted after every refresh (and on errors). */
  readonly changed: ISignal<ISmMagicsModel, void>;
  refresh(): Promise<void>;
  stopJob(name: string): Promise<IJob>;
  deleteEndpoint(name: string): Promise<IEndpoint>;
}

export const ISmMagicsModel = new Token<ISmMagicsModel>(
  'sm-magics:ISmMagicsModel',
  'The jobs, endpoints and cost the sm-magics side panel shows.'
);
