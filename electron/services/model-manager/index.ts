// Public API of the model manager (for the Electron main process and the CLI). See docs/MODELS.md.
export { ModelError, formatBytes, type ModelErrorCode } from "./errors.js";
export {
  appCacheDir,
  appDataDir,
  convertedCacheDir,
  hfHubCacheDir,
  manualModelsDir,
  repoCachePaths,
  repoFolderName,
} from "./paths.js";
export { cliProgressRenderer, formatProgressLine, type ProgressCallback, type ProgressEvent, type ProgressPhase } from "./progress.js";
export {
  DEFAULT_ENDPOINT,
  DEFAULT_FILENAME,
  DEFAULT_REPO,
  downloadModel,
  hashFile,
  offlineMessage,
  resolveHubSettings,
  resolveUrl,
  type DownloadOptions,
  type DownloadResult,
  type HubSettings,
} from "./hub-download.js";
export { findCachedFile, listCachedFiles, type CachedFile } from "./hub-cache.js";
export {
  assertValidCheckpoint,
  compareWithArchitecture,
  engineCheckpointCheck,
  parseEngineValidate,
  readSafetensorsHeader,
  validateCheckpoint,
  type TensorListing,
  type EngineCheck,
  type EngineCheckResult,
  type ValidateOptions,
  type ValidationReport,
} from "./validate.js";
export {
  CONVERT_TARGETS,
  cleanConvertedOrphans,
  convertCached,
  convertedKey,
  deleteConverted,
  engineConverter,
  engineVersion,
  findConverted,
  listConverted,
  sourceSha256,
  type ConvertOptions,
  type ConvertTarget,
  type ConvertedEntry,
  type ConvertedListing,
  type Converter,
} from "./convert-cache.js";
export {
  KNOWN_REPOS,
  RANDOM_WEIGHTS_LABEL,
  WEIGHT_FILENAMES,
  findLocalModel,
  listCached,
  modelLabel,
  resolveModel,
  type CachedModels,
  type ModelOrigin,
  type ModelSource,
  type ResolveOptions,
  type ResolvedModel,
} from "./resolve.js";
export { VGGT_1B_CONFIG, countParams, vggtParamSpecs, type ParamSpec, type VggtConfig } from "./vggt-params.js";
