import { describe, expect, it } from "vitest";
import { moveIndex, NEAR_END, nearEnd, scrollToReveal, visibleWindow } from "./windowing";

describe("visibleWindow", () => {
  it("renders the rows in view plus the overscan", () => {
    const w = visibleWindow(0, 560, 56, 10_000, 6);
    expect(w).toEqual({ start: 0, end: 16, offset: 0, total: 560_000 });
  });
  it("follows the scroll position", () => {
    const w = visibleWindow(56 * 1000 + 10, 560, 56, 10_000, 6);
    expect(w.start).toBe(994);
    expect(w.end).toBe(1017);
    expect(w.offset).toBe(994 * 56);
  });
  it("clamps at the end and on short lists", () => {
    const end = visibleWindow(1e9, 560, 56, 10_000, 6);
    expect(end.end).toBe(10_000);
    expect(end.start).toBe(10_000 - 10 - 6);
    expect(visibleWindow(0, 560, 56, 3, 6)).toEqual({ start: 0, end: 3, offset: 0, total: 168 });
    expect(visibleWindow(0, 560, 56, 0, 6)).toEqual({ start: 0, end: 0, offset: 0, total: 0 });
  });
  it("renders something before the height is known", () => {
    const w = visibleWindow(0, 0, 56, 100, 6);
    expect(w.end).toBeGreaterThan(0);
  });
  it("stays small for any list size", () => {
    for (const n of [10, 1000, 100_000]) {
      const w = visibleWindow(n * 28, 700, 56, n);
      expect(w.end - w.start).toBeLessThanOrEqual(Math.ceil(700 / 56) + 1 + 12);
    }
  });
});

describe("scrollToReveal", () => {
  it("does not move when the row is in view", () => {
    expect(scrollToReveal(2, 0, 560, 56)).toBe(0);
  });
  it("scrolls up to a row above", () => {
    expect(scrollToReveal(3, 560, 560, 56)).toBe(168);
  });
  it("scrolls down just enough for a row below", () => {
    expect(scrollToReveal(10, 0, 560, 56)).toBe(56);
  });
});

describe("moveIndex", () => {
  it("moves and clamps", () => {
    expect(moveIndex("ArrowDown", 0, 5, 3)).toBe(1);
    expect(moveIndex("ArrowDown", 4, 5, 3)).toBe(4);
    expect(moveIndex("ArrowUp", 0, 5, 3)).toBe(0);
    expect(moveIndex("ArrowDown", -1, 5, 3)).toBe(0);
    expect(moveIndex("PageDown", 0, 5, 3)).toBe(3);
    expect(moveIndex("PageUp", 4, 5, 3)).toBe(1);
    expect(moveIndex("Home", 3, 5, 3)).toBe(0);
    expect(moveIndex("End", 0, 5, 3)).toBe(4);
    expect(moveIndex("x", 0, 5, 3)).toBeNull();
    expect(moveIndex("ArrowDown", 0, 0, 3)).toBeNull();
  });
});

describe("nearEnd", () => {
  it("asks for more rows only when the rendered ones come near the end of those held", () => {
    // The first screen of a first page of 100 rows: far from its end.
    expect(nearEnd(visibleWindow(0, 560, 56, 100, 6), 100)).toBe(false);
    // Scrolled to row 70 of 100: within NEAR_END of the end.
    const w = visibleWindow(56 * 70, 560, 56, 100, 6);
    expect(w.end).toBeGreaterThanOrEqual(100 - NEAR_END);
    expect(nearEnd(w, 100)).toBe(true);
    // Nothing held: nothing to be near.
    expect(nearEnd(visibleWindow(0, 560, 56, 0, 6), 0)).toBe(false);
  });
});
