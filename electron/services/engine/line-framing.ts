// Splits the engine's stdout byte stream into lines. Works on bytes, so a multi-byte UTF-8
// character cut by a chunk boundary is decoded whole.

export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private dropping = false;

  /** @param maxLineBytes a longer line is dropped and reported through onOversized. */
  constructor(
    private readonly maxLineBytes = 64 << 20,
    private readonly onOversized: (prefix: string) => void = () => {},
  ) {}

  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      if (!this.dropping) {
        const piece = chunk.subarray(start, end);
        if (this.size + piece.length > this.maxLineBytes) {
          this.onOversized(Buffer.concat([...this.parts, piece]).subarray(0, 200).toString("utf8"));
          this.parts = [];
          this.size = 0;
          this.dropping = true;
        } else if (piece.length) {
          this.parts.push(piece);
          this.size += piece.length;
        }
      }
      if (nl < 0) break;
      if (!this.dropping) this.take(lines);
      this.dropping = false;
      start = nl + 1;
    }
    return lines;
  }

  /** End of stream: an unterminated last line still counts. */
  end(): string[] {
    const lines: string[] = [];
    if (!this.dropping) this.take(lines);
    this.dropping = false;
    return lines;
  }

  private take(out: string[]): void {
    let line = Buffer.concat(this.parts, this.size).toString("utf8");
    this.parts = [];
    this.size = 0;
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line.length) out.push(line);
  }
}

/** Keeps the last `maxBytes` of a text stream (the engine's stderr, for crash reports). */
export class TextTail {
  private text = "";
  constructor(private readonly maxBytes = 8192) {}
  push(s: string): void {
    this.text += s;
    if (this.text.length > 2 * this.maxBytes) this.text = this.text.slice(-this.maxBytes);
  }
  get value(): string {
    const t = this.text.length > this.maxBytes ? this.text.slice(-this.maxBytes) : this.text;
    return t.trimEnd();
  }
}
