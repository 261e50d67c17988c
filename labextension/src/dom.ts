/**
 * Small DOM helpers of the panel's views, and the text fitter that shortens a name in its
 * middle to the pixels it really has.
 */
import { LabIcon } from '@jupyterlab/ui-components';

import { fitMiddle } from './format';

/** Create an element with a class and optional text. */
export function el(tag: string, className: string, text?: string): HTMLElement {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** Set a node's text only when it changed (no needless layout on every refresh). */
export function setText(node: HTMLElement, text: string): void {
  if (node.textContent !== text) {
    node.textContent = text;
  }
}

/** A small icon button; its label is its tooltip and its accessible name. */
export function button(icon: LabIcon, className: string, label: string): HTMLButtonElement {
  const node = el('button', `sm-Item-action ${className}`) as HTMLButtonElement;
  node.type = 'button';
  node.title = label;
  node.setAttribute('aria-label', label);
  icon.element({
    container: node,
    tag: 'span',
    elementPosition: 'center',
    height: '16px',
    width: '16px'
  });
  return node;
}

/** A small text button (Approve…, Lineage) in the panel's minimal style. */
export function textButton(className: string, label: string, tooltip: string): HTMLButtonElement {
  const node = el('button', `sm-Item-textAction jp-Button jp-mod-minimal ${className}`, label);
  (node as HTMLButtonElement).type = 'button';
  node.title = tooltip;
  return node as HTMLButtonElement;
}

/**
 * Measures text in a font with a canvas, so a long name is cut in its middle to the width
 * it really has: a guess per character cut too little (CSS then cut the end, the part that
 * tells generated names apart) or too much. Without a canvas (jsdom) it guesses 7 px a
 * character, as before.
 */
export class TextFitter {
  /** The width of `text` in CSS pixels in `font` (a CSS `font` shorthand). */
  measure(text: string, font: string): number {
    const context = this._context();
    if (!context) {
      return text.length * 7;
    }
    if (context.font !== font) {
      context.font = font;
    }
    return context.measureText(text).width;
  }

  /** `text`, or its middle cut with "…", so that it fits in `width` pixels of `font`. */
  fit(text: string, width: number, font: string): string {
    const key = `${font}|${Math.floor(width)}|${text}`;
    let fitted = this._cache.get(key);
    if (fitted === undefined) {
      fitted = fitMiddle(text, width, t => this.measure(t, font));
      if (this._cache.size > 5000) {
        this._cache.clear();
      }
      this._cache.set(key, fitted);
    }
    return fitted;
  }

  private _context(): CanvasRenderingContext2D | null {
    if (this._canvas === undefined) {
      this._canvas = null;
      // jsdom has canvases without a 2-D context (and says so on the console): skip it.
      if (typeof navigator === 'undefined' || !/jsdom/i.test(navigator.userAgent)) {
        try {
          this._canvas = document.createElement('canvas').getContext('2d');
        } catch {
          this._canvas = null;
        }
      }
    }
    return this._canvas;
  }

  private _canvas: CanvasRenderingContext2D | null | undefined = undefined;
  private _cache = new Map<string, string>();
}

/** The CSS `font` shorthand an element is drawn in (weight, size, family). */
export function fontOf(node: Element, weight?: string): string {
  const style = getComputedStyle(node);
  return `${weight ?? style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
}
