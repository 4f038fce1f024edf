// Compiled with the server layer's include tree by the Layering.ServerSeesTheLayersBelow test:
// must compile (server/ may use every layer below it), so the failing probes fail for the
// layering and not for a broken command line.
#include "core/tensor.h"
#include "io/safetensors.h"
#include "model/engine_options.h"
#include "ops/gemm.h"
#include "preprocess/preprocess.h"
#include "runtime/run_io.h"
#include "server/protocol.h"

int main() { return vggt::option_table().empty() ? 1 : 0; }
