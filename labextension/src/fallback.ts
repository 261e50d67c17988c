/**
 * The static snapshot of a job or endpoint where its live widget cannot be shown.
 *
 * sm-magics puts a `text/html` snapshot (marked `sm-magics-snapshot`) next to the widget
 * view in a handle's display bundle. An untrusted notebook shows that HTML (Lab skips the
 * widget renderer, which is not "safe"). A trusted one (the user's own, saved by Lab) shows
 * the widget view, and when the widget's model is gone (the notebook reopened after its
 * kernel went away) ipywidgets says "Loading widget..." or "Error displaying widget: model
 * not found" instead. This wraps each notebook's widget renderer: it renders the widget as
 * before, shows our snapshot where that fails, and notes when the widget loses its kernel.
 *
 * Two things about jupyterlab-manager (ipywidgets 8) shape this:
 * - Until a notebook's kernel is ready its rendermime holds a placeholder widget factory
 *   whose renderers wait for a widget manager; once ready, the manager is handed to the
 *   placeholder renderers it finds among the output area's children, and the factory is
 *   replaced by one bound to the manager. Our wrapper hides the placeholder renderer from
 *   that search, so saved outputs (rendered before the kernel) would wait forever: we
 *   re-create them from the bound factory when it is added, and show the snapshot at once
 *   (a live view, if the kernel still has the model, replaces it).
 * - A widget view applies its layout (display, width, border), style and CSS classes only
 *   once Lumino tells it it is attached: the wrapped renderer must be a Lumino child of
 *   ours, not a DOM node moved under it (a Deploy button meant to be hidden showed).
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Panel, Widget } from '@lumino/widgets';

export const WIDGET_MIME = 'application/vnd.jupyter.widget-view+json';
const SNAPSHOT_MARK = 'sm-magics-snapshot';
/** How long "Loading widget..." may show before the snapshot takes its place. */
const LOADING_GRACE_MS = 5000;

/** What a notebook's rendermime has that we use (duck-typed: no notebook dependency). */
interface IRendermimeLike {
  getFactory(mimeType: string): IRenderMime.IRendererFactory | undefined;
  getRank(mimeType: string): number;
  addFactory(factory: IRenderMime.IRendererFactory, rank?: number): void;
}

/** One notebook's widget rendering: whether its manager is there, who waits for it. */
interface IBinding {
  /** A factory bound to the notebook's widget manager was added (its kernel is ready). */
  bound: boolean;
  /** Renderers made before that, whose wrapped renderer no manager will ever reach. */
  waiting: Set<FallbackRenderer>;
}

const BINDINGS = new WeakMap<object, IBinding>();
const OURS = new WeakSet<IRenderMime.IRendererFactory>();

/**
 * Wrap the widget renderer of one notebook's rendermime, now and whenever it is replaced.
 *
 * Returns whether this call wrapped it (false: it already was).
 */
export function wrapWidgetRenderer(rendermime: IRendermimeLike): boolean {
  if (BINDINGS.has(rendermime)) {
    return false;
  }
  const binding: IBinding = { bound: false, waiting: new Set() };
  BINDINGS.set(rendermime, binding);
  const add = rendermime.addFactory.bind(rendermime);
  const wrap = (inner: IRenderMime.IRendererFactory): IRenderMime.IRendererFactory => {
    const wrapped: IRenderMime.IRendererFactory = {
      safe: inner.safe,
      mimeTypes: inner.mimeTypes,
      defaultRank: inner.defaultRank,
      createRenderer: options => new FallbackRenderer(inner, options, binding)
    };
    OURS.add(wrapped);
    return wrapped;
  };
  rendermime.addFactory = (factory, rank) => {
    if (OURS.has(factory) || !factory.mimeTypes.includes(WIDGET_MIME)) {
      add(factory, rank);
      return;
    }
    // jupyterlab-manager replacing its placeholder with the factory bound to the manager.
    binding.bound = true;
    add(wrap(factory), rank);
    const waiting = [...binding.waiting];
    binding.waiting.clear();
    for (const renderer of waiting) {
      renderer.rebind(factory);
    }
  };
  const current = rendermime.getFactory(WIDGET_MIME);
  if (current) {
    add(wrap(current), rendermime.getRank(WIDGET_MIME));
  }
  return true;
}

