import { describe, expect, it } from "vitest";
import { LineSplitter, TextTail } from "./line-framing.js";
import { encodeRequest, parseEvent } from "./protocol.js";

describe("LineSplitter", () => {
  it("reassembles lines split across chunks, including a UTF-8 character cut in half", () => {
    const s = new LineSplitter();
    const text = Buffer.from('{"type":"log","message":"Küche ✓"}\n{"type":"hello"}\n', "utf8");
    const cut = text.indexOf(Buffer.from("✓")) + 1; // inside the 3-byte character
    const lines = [...s.push(text.subarray(0, cut)), ...s.push(text.subarray(cut))];
    expect(lines).toEqual(['{"type":"log","message":"Küche ✓"}', '{"type":"hello"}']);
  });

  it("skips blank lines, strips CR, and flushes an unterminated last line at end()", () => {
    const s = new LineSplitter();
    expect(s.push(Buffer.from("\n\r\na\r\nb"))).toEqual(["a"]);
    expect(s.end()).toEqual(["b"]);
  });

  it("drops an oversized line, reports it once, and resynchronises on the next newline", () => {
    const reported: string[] = [];
    const s = new LineSplitter(10, (p) => reported.push(p));
    const lines = [...s.push(Buffer.from("x".repeat(8))), ...s.push(Buffer.from("x".repeat(8))), ...s.push(Buffer.from("xx\nok\n"))];
    expect(lines).toEqual(["ok"]);
    expect(reported).toHaveLength(1);
    expect(reported[0].startsWith("xxxxxxxx")).toBe(true);
  });
});

describe("protocol helpers", () => {
  it("encodes one request per line even when a path contains a newline", () => {
    const line = encodeRequest({ type: "infer", id: "j", images: ["a\nb.png"], output: "o" });
    expect(line.indexOf("\n")).toBe(line.length - 1);
    expect(JSON.parse(line).images).toEqual(["a\nb.png"]);
  });

  it("rejects lines that are not protocol events", () => {
    expect(() => parseEvent("hello world")).toThrow(/not JSON/);
    expect(() => parseEvent('{"type":"surprise"}')).toThrow(/unknown message/);
    expect(parseEvent('{"type":"error","id":null,"code":"bad_request","message":"m"}').type).toBe("error");
  });

  it("TextTail keeps the end of a long stream", () => {
    const t = new TextTail(16);
    for (let i = 0; i < 100; i++) t.push(`line ${i}\n`);
    expect(t.value.endsWith("line 99")).toBe(true);
    expect(t.value.length).toBeLessThanOrEqual(16);
  });
});
