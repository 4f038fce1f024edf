// vggt-engine: the native VGGT inference engine's command line.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/calibrate.h"
#include "bench/kernels_bench.h"
#include "core/cpu_features.h"
#include "core/version.h"
#include "runtime/describe.h"
#include "bench/mpi_link_bench.h"
#include "cli/commands.h"
#include "runtime/model_setup.h"
#include "model/vggt_model.h"
#include "server/serve.h"

static void usage() {
  std::fprintf(stderr,
               "usage: vggt-engine <command> [options]\n"
               "  infer       --weights W | --random-weights  [--config C] (--input-tensor T | --images F... [--preprocess crop|pad])\n"
               "              --out O.safetensors [--threads N] [--options a,b,...] [--debug] [--exif]\n"
               "              [--query-points Q.json|Q.safetensors [--query-space model|original] | --track-grid N]\n"
               "              (point tracks from frame 0: track, vis, conf; see docs/TRACKING.md)\n"
               "  preprocess  --images F... --mode crop|pad --out O.safetensors [--exif]\n"
               "  bench       [--weights W] [--config C] [--frames N] [--images DIR [--preprocess crop|pad]] [--threads N] [--repeats R] [--json]\n"
               "  bench       --cumulative | --ab OPTS_A OPTS_B   (optimization table / interleaved A/B)\n"
               "  bench       ... --memory-trace  (peak RSS / tensors / cache at every layer: where memory goes)\n"
               "  bench-kernels [--json]  (machine GEMM rates per dtype, Linear kernels, attention naive vs flash)\n"
               "  calibrate   [--json] [--threads N]  (a few seconds: which default candidate -- fastest-exact, all,\n"
               "              fastest-int8 = all,w8a8, int8-fp32 = all,-bf16,w8a8 -- is fastest on this CPU inside the\n"
               "              official bf16 accuracy bound;\n"
               "              infer runs the exact path unless --options says otherwise)\n"
               "  bench-mpi   [--mb M]  (under mpirun: link latency, bandwidth, all-to-all of M MB per rank)\n"
               "  validate    --weights W [--config C]\n"
               "  convert     (--weights W | --random-weights) [--config C] --to f32|bf16|int8 --out F.safetensors [--options w8a8=SCOPE,w8a8.outliers=M]\n"
               "  serve       (framed stdio protocol, see docs/ENGINE-PROTOCOL.md)\n"
               "  describe    --json  (options, presets, the built-in config and parameter table: docs/ENGINE-VOCABULARY.md)\n"
               "  version     [--json]\n");
}

int main(int argc, char** argv) {
  if (argc < 2) {
    usage();
    return 2;
  }
  const std::string cmd = argv[1];
  try {
    if (cmd == "infer") return vggt::cli::infer_main(argc, argv);
    if (cmd == "preprocess") return vggt::cli::preprocess_main(argc, argv);
    if (cmd == "bench") return vggt::cli::bench_main(argc, argv);
    if (cmd == "validate") return vggt::cli::validate_main(argc, argv);
    if (cmd == "convert") return vggt::cli::convert_main(argc, argv);
    if (cmd == "serve") return serve_main(argc, argv);
    if (cmd == "calibrate") return vggt::calibrate_main(argc - 1, argv + 1);
    if (cmd == "bench-kernels") return kernels_bench_main(argc - 1, argv + 1);
    if (cmd == "bench-mpi") return mpi_link_bench_main(argc - 1, argv + 1);
    if (cmd == "describe") {
      if (argc != 3 || std::string(argv[2]) != "--json") {
        std::fprintf(stderr, "usage: vggt-engine describe --json\n");
        return 2;
      }
      // Options, presets, the built-in config and parameter table (docs/ENGINE-VOCABULARY.md).
      std::printf("%s\n", vggt::runtime::describe_json().dump().c_str());
      return 0;
    }
    if (cmd == "version") {
      if (argc > 2 && std::string(argv[2]) == "--json") {
        // The app reads this to decide which features to offer (docs/ENGINE-PROTOCOL.md).
        std::printf("{\"version\": \"%s\", \"cpu\": %s, \"mpi\": %s, \"parallel_modes\": [%s], \"isa\": \"%s\", \"options\": %s}\n",
                    vggt::engine_version(), nlohmann::json(vggt::cpu_model_name()).dump().c_str(), vggt::runtime::mpi_available() ? "true" : "false",
                    vggt::runtime::mpi_available() ? "\"ulysses\", \"ring\"" : "", vggt::runtime::isa_summary().c_str(),
                    vggt::option_table_json().dump().c_str());
        return 0;
      }
      std::printf("vggt-engine %s\n", vggt::engine_version());
      return 0;
    }
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      usage();
      return 0;
    }
    std::fprintf(stderr, "vggt-engine: unknown command '%s'\n", cmd.c_str());
    usage();
    return 2;
  } catch (const vggt::CancelledError&) {
    std::fprintf(stderr, "vggt-engine %s: cancelled\n", cmd.c_str());
    return 130;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vggt-engine %s: error: %s\n", cmd.c_str(), e.what());
    return 1;
  }
}
