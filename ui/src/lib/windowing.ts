// Which rows of a long list to render: only those in view, plus a few either side, so that
// ten thousand notes cost what thirty do. Rows have one fixed height.

/** The slice of rows to render and where it sits. */
export interface Window {
  /** First row to render. */
  start: number;
  /** One past the last row to render. */
  end: number;
  /** Pixels from the top of the list to the first rendered row. */
  offset: number;
  /** Height of the whole list, in pixels. */
  total: number;
}

/** Rows rendered above and below the visible ones, so that scrolling a little shows no gap. */
export const OVERSCAN = 6;

/** How close (in rows) the rendered rows may come to the end of those held before a list that
 * holds only its first rows asks for more: about a screen ahead, so that they are there before
 * they are scrolled into view. */
export const NEAR_END = 20;

/** Whether a window of rendered rows comes within `NEAR_END` rows of the last of `count` held. */
export function nearEnd(win: Window, count: number): boolean {
  return count > 0 && win.end >= count - NEAR_END;
}

/** The rows to render for a viewport `height` pixels tall scrolled to `scrollTop`. */
export function visibleWindow(
  scrollTop: number,
  height: number,
  rowHeight: number,
  count: number,
  overscan: number = OVERSCAN,
): Window {
  const total = count * rowHeight;
  if (count === 0 || rowHeight <= 0) return { start: 0, end: 0, offset: 0, total };
  const top = Math.max(0, Math.min(scrollTop, Math.max(0, total - height)));
  const first = Math.floor(top / rowHeight);
  const last = Math.ceil((top + Math.max(height, 0)) / rowHeight);
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, Math.max(last, first + 1) + overscan);
  return { start, end, offset: start * rowHeight, total };
}

/** The scroll position that shows row `index` whole, moving as little as possible. */
export function scrollToReveal(
  index: number,
  scrollTop: number,
  height: number,
  rowHeight: number,
): number {
  const top = index * rowHeight;
  const bottom = top + rowHeight;
  if (top < scrollTop) return top;
  if (bottom > scrollTop + height) return Math.max(0, bottom - height);
  return scrollTop;
}

/** The row index after a key press in a list of `count` rows (`page` rows per page), or null
 * when the key does not move. */
export function moveIndex(key: string, index: number, count: number, page: number): number | null {
  if (count === 0) return null;
  const clamp = (i: number) => Math.max(0, Math.min(count - 1, i));
  switch (key) {
    case "ArrowDown":
      return clamp(index < 0 ? 0 : index + 1);
    case "ArrowUp":
      return clamp(index < 0 ? 0 : index - 1);
    case "PageDown":
      return clamp(index + Math.max(1, page));
    case "PageUp":
      return clamp(index - Math.max(1, page));
    case "Home":
      return 0;
    case "End":
      return count - 1;
    default:
      return null;
  }
}
