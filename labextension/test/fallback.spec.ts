/**
 * The snapshot shown where a job's widget cannot be: the widget renderer of a notebook is
 * wrapped, and a bundle holding our snapshot shows it instead of "Error displaying widget".
 */
import { Widget } from '@lumino/widgets';

import { WIDGET_MIME, wrapWidgetRenderer } from '../src/fallback';

const SNAPSHOT =
  "<div class='sm-magics sm-magics-snapshot'><b>job-1</b> Completed " +
  '<code>%sm_watch job-1</code></div>';

/** A widget renderer that fails as ipywidgets does when the model is gone. */
function fakeWidgetFactory(outcome: 'missing' | 'ok' | 'disconnected') {
  return {
    safe: false,
    mimeTypes: [WIDGET_MIME],
    createRenderer: () => {
      const widget = new Widget() as Widget & { renderModel: () => Promise<void> };
      widget.renderModel = async () => {
        if (outcome === 'missing') {
          widget.node.textContent = 'Error displaying widget: model not found';
        } else {
          widget.node.innerHTML = '<div class="jupyter-widgets">live</div>';
          if (outcome === 'disconnected') {
            widget.node.firstElementChild!.classList.add('jupyter-widgets-disconnected');
          }
        }
      };
      return widget;
    }
  };
}

function registry(factory: any) {
  const factories: Record<string, any> = { [WIDGET_MIME]: factory };
  return {
    getFactory: (mime: string) => factories[mime],
    getRank: () => -10,
    addFactory(f: any) {
      factories[f.mimeTypes[0]] = f;
    }
  };
}

/** jupyterlab-manager's placeholder: its renderers wait for a manager handed to them. */
function placeholderFactory() {
  return {
    safe: false,
    mimeTypes: [WIDGET_MIME],
    createRenderer: () => {
      const widget = new Widget() as Widget & { renderModel: () => Promise<void> };
      widget.renderModel = () => {
        widget.node.textContent = 'Loading widget...';
        return new Promise<void>(() => undefined); // no manager reaches a wrapped one
      };
      return widget;
    }
  };
}

const BUNDLE = { trusted: true, data: { [WIDGET_MIME]: { model_id: 'x' }, 'text/html': SNAPSHOT } };

function visible(node: HTMLElement, selector: string): HTMLElement | null {
  return node.querySelector(`${selector}:not(.lm-mod-hidden)`);
}

async function render(outcome: 'missing' | 'ok' | 'disconnected', html = SNAPSHOT) {
  const rendermime = registry(fakeWidgetFactory(outcome));
  expect(wrapWidgetRenderer(rendermime)).toBe(true);
  expect(wrapWidgetRenderer(rendermime)).toBe(false); // once
  const renderer = rendermime.getFactory(WIDGET_MIME).createRenderer({});
  await renderer.renderModel({
    trusted: true,
    data: { [WIDGET_MIME]: { model_id: 'x' }, 'text/html': html }
  });
  return renderer.node as HTMLElement;
}

it('shows the snapshot instead of "Error displaying widget"', async () => {
  const node = await render('missing');
  expect(node.querySelector('.sm-Snapshot')?.textContent).toContain('%sm_watch job-1');
});

it('leaves a live widget alone', async () => {
  const node = await render('ok');
  expect(node.querySelector('.sm-Snapshot:not(.lm-mod-hidden)')).toBeNull();
  expect(node.firstElementChild?.classList.contains('lm-mod-hidden')).toBe(false);
  expect(node.textContent).toContain('live');
});

it('says how to get a live view when the kernel went away', async () => {
  const node = await render('disconnected');
  expect(node.querySelector('.sm-Snapshot-note')?.textContent).toContain('%sm_watch job-1');
});

it('sanitizes the snapshot of an untrusted notebook', async () => {
  const rendermime = registry(fakeWidgetFactory('missing'));
  wrapWidgetRenderer(rendermime);
  const sanitizer = { sanitize: (html: string) => html.replace(/<(\/?)b>/g, '<$1i>') };
  const renderer = rendermime.getFactory(WIDGET_MIME).createRenderer({ sanitizer });
  await renderer.renderModel({
    trusted: false,
    data: { [WIDGET_MIME]: { model_id: 'x' }, 'text/html': SNAPSHOT }
  });
  expect(renderer.node.querySelector('.sm-Snapshot i')?.textContent).toBe('job-1');
});

