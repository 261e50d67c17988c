/**
 * The static snapshot of a job or endpoint where its live widget cannot be shown.
 *
 * sm-magics puts a `text/html` snapshot (marked `sm-magics-snapshot`) next to the widget
 * view in a handle's display bundle. JupyterLab always prefers the widget view, and when
 * the widget's model is gone (a notebook reopened without its widget state, a kernel that
 * restarted) it shows "Error displaying widget: model not found" instead. This wraps each
 * notebook's widget renderer: it renders the widget as before, and when that fails (or
 * the widget loses its kernel) and the bundle holds our snapshot, it shows the snapshot,
 * which says how to get a live view back (`%sm_watch NAME`).
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

export const WIDGET_MIME = 'application/vnd.jupyter.widget-view+json';
const SNAPSHOT_MARK = 'sm-magics-snapshot';
const WRAPPED = Symbol('sm-magics-fallback');
/** How long "Loading widget..." may show before the snapshot takes its place. */
const LOADING_GRACE_MS = 5000;

/** What a notebook panel has that we use (duck-typed: no dependency on the notebook package). */
interface IRendermimeLike {
  getFactory(mimeType: string): IRenderMime.IRendererFactory | undefined;
  getRank(mimeType: string): number;
  addFactory(factory: IRenderMime.IRendererFactory, rank?: number): void;
}

/** Wrap the widget renderer of one notebook's rendermime (once). */
export function wrapWidgetRenderer(rendermime: IRendermimeLike): boolean {
  const original = rendermime.getFactory(WIDGET_MIME) as
    | (IRenderMime.IRendererFactory & { [WRAPPED]?: boolean })
    | undefined;
  if (!original || original[WRAPPED]) {
    return false;
  }
  const wrapped: IRenderMime.IRendererFactory & { [WRAPPED]?: boolean } = {
    safe: original.safe,
    mimeTypes: original.mimeTypes,
    defaultRank: original.defaultRank,
    createRenderer: options =>
      new FallbackRenderer(original.createRenderer(options), options.sanitizer)
  };
  wrapped[WRAPPED] = true;
  rendermime.addFactory(wrapped, rendermime.getRank(WIDGET_MIME));
  return true;
}

/** The widget renderer, with our snapshot shown when the widget cannot be. */
class FallbackRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(
    private _inner: IRenderMime.IRenderer,
    private _sanitizer?: IRenderMime.ISanitizer
  ) {
    super();
    this.addClass('sm-WidgetOrSnapshot');
    this.node.append(_inner.node);
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const html = model.data['text/html'];
    let snapshot = typeof html === 'string' && html.includes(SNAPSHOT_MARK) ? html : null;
    if (snapshot && !model.trusted) {
      // A notebook from elsewhere: its HTML goes through Lab's sanitizer, as Lab would.
      snapshot = this._sanitizer ? this._sanitizer.sanitize(snapshot) : null;
    }
    try {
      await this._inner.renderModel(model);
    } catch (error) {
      if (!snapshot) {
        throw error;
      }
    }
    if (!snapshot) {
      return;
    }
    this._snapshot = snapshot;
    this._check();
    // "Loading widget..." for good: the manager never finds the model (a reopened notebook).
    window.setTimeout(() => {
      this._stale = true;
      this._check();
    }, LOADING_GRACE_MS);
    // The widget manager may answer later (restored state), or the kernel may go away.
    this._observer?.disconnect();
    this._observer = new MutationObserver(() => this._check());
    this._observer.observe(this._inner.node, {
      childList: true,
      subtree: true,
      characterData: true,
      attributes: true,
      attributeFilter: ['class']
    });
  }

  dispose(): void {
    this._observer?.disconnect();
    this._inner.dispose();
    super.dispose();
  }

  private _check(): void {
    const node = this._inner.node;
    if (!this._snapshot) {
      return;
    }
    const text = (node.textContent ?? '').trim();
    const missing =
      /Error displaying widget/.test(text) || (this._stale && /^Loading widget/.test(text));
    const disconnected =
      node.querySelector('.jupyter-widgets-disconnected') !== null ||
      node.classList.contains('jupyter-widgets-disconnected');
    if (missing && !this._shown) {
      // No model at all: the snapshot instead of the error.
      this._shown = true;
      const view = document.createElement('div');
      view.className = 'sm-Snapshot';
      view.innerHTML = this._snapshot; // trusted, or sanitized above
      node.hidden = true;
      this.node.append(view);
    } else if (disconnected && !missing && !this._noted) {
      // The kernel went away: the view stays (it is the latest state) but says so.
      this._noted = true;
      const name = /%sm_watch ([^<\s]+)/.exec(this._snapshot)?.[1] ?? 'NAME';
      const note = document.createElement('div');
      note.className = 'sm-Snapshot-note';
      note.textContent = `The kernel that drew this view is gone: it no longer updates. %sm_watch ${name} shows a live one.`;
      this.node.append(note);
    }
  }

  private _observer: MutationObserver | null = null;
  private _snapshot: string | null = null;
  private _shown = false;
  private _noted = false;
  private _stale = false;
}
