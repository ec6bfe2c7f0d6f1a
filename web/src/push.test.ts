import { describe, expect, it } from "vitest";
import { base64UrlToBytes, deviceState, isAppleMobile, type DeviceFacts } from "./push";

describe("base64UrlToBytes", () => {
  it("reads base64url without padding, as the server gives its key", () => {
    // 0xfb 0xff 0xfe: '+' and '/' in plain base64, '-' and '_' in base64url.
    expect([...base64UrlToBytes("-__-")]).toEqual([0xfb, 0xff, 0xfe]);
    expect([...base64UrlToBytes("AQ")]).toEqual([1]);
    expect([...base64UrlToBytes("AQI")]).toEqual([1, 2]);
  });

  it("takes padding too", () => {
    expect([...base64UrlToBytes("AQ==")]).toEqual([1]);
  });

  it("gives the 65 bytes of an uncompressed P-256 key", () => {
    const key = "BN" + "A".repeat(85);
    const bytes = base64UrlToBytes(key);
    expect(bytes.length).toBe(65);
    expect(bytes[0]).toBe(4);
  });
});

describe("deviceState", () => {
  const facts: DeviceFacts = {
    supported: true,
    permission: "granted",
    subscribed: true,
    serverDevices: 1,
    appleMobile: false,
    standalone: false,
  };

  it("is on only with the permission, a subscription here and the server holding one", () => {
    expect(deviceState(facts)).toBe("on");
    expect(deviceState({ ...facts, subscribed: false })).toBe("off");
    expect(deviceState({ ...facts, permission: "default" })).toBe("off");
    // The server dropped it (expired, or someone else turned notifications on in this browser).
    expect(deviceState({ ...facts, serverDevices: 0 })).toBe("off");
  });

  it("says when the browser blocks notifications", () => {
    expect(deviceState({ ...facts, permission: "denied" })).toBe("denied");
    expect(deviceState({ ...facts, permission: "denied", subscribed: false })).toBe("denied");
  });

  it("sends an iPhone in Safari to the Home Screen first", () => {
    const safari = { ...facts, supported: false, permission: "default" as const, subscribed: false };
    expect(deviceState({ ...safari, appleMobile: true })).toBe("home-screen");
    // Added to the Home Screen and still without push: too old an iOS.
    expect(deviceState({ ...safari, appleMobile: true, standalone: true })).toBe("unsupported");
    expect(deviceState(safari)).toBe("unsupported");
  });
});

describe("isAppleMobile", () => {
  it("knows iPhones and iPads, including iPadOS calling itself a Mac", () => {
    expect(isAppleMobile("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)", "iPhone", 5)).toBe(true);
    expect(isAppleMobile("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)", "MacIntel", 5)).toBe(true);
    expect(isAppleMobile("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)", "MacIntel", 0)).toBe(false);
    expect(isAppleMobile("Mozilla/5.0 (Linux; Android 14; Pixel 8)", "Linux armv8l", 5)).toBe(false);
  });
});
