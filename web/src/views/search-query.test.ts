import { describe, expect, it } from "vitest";
import { foundText, resultHash, searchHash, searchOf } from "./search-query";

describe("searchHash and searchOf", () => {
  it("keep the words and the room in the address, and read them back", () => {
    const hash = searchHash({ q: "  sleep & dreams ", roomId: 4 });
    expect(hash).toBe("#/search?q=sleep+%26+dreams&room=4");
    expect(searchOf(hash.split("?")[1])).toEqual({ q: "sleep & dreams", roomId: 4 });
  });

  it("leave out what is not asked, and ignore a room that is not an id", () => {
    expect(searchHash({ q: " ", roomId: null })).toBe("#/search");
    expect(searchOf("")).toEqual({ q: "", roomId: null });
    expect(searchOf("q=calm&room=four")).toEqual({ q: "calm", roomId: null });
  });
});

describe("resultHash", () => {
  it("opens the result's room at its message", () => {
    expect(resultHash({ room_id: 3, message_id: 1207 })).toBe("#/rooms/3?message=1207");
  });
});

describe("foundText", () => {
  it("says how many were found, and whether more are below", () => {
    expect(foundText(0, false)).toBe("No messages found.");
    expect(foundText(1, false)).toBe("1 message found.");
    expect(foundText(20, true)).toBe("The newest 20 messages found; more below.");
  });
});
