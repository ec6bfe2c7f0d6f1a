import { describe, expect, it } from "vitest";
import { JITTER, backoffMs } from "./backoff";

describe("backoffMs", () => {
  it("doubles from the first wait up to the ceiling", () => {
    const middle = () => 0.5;
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffMs(n, 2_000, 20_000, middle))).toEqual([
      2_000, 4_000, 8_000, 16_000, 20_000, 20_000,
    ]);
  });

  it("spreads each wait by the jitter either way", () => {
    expect(backoffMs(1, 2_000, 20_000, () => 0)).toBe(2_000 * (1 - JITTER));
    expect(backoffMs(1, 2_000, 20_000, () => 1)).toBe(2_000 * (1 + JITTER));
    expect(backoffMs(9, 2_000, 20_000, () => 1)).toBe(20_000 * (1 + JITTER));
  });

  it("takes no failure yet as the first", () => {
    expect(backoffMs(0, 1_500, 10_000, () => 0.5)).toBe(1_500);
  });
});
