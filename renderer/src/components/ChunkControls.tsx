// Chunked reconstruction (RunOptions.chunk): engine passes of K frames sharing O frames, aligned
// and merged into one result (docs/CHUNKED.md). Memory is that of one chunk.
import { setOptions, useStore } from "../store";

export function ChunkControls() {
  const chunk = useStore((s) => s.options.chunk);
  const frames = useStore((s) => s.frames.filter((f) => f.included).length);
  const set = (size: number, overlap: number) => setOptions({ chunk: { size: Math.max(2, Math.round(size) || 2), overlap: Math.max(1, Math.round(overlap) || 1) } });
  const chunks = chunk && chunk.size < frames && chunk.overlap < chunk.size ? Math.ceil((frames - chunk.overlap) / (chunk.size - chunk.overlap)) : 1;
  return (
    <div className="row wrap" data-testid="chunk-controls">
      <label title="Run the frames in overlapping chunks, one engine pass each, aligned by a similarity transform on the shared frames: memory stays that of one chunk">
        <input type="checkbox" data-testid="chunk-toggle" checked={!!chunk} onChange={(e) => setOptions({ chunk: e.target.checked ? { size: 25, overlap: 5 } : undefined })} /> Chunked
      </label>
      {chunk && (
        <>
          <label>
            frames per chunk <input data-testid="chunk-size" type="number" min={2} value={chunk.size} onChange={(e) => set(Number(e.target.value), chunk.overlap)} style={{ width: "4em" }} />
          </label>
          <label>
            shared <input data-testid="chunk-overlap" type="number" min={1} max={chunk.size - 1} value={chunk.overlap} onChange={(e) => set(chunk.size, Number(e.target.value))} style={{ width: "3.5em" }} />
          </label>
          <span className="hint" data-testid="chunk-count">
            {chunk.overlap >= chunk.size ? "the shared frames must be fewer than the chunk's" : `${chunks} chunk${chunks === 1 ? "" : "s"}`}
          </span>
        </>
      )}
    </div>
  );
}
