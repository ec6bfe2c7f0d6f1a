// Links in messages, the tokenizer: which addresses become links, where they end, where they
// lead, and that hostile text stays text.
import { describe, expect, it } from "vitest";
import { linkTokens, safeHref, withoutTrailing, type LinkToken } from "./links";

const text = (value: string): LinkToken => ({ kind: "text", text: value });
const link = (value: string, href = value): LinkToken => ({ kind: "link", text: value, href });

/** What the tokens say, joined: always the text itself. */
function joined(tokens: LinkToken[]): string {
  return tokens.map((token) => token.text).join("");
}

function links(body: string): string[] {
  return linkTokens(body)
    .filter((token) => token.kind === "link")
    .map((token) => token.text);
}

describe("link tokens", () => {
  it("make http and https addresses links, the rest text", () => {
    expect(linkTokens("see https://example.org/a?b=1#c now")).toEqual([
      text("see "),
      link("https://example.org/a?b=1#c"),
      text(" now"),
    ]);
    expect(linkTokens("http://example.org")).toEqual([link("http://example.org", "http://example.org/")]);
    expect(linkTokens("no address here")).toEqual([text("no address here")]);
    expect(linkTokens("")).toEqual([text("")]);
  });

  it("give the text back whole, whatever it holds", () => {
    for (const body of [
      "a https://x.org. b (https://y.org/p_(q)) c",
      "javascript:alert(1) https://ok.org",
      'https://x.org/"onmouseover=alert(1)',
      "<script>alert(1)</script> https://x.org/<script>",
      "https://bank.example@evil.example and more",
    ]) {
      expect(joined(linkTokens(body))).toBe(body);
    }
  });

  it("leave every other scheme as text", () => {
    for (const body of [
      "javascript:alert(1)",
      "JaVaScRiPt:alert(document.cookie)",
      "data:text/html,<script>alert(1)</script>",
      "vbscript:msgbox(1)",
      "file:///etc/passwd",
      "ftp://files.example.org/x",
      "mailto:someone@example.org",
      "<script>alert(1)</script>",
      "<a href=\"javascript:alert(1)\">click</a>",
    ]) {
      expect(linkTokens(body)).toEqual([text(body)]);
    }
  });

  it("end an address at a quote or an angle bracket, so nothing can be added to the link", () => {
    expect(linkTokens('https://x.org/"onmouseover=alert(1)')).toEqual([
      link("https://x.org/"),
      text('"onmouseover=alert(1)'),
    ]);
    expect(linkTokens("https://x.org/<script>alert(1)</script>")).toEqual([
      link("https://x.org/"),
      text("<script>alert(1)</script>"),
    ]);
    expect(links("`https://x.org/a`")).toEqual(["https://x.org/a"]);
  });

  it("do not start inside a word", () => {
    expect(links("xhttps://x.org")).toEqual([]);
    expect(links("text,https://x.org")).toEqual(["https://x.org"]);
  });

  it("leave out trailing punctuation and closing brackets the address did not open", () => {
    expect(links("Read https://x.org/guide.")).toEqual(["https://x.org/guide"]);
    for (const mark of [".", ",", ";", ":", "!", "?", "'", "?!", "..."]) {
      expect(links(`https://x.org/a${mark}`)).toEqual(["https://x.org/a"]);
    }
    expect(links("(see https://x.org/a)")).toEqual(["https://x.org/a"]);
    expect(links("[https://x.org/a]")).toEqual(["https://x.org/a"]);
    expect(links("{https://x.org/a}")).toEqual(["https://x.org/a"]);
    expect(links("https://en.wikipedia.org/wiki/Fear_(film)")).toEqual(["https://en.wikipedia.org/wiki/Fear_(film)"]);
    expect(links("(https://en.wikipedia.org/wiki/Fear_(film)).")).toEqual(["https://en.wikipedia.org/wiki/Fear_(film)"]);
    expect(withoutTrailing("https://x.org/a?b=c.")).toBe("https://x.org/a?b=c");
  });

  it("show an IDN as written and lead where the URL parser takes it", () => {
    expect(linkTokens("https://bücher.example/straße")).toEqual([
      link("https://bücher.example/straße", "https://xn--bcher-kva.example/stra%C3%9Fe"),
    ]);
    expect(linkTokens("HTTPS://EXAMPLE.ORG/A")).toEqual([link("HTTPS://EXAMPLE.ORG/A", "https://example.org/A")]);
  });

  it("keep as text an address that hides its host", () => {
    expect(links("https://bank.example@evil.example/login")).toEqual([]);
    expect(links("https://user:secret@example.org")).toEqual([]);
    // A right-to-left override or a zero-width space makes an address read as another.
    expect(links("https://example.org/\u202Egpj.exe")).toEqual([]);
    expect(links("https://exa\u200Bmple.org")).toEqual([]);
    expect(links("https://")).toEqual([]);
    expect(links("https://./")).toEqual([]);
  });

  it("keep a very long address whole", () => {
    const long = `https://example.org/${"a".repeat(3000)}`;
    expect(links(`${long} end`)).toEqual([long]);
  });

  it("find every address in a text", () => {
    expect(links("https://a.org and http://b.org, then https://c.org!")).toEqual([
      "https://a.org",
      "http://b.org",
      "https://c.org",
    ]);
  });
});

describe("safe hrefs", () => {
  it("are http or https only", () => {
    expect(safeHref("https://x.org")).toBe("https://x.org/");
    expect(safeHref("javascript:alert(1)")).toBeNull();
    expect(safeHref("data:text/html,hi")).toBeNull();
    expect(safeHref("not a url")).toBeNull();
  });
});
