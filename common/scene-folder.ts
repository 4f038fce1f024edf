// Which files of a picked folder are the frames: the folder's own images, or, when it holds none,
// those of its `images/` subfolder (the official demo's scene layout: scene/images/*.jpg next to
// sparse/, depth/ ...). Pure: used by the Node scan and by the renderer's web-mode picker and drop.

export const IMAGE_EXTENSIONS: readonly string[] = [".png", ".jpg", ".jpeg"];
export const SCENE_IMAGES_SUBFOLDER = "images";

export function hasImageExtension(name: string): boolean {
  const dot = name.lastIndexOf(".");
  return dot >= 0 && IMAGE_EXTENSIONS.includes(name.slice(dot).toLowerCase());
}

/** Said when the subfolder is used instead of the picked folder. */
export function subfolderNote(folder: string): string {
  return `“${folder}” holds no images of its own: using its ${SCENE_IMAGES_SUBFOLDER}/ subfolder (the official demo's scene layout).`;
}

export interface FolderListing {
  /** File names directly in the folder (hidden ones already left out). */
  files: string[];
  /** Subfolder names directly in the folder. */
  folders: string[];
}

/** True when the folder's frames are in its `images/` subfolder rather than the folder itself. */
export function useImagesSubfolder(listing: FolderListing): boolean {
  return !listing.files.some(hasImageExtension) && listing.folders.some((f) => f === SCENE_IMAGES_SUBFOLDER);
}

/**
 * Web mode's folder picker hands over every file below the folder as "root/a/b.jpg". Keeps the
 * folder's own files, or those directly in root/images/ when the folder has no images itself.
 */
export function pickFromRelativePaths<T>(items: T[], path: (t: T) => string): { items: T[]; note?: string } {
  const parts = (t: T) => path(t).split("/");
  const top = items.filter((t) => parts(t).length <= 2);
  const folders = [...new Set(items.map(parts).filter((p) => p.length > 2).map((p) => p[1]))];
  const root = items.length ? parts(items[0])[0] : "";
  if (!useImagesSubfolder({ files: top.map((t) => parts(t).pop()!), folders })) return { items: top };
  return { items: items.filter((t) => parts(t).length === 3 && parts(t)[1] === SCENE_IMAGES_SUBFOLDER), note: subfolderNote(root) };
}
