// `vggt-engine bench-kernels --global-attention`: one VGGT-1B global attention layer at many
// frames, for every attention variant (dense fp32/bf16 flash, and the many-frame options).
#pragma once
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace vggt {

struct GlobalAttentionBenchOptions {
  std::vector<int> frames = {25, 100, 200};
  int heads = 1;  // heads actually computed; times are scaled to VGGT-1B's 16 (heads are independent)
  bool json = false;
  bool fp32 = true;  // also time the dense fp32 flash kernel
};

nlohmann::json bench_global_attention(const GlobalAttentionBenchOptions& o);

}  // namespace vggt
