import { describe, expect, it } from "vitest";
import { fullTime, relativeTime } from "./time";

const now = new Date(2025, 5, 15, 12, 0, 0).getTime();
const min = 60_000;
const hour = 60 * min;

describe("relativeTime", () => {
  it("says just now for the last seconds and for future clocks", () => {
    expect(relativeTime(now, now)).toBe("just now");
    expect(relativeTime(now - 30_000, now)).toBe("just now");
    expect(relativeTime(now + 5 * min, now)).toBe("just now");
  });
  it("counts minutes and hours", () => {
    expect(relativeTime(now - 50_000, now)).toBe("1 min ago");
    expect(relativeTime(now - 2 * min, now)).toBe("2 min ago");
    expect(relativeTime(now - 59 * min, now)).toBe("59 min ago");
    expect(relativeTime(now - hour, now)).toBe("1 h ago");
    expect(relativeTime(now - 11 * hour, now)).toBe("11 h ago");
  });
  it("uses calendar days after a day", () => {
    expect(relativeTime(new Date(2025, 5, 14, 8, 0).getTime(), now)).toBe("yesterday");
    expect(relativeTime(new Date(2025, 5, 11, 8, 0).getTime(), now)).toBe("4 days ago");
  });
  it("gives a date after a week, with the year when it differs", () => {
    expect(relativeTime(new Date(2025, 2, 12, 9, 0).getTime(), now)).toBe("12 Mar");
    expect(relativeTime(new Date(2023, 2, 12, 9, 0).getTime(), now)).toBe("12 Mar 2023");
  });
});

describe("fullTime", () => {
  it("reads day, month, year and time in local time", () => {
    const ms = new Date(2026, 10, 28, 9, 5).getTime();
    expect(fullTime(ms)).toBe("28 Nov 2026, 09:05");
  });
});
