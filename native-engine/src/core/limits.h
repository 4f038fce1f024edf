// Every limit a user's input can hit, in one place (docs/LIMITS.md lists them with the
// messages they produce). Values are chosen far above what VGGT-1B needs and far below
// what would exhaust memory or time on a desktop.
#pragma once
#include <cstdint>

namespace vggt::limits {

// Elements of one tensor (16 GiB of float32). VGGT-1B's largest weight has 4.2 M elements.
constexpr int64_t kMaxTensorElements = int64_t{1} << 32;
// Dimensions of one tensor.
constexpr int kMaxTensorRank = 8;

// Images: PIL's DecompressionBombError threshold (2 * Image.MAX_IMAGE_PIXELS) and an aspect
// ratio of at most 16:1 either way (the Node scanner applies the same two rules).
constexpr uint64_t kMaxImagePixels = 2ull * 89478485ull;
constexpr int kMaxAspectRatio = 16;
// Input tensors: frames of at most this many pixels a side (the model's positional grids
// are built per patch; 8192 = 585 patches a side).
constexpr int64_t kMaxInputSide = 8192;
constexpr int64_t kMaxFrames = 4096;

// Checkpoints. safetensors JSON header: size and nesting depth are checked before parsing.
constexpr uint64_t kMaxJsonHeaderBytes = uint64_t{100} << 20;
constexpr int kMaxJsonDepth = 64;
// .pt pickle VM: opcodes executed, values built, and dict entries visited while collecting
// tensors (shared references are counted each time they are visited).
// (VGGT-1B's data.pkl: ~1800 tensors, well under 100 k values.)
constexpr uint64_t kMaxPickleOps = uint64_t{1} << 25;
constexpr uint64_t kMaxPickleValues = uint64_t{1} << 21;
constexpr uint64_t kMaxStateDictVisits = uint64_t{1} << 20;
// Zip entries are inflated into buffers grown as data arrives, never beyond what deflate's
// best ratio (1032:1) allows for the compressed bytes, and the pickle entry at most this big.
constexpr uint64_t kMaxDeflateRatio = 1032;
constexpr uint64_t kMaxPickleBytes = uint64_t{64} << 20;
// A non-contiguous (e.g. stride-0 broadcast) view is copied out; the copy may exceed its
// storage by at most this many bytes.
constexpr uint64_t kMaxViewExpansionBytes = uint64_t{64} << 20;

// Config files (JSON) are small; anything bigger is not a config.
constexpr uint64_t kMaxConfigBytes = uint64_t{1} << 20;

// Threads: 0 means all cores; at most this many (parsing --threads and the protocol's
// options.threads). Oversubscription beyond it only slows inference down.
constexpr int kMaxThreads = 256;

}  // namespace vggt::limits
