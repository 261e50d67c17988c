// jsdom has no DragEvent; @lumino/dragdrop (imported by @lumino/widgets) extends it.
if (typeof globalThis.DragEvent === 'undefined') {
  globalThis.DragEvent = class DragEvent extends MouseEvent {};
}
