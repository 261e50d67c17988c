/**
 * The panel's model with `requestAPI` mocked: what it asks the server, and the signals the
 * view turns into notifications (job ended, endpoint idle, kernel gone with endpoints
 * still billing).
 */
import { requestAPI } from '../src/handler';
import { JOB_LIMIT, samePath, SmMagicsModel } from '../src/model';
import { IEndpoint, IJob, ILineageNode, IModelPackage } from '../src/tokens';

jest.mock('../src/handler', () => {
  class ApiError extends Error {
    constructor(
      readonly code: string,
      message: string,
      readonly status: number
    ) {
      super(message);
    }
  }
  return { ApiError, requestAPI: jest.fn() };
});

const mocked = requestAPI as jest.MockedFunction<typeof requestAPI>;
const NOW = 1_800_000_000;

function job(name: string, status: string, extra: Partial<IJob> = {}): IJob {
  return {
    name,
    kind: 'training',
    backend: 'local',
    region: null,
    status,
    secondary_status: null,
    instance_type: 'ml.m5.large',
    instance_count: 1,
    spot: false,
    created_at: NOW,
    started_at: NOW,
    ended_at: null,
    duration: 12,
    cost: 0.0004,
    cost_per_hour: 0.115,
    billing: status === 'InProgress',
    failure_reason: null,
    model_data: null,
    notebook: '/home/me/work/quickstart.ipynb',
    ...extra
  };
}

function endpoint(name: string, extra: Partial<IEndpoint> = {}): IEndpoint {
  return {
    name,
    backend: 'local',
    region: null,
    status: 'InService',
    url: 'http://127.0.0.1:1234',
    variants: [],
    created_at: NOW - 7200,
    deleted_at: null,
    ttl_at: null,
    age: 7200,
    last_invoked_at: null,
    cost: 0.23,
    cost_per_hour: 0.115,
    billing: true,
    failure_reason: null,
    notebook: '/home/me/work/serving.ipynb',
    snippet: `%sm_invoke ${name} '[[0.0]]'`,
    model_package: null,
    ...extra
  };
}

function pkg(group: string, version: number, extra: Partial<IModelPackage> = {}): IModelPackage {
  return {
    group,
    version,
    arn: `arn:sm-magics:local:model-package/${group}/${version}`,
    backend: 'local',
    status: 'PendingManualApproval',
    model_data: `file:///models/${group}/${version}/model.tar.gz`,
    source_job: `sm-train-${version}`,
    description: null,
    metrics: { accuracy: 0.9 },
    created_at: NOW - 600,
    changed_by: null,
    changed_at: null,
    ...extra
  };
}

const LINEAGE: ILineageNode = {
  kind: 'endpoint',
  name: 'iris',
  relation: '',
  details: { status: 'InService' },
  parents: [
    {
      kind: 'model package',
      name: 'iris/2',
      relation: 'serves',
      details: { status: 'Approved' },
      parents: []
    }
  ]
};

/** Serve `state` for the list routes (and `endpoints` alone for the reminder). */
function serve(state: { jobs: IJob[]; endpoints: IEndpoint[]; models?: IModelPackage[] }): void {
  mocked.mockImplementation(async (route = '', init = {}) => {
    const approval = /^models\/([^/]+)\/(\d+)\/(approve|reject)$/.exec(route);
    if (approval && init.method === 'POST') {
      const [, group, version, action] = approval;
      const status = action === 'approve' ? 'Approved' : 'Rejected';
      return pkg(decodeURIComponent(group), Number(version), {
        status,
        changed_by: 'me@here',
        changed_at: NOW
      }) as any;
    }
    if (route === 'models') {
      if (!state.models) {
        throw new Error('404 no route');
      }
      return { models: state.models } as any;
    }
    if (route.startsWith('lineage/')) {
      return { root: LINEAGE } as any;
    }
    if (route.startsWith('jobs')) {
      return { jobs: state.jobs, version: 'v1' } as any;
    }
    if (route.startsWith('endpoints')) {
      return { endpoints: state.endpoints, version: 'v1' } as any;
    }
    if (route.startsWith('cost')) {
      return {
        currency: 'USD',
        generated_at: NOW,
        billing_per_hour: 0.115,
        running: [],
        totals: { today: 0.5, month: 1.5, notebook: null }
      } as any;
    }
    return new Promise(() => undefined); // /changes: a long poll that never answers
  });
}

function newModel(): SmMagicsModel {
  return new SmMagicsModel({ isVisible: () => true, idleWarningMinutes: 60 });
}

afterEach(() => {
  mocked.mockReset();
});

