/**
 * The Models section's grouping and the lineage tree, in jsdom: one collapsed group per
 * model group (newest group first, newest version first), and a lineage from an endpoint
 * down to the processing job that produced the training inputs.
 */
import { renderLineage } from '../src/lineage';
import { changedBy, modelGroups, modelText } from '../src/registry';
import { ILineageNode, IModelPackage } from '../src/tokens';

jest.mock('@jupyterlab/apputils', () => ({ Dialog: {}, showDialog: jest.fn() }));
jest.mock('@jupyterlab/ui-components', () => ({ checkIcon: {}, closeIcon: {} }));

function version(group: string, n: number, extra: Partial<IModelPackage> = {}): IModelPackage {
  return {
    group,
    version: n,
    arn: `arn:sm-magics:local:model-package/${group}/${n}`,
    backend: 'local',
    status: 'PendingManualApproval',
    model_data: 'file:///m/model.tar.gz',
    source_job: `sm-train-${group}-${n}`,
    description: null,
    metrics: { accuracy: 0.9 },
    created_at: 1000 + n,
    changed_by: null,
    changed_at: null,
    ...extra
  };
}

describe('modelGroups', () => {
  it('groups versions, newest first, collapsed, the heading saying what is approved', () => {
    const groups = modelGroups([
      version('churn', 1, { status: 'Approved', created_at: 10 }),
      version('churn', 3, { created_at: 30 }),
      version('churn', 2, { status: 'Rejected', created_at: 20 }),
      version('iris', 1, { status: 'Approved', created_at: 40 })
    ]);
    expect(groups.map(g => g.label)).toEqual(['iris', 'churn']);
    const churn = groups[1];
    expect(churn.rows.map(v => v.version)).toEqual([3, 2, 1]);
    expect(churn.collapsedByDefault).toBe(true);
    const note = (g: { note?: string }): string => (g.note ?? '').replace(/\u00a0/g, ' ');
    expect(note(churn)).toBe('v1 approved · 1 pending');
    expect(note(groups[0])).toBe('v1 approved');
    expect(note(modelGroups([version('new', 1)])[0])).toBe('1 pending');
    expect(note(modelGroups([version('no', 1, { status: 'Rejected' })])[0])).toBe('none approved');
  });

  it('finds a version by its source job, status or metric name', () => {
    const text = modelText(version('churn', 2));
    expect(text).toContain('churn/2');
    expect(text).toContain('sm-train-churn-2');
    expect(text).toContain('Pending');
    expect(text).toContain('accuracy');
  });
});

describe('changedBy', () => {
  it('says who registered a version, and who changed its status since, and when', () => {
    const fresh = version('churn', 1, { created_at: 100, changed_by: 'me@vm', changed_at: 100 });
    expect(changedBy(fresh, 200)).toBe('registered by me@vm');
    const asApproved = { ...fresh, status: 'Approved' };
    expect(changedBy(asApproved, 200)).toBe('registered by me@vm as approved');
    const later = { ...fresh, status: 'Rejected', changed_at: 160 };
    expect(changedBy({ ...later, changed_at: 101 }, 200)).toBe('rejected by me@vm 1m 39s ago');
    expect(changedBy(later, 200)).toBe('rejected by me@vm 40s ago');
    expect(changedBy(version('churn', 2), 200)).toBe('');
  });
});

describe('renderLineage', () => {
  const root: ILineageNode = {
    kind: 'endpoint',
    name: 'churn-ep',
    relation: '',
    details: { status: 'InService', backend: 'local' },
    parents: [
      {
        kind: 'model package',
        name: 'churn/2',
        relation: 'serves',
        details: { status: 'Approved', arn: 'arn:x' },
        parents: [
          {
            kind: 'training job',
            name: 'sm-train-1',
            relation: 'trained by',
            details: { status: 'Completed', backend: 'local' },
            parents: [
              {
                kind: 'code',
                name: 'abcdef012345',
                relation: 'code',
                details: { sha256: 'abcdef0123456789' },
                parents: []
              },
              {
                kind: 'input',
                name: 'train',
                relation: 'input',
                details: { uri: 'file:///data/prepared/train.csv' },
                parents: [
                  {
                    kind: 'processing job',
                    name: 'sm-process-1',
                    relation: 'produced by',
                    details: { status: 'Completed' },
                    parents: []
                  }
                ]
              }
            ]
          }
        ]
      }
    ]
  };

  it('shows the chain below the row, depth by depth, values whole', () => {
    const node = renderLineage(root);
    const names = Array.from(node.querySelectorAll('.sm-Lineage-name')).map(n => n.textContent);
    expect(names).toEqual(['churn/2', 'sm-train-1', 'abcdef012345', 'train', 'sm-process-1']);
    const processing = node.querySelector('[data-kind="processing job"]')!;
    expect(processing.querySelector('.sm-Lineage-relation')!.textContent).toBe('produced by ');
    // Nested: the processing job sits inside the input, inside the training job.
    expect(processing.closest('[data-kind="input"]')).not.toBeNull();
    expect(node.textContent).toContain('file:///data/prepared/train.csv');
    // The code's full hash is its tooltip, not a repeated line; the backend is left out.
    const code = node.querySelector('[data-kind="code"] .sm-Lineage-name') as HTMLElement;
    expect(code.title).toBe('abcdef0123456789');
    expect(node.textContent).not.toContain('sha256');
    expect(node.textContent).not.toContain('backend');
  });

  it('says when nothing is recorded behind an endpoint', () => {
    const node = renderLineage({ ...root, parents: [] });
    expect(node.textContent).toContain('No lineage recorded');
  });
});
