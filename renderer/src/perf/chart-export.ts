// Chart exports: the rendered SVG drawn onto a canvas (PNG, with the chart's title and legend,
// which live outside the SVG), and files handed to the browser as downloads.

export function downloadBlob(blob: Blob, fileName: string): void {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = fileName;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

export function downloadText(text: string, fileName: string, mime = "text/csv"): void {
  downloadBlob(new Blob([text], { type: `${mime};charset=utf-8` }), fileName);
}

export interface PngOptions {
  title: string;
  legend: { label: string; color: string }[];
  background: string;
  text: string;
  /** Device pixels per CSS pixel of the output. */
  scale?: number;
}

function loadImage(url: string): Promise<HTMLImageElement> {
  return new Promise((ok, fail) => {
    const img = new Image();
    img.onload = () => ok(img);
    img.onerror = () => fail(new Error("the chart could not be rendered to an image"));
    img.src = url;
  });
}

/** PNG of a chart's <svg>, with a title line above and the legend below. */
export async function svgToPng(svg: SVGSVGElement, opts: PngOptions): Promise<Blob> {
  const scale = opts.scale ?? 2;
  const { width, height } = svg.getBoundingClientRect();
  const clone = svg.cloneNode(true) as SVGSVGElement;
  clone.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  clone.setAttribute("width", String(width));
  clone.setAttribute("height", String(height));
  // Text in the page inherits its font from CSS; the standalone SVG needs it spelled out.
  clone.setAttribute("font-family", getComputedStyle(svg).fontFamily || "sans-serif");
  clone.setAttribute("font-size", "12");
  const url = URL.createObjectURL(new Blob([new XMLSerializer().serializeToString(clone)], { type: "image/svg+xml" }));
  try {
    const img = await loadImage(url);
    const titleH = 28;
    const rowH = 18;
    const canvas = document.createElement("canvas");
    const ctx0 = canvas.getContext("2d")!;
    ctx0.font = "12px sans-serif";
    // Lay the legend out in lines that fit the width.
    const lines: { label: string; color: string; x: number }[][] = [[]];
    let x = 10;
    for (const item of opts.legend) {
      const w = 18 + ctx0.measureText(item.label).width + 16;
      if (x + w > width && lines[lines.length - 1].length) {
        lines.push([]);
        x = 10;
      }
      lines[lines.length - 1].push({ ...item, x });
      x += w;
    }
    const legendH = opts.legend.length ? lines.length * rowH + 8 : 0;
    canvas.width = Math.ceil(width * scale);
    canvas.height = Math.ceil((titleH + height + legendH) * scale);
    const ctx = canvas.getContext("2d")!;
    ctx.scale(scale, scale);
    ctx.fillStyle = opts.background;
    ctx.fillRect(0, 0, width, titleH + height + legendH);
    ctx.fillStyle = opts.text;
    ctx.font = "bold 14px sans-serif";
    ctx.textBaseline = "middle";
    ctx.fillText(opts.title, 10, titleH / 2);
    ctx.drawImage(img, 0, titleH, width, height);
    ctx.font = "12px sans-serif";
    lines.forEach((line, i) => {
      const y = titleH + height + 4 + i * rowH + rowH / 2;
      for (const item of line) {
        ctx.fillStyle = item.color;
        ctx.fillRect(item.x, y - 5, 12, 10);
        ctx.fillStyle = opts.text;
        ctx.fillText(item.label, item.x + 18, y);
      }
    });
    return await new Promise<Blob>((ok, fail) => canvas.toBlob((b) => (b ? ok(b) : fail(new Error("PNG encoding failed"))), "image/png"));
  } finally {
    URL.revokeObjectURL(url);
  }
}
