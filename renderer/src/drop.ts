// Collects dropped files, descending one level into dropped folders (like the folder scan); a
// folder without images of its own but with an images/ subfolder gives that subfolder's files.
import { pickFromRelativePaths, subfolderNote, useImagesSubfolder, SCENE_IMAGES_SUBFOLDER } from "../../common/scene-folder";

export interface PickedFile {
  file: File;
  relativePath: string;
}

/** What a pick or a drop produced: the files, what was decided (notes), and what was empty. */
export interface Picked {
  files: PickedFile[];
  notes: string[];
  /** Picked or dropped folders that held no files at all. */
  emptyFolders: string[];
}

function readEntries(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  return new Promise((ok, fail) => reader.readEntries(ok, fail));
}

function entryFile(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((ok, fail) => entry.file(ok, fail));
}

async function readFolder(entry: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> {
  const reader = entry.createReader();
  const all: FileSystemEntry[] = [];
  // readEntries returns batches until an empty one.
  for (let batch = await readEntries(reader); batch.length; batch = await readEntries(reader)) all.push(...batch);
  return all.filter((e) => !e.name.startsWith("."));
}

export async function collectDropped(dt: DataTransfer, mode: "electron" | "web"): Promise<Picked> {
  const picked: Picked = { files: [], notes: [], emptyFolders: [] };
  // Electron resolves a dropped folder to its path, and the services scan it themselves.
  if (mode === "electron") return { ...picked, files: Array.from(dt.files).map((file) => ({ file, relativePath: file.name })) };
  const entries = Array.from(dt.items)
    .map((i) => (i.kind === "file" ? i.webkitGetAsEntry?.() : null))
    .filter((e): e is FileSystemEntry => !!e);
  if (entries.length === 0) return { ...picked, files: Array.from(dt.files).map((file) => ({ file, relativePath: file.name })) };
  for (const entry of entries) {
    if (entry.isFile) picked.files.push({ file: await entryFile(entry as FileSystemFileEntry), relativePath: entry.name });
    else if (entry.isDirectory) {
      let children = await readFolder(entry as FileSystemDirectoryEntry);
      let prefix = entry.name;
      const listing = { files: children.filter((c) => c.isFile).map((c) => c.name), folders: children.filter((c) => c.isDirectory).map((c) => c.name) };
      if (useImagesSubfolder(listing)) {
        const sub = children.find((c) => c.isDirectory && c.name === SCENE_IMAGES_SUBFOLDER) as FileSystemDirectoryEntry;
        children = await readFolder(sub);
        prefix = `${entry.name}/${SCENE_IMAGES_SUBFOLDER}`;
        picked.notes.push(subfolderNote(entry.name));
      }
      const files = children.filter((c) => c.isFile);
      if (files.length === 0 && children.length === 0) picked.emptyFolders.push(prefix);
      for (const child of files) picked.files.push({ file: await entryFile(child as FileSystemFileEntry), relativePath: `${prefix}/${child.name}` });
    }
  }
  return picked;
}

export function fromInput(list: FileList | null): Picked {
  const all = Array.from(list ?? [])
    .filter((f) => !(f.webkitRelativePath || f.name).split("/").some((part) => part.startsWith(".")))
    .map((file) => ({ file, relativePath: file.webkitRelativePath || file.name }));
  // Like the folder scan: files directly in the chosen folder, no subfolders (or its images/).
  const { items, note } = pickFromRelativePaths(all, (p) => p.relativePath);
  return { files: items, notes: note ? [note] : [], emptyFolders: [] };
}