describe('SmMagicsModel', () => {
  it('reads up to JOB_LIMIT jobs, the endpoints and the cost', async () => {
    serve({ jobs: [job('a', 'InProgress')], endpoints: [] });
    const model = newModel();
    await model.refresh();
    const routes = mocked.mock.calls.map(call => call[0]);
    expect(routes).toEqual(expect.arrayContaining([`jobs?limit=${JOB_LIMIT}`, 'endpoints', 'cost']));
    expect(model.jobs.map(j => j.name)).toEqual(['a']);
    expect(model.loaded).toBe(true);
    model.dispose();
  });

  it('emits jobEnded for a job it saw running, not for jobs that ended before', async () => {
    const state = { jobs: [job('old', 'Completed'), job('run', 'InProgress')], endpoints: [] };
    serve(state);
    const model = newModel();
    const ended: string[] = [];
    model.jobEnded.connect((_, j) => ended.push(`${j.name}:${j.status}`));
    await model.refresh();
    expect(ended).toEqual([]);
    state.jobs = [job('old', 'Completed'), job('run', 'Failed', { failure_reason: 'x' })];
    await model.refresh();
    expect(ended).toEqual(['run:Failed']);
    await model.refresh();
    expect(ended).toEqual(['run:Failed']); // once
    model.dispose();
  });

  it('emits endpointIdle once per endpoint idle longer than the setting', async () => {
    const state = {
      jobs: [],
      endpoints: [endpoint('idle'), endpoint('busy', { last_invoked_at: NOW - 60 })]
    };
    serve(state);
    const model = newModel();
    const idle: string[] = [];
    model.endpointIdle.connect((_, e) => idle.push(`${e.endpoint.name}:${e.invoked}:${e.idle}`));
    await model.refresh();
    await model.refresh();
    expect(idle).toEqual(['idle:false:7200']);
    model.dispose();
  });

  it('reminds of endpoints still billing when their notebook’s kernel ends', async () => {
    serve({
      jobs: [],
      endpoints: [
        endpoint('mine-1', { cost_per_hour: 0.1 }),
        endpoint('mine-2', { cost_per_hour: 0.2 }),
        endpoint('gone', { billing: false, status: 'Failed' }),
        endpoint('theirs', { notebook: '/home/me/other.ipynb' })
      ]
    });
    const model = newModel();
    const reminders: Array<{ names: string[]; perHour: number | null }> = [];
    model.kernelEnded.connect((_, r) =>
      reminders.push({ names: r.endpoints.map(e => e.name), perHour: r.perHour })
    );
    await model.onKernelEnded('work/serving.ipynb');
    await model.onKernelEnded('work/nothing.ipynb');
    expect(reminders).toHaveLength(1);
    expect(reminders[0].names).toEqual(['mine-1', 'mine-2']);
    expect(reminders[0].perHour).toBeCloseTo(0.3);
    model.dispose();
  });

  it('reads the model registry with the rest, and keeps going without it', async () => {
    const state = {
      jobs: [],
      endpoints: [],
      models: [pkg('churn', 2), pkg('churn', 1, { status: 'Approved' })]
    } as { jobs: IJob[]; endpoints: IEndpoint[]; models?: IModelPackage[] };
    serve(state);
    const model = newModel();
    await model.refresh();
    expect(model.models.map(m => `${m.group}/${m.version}`)).toEqual(['churn/2', 'churn/1']);
    // A server without the registry route: the panel still works, the last list stays.
    delete state.models;
    await model.refresh();
    expect(model.error).toBeNull();
    expect(model.models).toHaveLength(2);
    model.dispose();
  });

  it('approves and rejects a version through POST and shows the answer at once', async () => {
    serve({ jobs: [], endpoints: [], models: [pkg('churn model', 2), pkg('churn model', 1)] });
    const model = newModel();
    await model.refresh();
    let changes = 0;
    model.changed.connect(() => (changes += 1));
    const approved = await model.setApproval('churn model', 2, 'approve');
    expect(mocked).toHaveBeenCalledWith('models/churn%20model/2/approve', { method: 'POST' });
    expect(approved.status).toBe('Approved');
    expect(model.models[0]).toMatchObject({ status: 'Approved', changed_by: 'me@here' });
    expect(model.models[1].status).toBe('PendingManualApproval');
    expect(changes).toBeGreaterThan(0);
    await model.setApproval('churn model', 1, 'reject');
    expect(model.models[1].status).toBe('Rejected');
    model.dispose();
  });

  it('reads a lineage by name, a version’s slash kept', async () => {
    serve({ jobs: [], endpoints: [] });
    const model = newModel();
    const root = await model.lineage('iris');
    expect(root.parents[0].name).toBe('iris/2');
    await model.lineage('my group/3');
    const routes = mocked.mock.calls.map(call => call[0]);
    expect(routes).toEqual(expect.arrayContaining(['lineage/iris', 'lineage/my%20group/3']));
    model.dispose();
  });

  it('reminds once when a kernel restarts (its status says so twice)', async () => {
    serve({ jobs: [], endpoints: [endpoint('mine')] });
    const model = newModel();
    const reminders: boolean[] = [];
    model.kernelEnded.connect((_, r) => reminders.push(r.restarted));
    await model.onKernelEnded('work/serving.ipynb', true);
    await model.onKernelEnded('work/serving.ipynb', true);
    expect(reminders).toEqual([true]);
    model.dispose();
  });

  it('keeps the refresh error for the view and recovers', async () => {
    mocked.mockRejectedValue(new Error('server down'));
    const model = newModel();
    await model.refresh().catch(() => undefined);
    expect(model.error).toContain('server down');
    serve({ jobs: [], endpoints: [] });
    await model.refresh();
    expect(model.error).toBeNull();
    model.dispose();
  });
});

describe('samePath', () => {
  it('matches the kernel’s absolute path to the contents path', () => {
    expect(samePath('/srv/root/work/a.ipynb', 'work/a.ipynb')).toBe(true);
    expect(samePath('work/a.ipynb', 'work/a.ipynb')).toBe(true);
    expect(samePath('/srv/root/work/ba.ipynb', 'a.ipynb')).toBe(false);
  });
});