it('does nothing for widgets that are not ours', async () => {
  const node = await render('missing', '<b>someone else</b>');
  expect(node.querySelector('.sm-Snapshot')).toBeNull();
});

it('shows a saved output snapshot at once, then renders it with the widget manager', async () => {
  // A trusted notebook reopened: its outputs render before its kernel (and widget manager).
  const rendermime = registry(placeholderFactory());
  wrapWidgetRenderer(rendermime);
  const renderer = rendermime.getFactory(WIDGET_MIME).createRenderer({});
  void renderer.renderModel(BUNDLE);
  const node = renderer.node as HTMLElement;
  expect(visible(node, '.sm-Snapshot')?.textContent).toContain('%sm_watch job-1');

  // The kernel is ready: jupyterlab-manager adds its factory bound to the manager.
  rendermime.addFactory(fakeWidgetFactory('ok'), -10);
  await new Promise(resolve => setTimeout(resolve, 0));
  expect(visible(node, '.sm-Snapshot')).toBeNull(); // the kernel still had the model
  expect(node.textContent).toContain('live');
  // Later outputs are wrapped too.
  expect(rendermime.getFactory(WIDGET_MIME).createRenderer({}).node.className).toContain(
    'sm-WidgetOrSnapshot'
  );
});

it('keeps the snapshot when the widget manager has no such model', async () => {
  const rendermime = registry(placeholderFactory());
  wrapWidgetRenderer(rendermime);
  const renderer = rendermime.getFactory(WIDGET_MIME).createRenderer({});
  void renderer.renderModel(BUNDLE);
  rendermime.addFactory(fakeWidgetFactory('missing'), -10);
  await new Promise(resolve => setTimeout(resolve, 0));
  const node = renderer.node as HTMLElement;
  expect(visible(node, '.sm-Snapshot')?.textContent).toContain('%sm_watch job-1');
  expect(node.textContent).not.toMatch(/Loading widget/);
});

it('makes the widget view a Lumino child, so it learns it is attached', async () => {
  // ipywidgets 8 applies a view's layout (display: none, width), style and classes only
  // once attached: a renderer whose node was merely moved showed a hidden Deploy button.
  let attached = false;
  const rendermime = registry({
    safe: false,
    mimeTypes: [WIDGET_MIME],
    createRenderer: () => {
      const widget = new (class extends Widget {
        protected onAfterAttach(): void {
          attached = true;
        }
      })() as Widget & { renderModel: () => Promise<void> };
      widget.renderModel = async () => undefined;
      return widget;
    }
  });
  wrapWidgetRenderer(rendermime);
  const renderer = rendermime.getFactory(WIDGET_MIME).createRenderer({});
  Widget.attach(renderer, document.body);
  expect(attached).toBe(true);
  Widget.detach(renderer);
});

it('shows a new live output no snapshot while its widget loads', async () => {
  // Wrapped after jupyterlab-manager bound its factory: once one render completed, the
  // factory is known to be bound and a new output is not taken for a saved one.
  const pending: Array<() => void> = [];
  const rendermime = registry({
    safe: false,
    mimeTypes: [WIDGET_MIME],
    createRenderer: () => {
      const widget = new Widget() as Widget & { renderModel: () => Promise<void> };
      widget.renderModel = () => {
        widget.node.textContent = 'Loading widget...';
        return new Promise<void>(resolve =>
          pending.push(() => {
            widget.node.innerHTML = '<div class="jupyter-widgets">live</div>';
            resolve();
          })
        );
      };
      return widget;
    }
  });
  wrapWidgetRenderer(rendermime);
  const first = rendermime.getFactory(WIDGET_MIME).createRenderer({});
  const rendered = first.renderModel(BUNDLE);
  pending.shift()!();
  await rendered;
  const second = rendermime.getFactory(WIDGET_MIME).createRenderer({});
  void second.renderModel(BUNDLE);
  expect(visible(second.node, '.sm-Snapshot')).toBeNull();
  expect(second.node.textContent).toContain('Loading widget...');
});
