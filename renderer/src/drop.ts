// Collects dropped files, descending one level into dropped folders (like the folder scan).
export interface PickedFile {
  file: File;
  relativePath: string;
}

function readEntries(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  return new Promise((ok, fail) => reader.readEntries(ok, fail));
}

function entryFile(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((ok, fail) => entry.file(ok, fail));
}

export async function collectDropped(dt: DataTransfer, mode: "electron" | "web"): Promise<PickedFile[]> {
  // Electron resolves a dropped folder to its path, and the services scan it themselves.
  if (mode === "electron") return Array.from(dt.files).map((file) => ({ file, relativePath: file.name }));
  const entries = Array.from(dt.items)
    .map((i) => (i.kind === "file" ? i.webkitGetAsEntry?.() : null))
    .filter((e): e is FileSystemEntry => !!e);
  if (entries.length === 0) return Array.from(dt.files).map((file) => ({ file, relativePath: file.name }));
  const out: PickedFile[] = [];
  for (const entry of entries) {
    if (entry.isFile) out.push({ file: await entryFile(entry as FileSystemFileEntry), relativePath: entry.name });
    else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      // readEntries returns batches until an empty one.
      for (let batch = await readEntries(reader); batch.length; batch = await readEntries(reader))
        for (const child of batch)
          if (child.isFile && !child.name.startsWith(".")) out.push({ file: await entryFile(child as FileSystemFileEntry), relativePath: `${entry.name}/${child.name}` });
    }
  }
  return out;
}

export function fromInput(list: FileList | null): PickedFile[] {
  return Array.from(list ?? [])
    // Like the folder scan: files directly in the chosen folder, no subfolders.
    .filter((f) => !f.name.startsWith(".") && (f.webkitRelativePath || f.name).split("/").length <= 2)
    .map((file) => ({ file, relativePath: file.webkitRelativePath || file.name }));
}