/** The widget renderer, with our snapshot shown where the widget cannot be. */
class FallbackRenderer extends Panel implements IRenderMime.IRenderer {
  constructor(
    factory: IRenderMime.IRendererFactory,
    private _options: IRenderMime.IRendererOptions,
    private _binding: IBinding
  ) {
    super();
    this.addClass('sm-WidgetOrSnapshot');
    this.node.dataset.mimeType = WIDGET_MIME;
    // Made before the notebook's widget manager: an output of the saved notebook.
    this._early = !_binding.bound;
    if (this._early) {
      _binding.waiting.add(this);
    }
    this._setInner(factory.createRenderer(_options));
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    this._model = model;
    const html = model.data['text/html'];
    let snapshot = typeof html === 'string' && html.includes(SNAPSHOT_MARK) ? html : null;
    if (snapshot && !model.trusted) {
      // A notebook from elsewhere: its HTML goes through Lab's sanitizer, as Lab would.
      snapshot = this._options.sanitizer ? this._options.sanitizer.sanitize(snapshot) : null;
    }
    if (snapshot !== this._snapshot) {
      this._snapshot = snapshot;
      this._view?.dispose();
      this._view = null;
    }
    if (snapshot && this._timer === null) {
      // "Loading widget..." for good: the manager never finds the model.
      this._timer = window.setTimeout(() => {
        this._stale = true;
        this._check();
      }, LOADING_GRACE_MS);
    }
    this._check();
    await this._renderInner();
  }

  /** Render again with a renderer of the factory bound to the widget manager. */
  rebind(factory: IRenderMime.IRendererFactory): void {
    if (this.isDisposed) {
      return;
    }
    this._setInner(factory.createRenderer(this._options));
    if (this._model) {
      this._renderInner().catch(error => console.error(error));
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._binding.waiting.delete(this);
    this._observer?.disconnect();
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
    }
    super.dispose();
  }

  private _setInner(inner: IRenderMime.IRenderer): void {
    this._inner?.dispose();
    this._inner = inner;
    this.insertWidget(0, inner); // a Lumino child: the widget view learns it is attached
    this._observer?.disconnect();
    // The widget manager may answer later (restored state), or the kernel may go away.
    this._observer = new MutationObserver(() => this._check());
    this._observer.observe(inner.node, {
      childList: true,
      subtree: true,
      characterData: true,
      attributes: true,
      attributeFilter: ['class']
    });
    this._check();
  }

  private async _renderInner(): Promise<void> {
    const inner = this._inner;
    if (!inner || !this._model) {
      return;
    }
    try {
      await inner.renderModel(this._model);
    } catch (error) {
      if (!this._snapshot) {
        throw error;
      }
    }
    // Only a renderer with a manager gets here (a placeholder's waits for good): the
    // factory is bound even if we wrapped it after jupyterlab-manager added it.
    this._binding.bound = true;
    this._binding.waiting.delete(this);
    if (inner === this._inner) {
      this._check();
    }
  }

  private _check(): void {
    const inner = this._inner;
    if (!inner || !this._snapshot || this.isDisposed) {
      return;
    }
    const node = inner.node;
    const text = (node.textContent ?? '').trim();
    const missing = /^Error displaying widget/.test(text);
    const live = !missing && !/^Loading widget/.test(text) && node.firstElementChild !== null;
    this._showSnapshot(missing || (!live && (this._early || this._stale)));
    const disconnected =
      node.querySelector('.jupyter-widgets-disconnected') !== null ||
      node.classList.contains('jupyter-widgets-disconnected');
    if (live && disconnected && !this._noted) {
      // The kernel went away: the view stays (it is the latest state) but says so.
      this._noted = true;
      const name = /%sm_watch ([^<\s]+)/.exec(this._snapshot)?.[1] ?? 'NAME';
      const note = new Widget();
      note.addClass('sm-Snapshot-note');
      note.node.textContent = `The kernel that drew this view is gone: it no longer updates. %sm_watch ${name} shows a live one.`;
      this.addWidget(note);
    }
  }

  /** Show the snapshot instead of the widget renderer, or the renderer again. */
  private _showSnapshot(show: boolean): void {
    if (show && !this._view && this._snapshot) {
      const view = new Widget();
      view.addClass('sm-Snapshot');
      view.node.innerHTML = this._snapshot; // trusted, or sanitized in renderModel
      this._view = view;
      this.addWidget(view);
    }
    this._view?.setHidden(!show);
    this._inner?.setHidden(show);
  }

  private _early: boolean;
  private _inner: IRenderMime.IRenderer | null = null;
  private _model: IRenderMime.IMimeModel | null = null;
  private _observer: MutationObserver | null = null;
  private _snapshot: string | null = null;
  private _view: Widget | null = null;
  private _timer: number | null = null;
  private _noted = false;
  private _stale = false;
}
