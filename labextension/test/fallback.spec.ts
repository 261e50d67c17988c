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
    addFactory: (f: any) => {
      factories[f.mimeTypes[0]] = f;
    }
  };
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
  expect(node.querySelector('.sm-Snapshot')).toBeNull();
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
