#include "bench/global_attention_bench.h"

#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/engine_options.h"
#include "ops/flash_attention.h"
#include "ops/sparse_global_attention.h"

namespace vggt {
namespace {

constexpr int kHeads = 16, kD = 64, kDepth = 24;
// 518x350 kitchen frames: 25 x 37 patches, camera + 4 register tokens.
constexpr int kHp = 25, kWp = 37, kSpecial = 5;

// Process CPU seconds of one call: on a shared machine wall time measures the other tenants as
// much as the kernel; CPU time of our threads moves far less with their load. Both are kept.
double cpu_now() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}
double g_last_wall = 0;
double seconds(const std::function<void()>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = cpu_now();
  fn();
  const double c = cpu_now() - c0;
  g_last_wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return c;
}

std::vector<float> random_vec(size_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> nd;
  std::vector<float> v(n);
  for (auto& x : v) x = nd(g);
  return v;
}

}  // namespace

nlohmann::json bench_global_attention(const GlobalAttentionBenchOptions& o) {
  const EngineOptions defaults = parse_option_list("global-early-frame,global-kv-subsample,global-block-sparse", 0);
  const int K = defaults.early_frame.k;
  const int stride = defaults.kv_subsample.stride;
  const int first = defaults.kv_subsample.first, last = defaults.kv_subsample.last;
  const double keep = defaults.block_sparse.keep, cdf = defaults.block_sparse.cdf;
  // Under the defaults, VGGT-1B's 24 global layers split into these groups.
  const int n_frame = std::min(K, kDepth);
  const int n_kv = std::max(0, std::min(last, kDepth - 1) - std::max(first, n_frame) + 1);
  const int n_sparse = kDepth - n_frame - n_kv;
  const double scale_heads = static_cast<double>(kHeads) / o.heads;
  const float scale = 1.f / std::sqrt(static_cast<float>(kD));
  if (!o.json)
    std::printf("\nOne global attention layer, VGGT-1B (H=%d, D=%d), %dx%d patches + %d special tokens per frame;\n"
                "%d of %d heads computed, times scaled x%.0f; process CPU seconds (all threads). Defaults: early-frame k=%d, kv-subsample stride=%d "
                "layers %d-%d, block-sparse keep=%.2f cdf=%.2f -> %d frame / %d kv / %d block-sparse layers.\n"
                "%5s %7s | %9s %9s | %9s %9s %9s | %9s %7s\n",
                kHeads, kD, kHp, kWp, kSpecial, o.heads, kHeads, scale_heads, K, stride, first, last, keep, cdf, n_frame,
                n_kv, n_sparse, "S", "N", "fp32 s", "bf16 s", "frame s", "kv s", "sparse s", "mean s", "x bf16");
  nlohmann::json rows = nlohmann::json::array();
  for (int S : o.frames) {
    const ops::FrameLayout L{S, kSpecial + kHp * kWp, kSpecial, kHp, kWp};
    const int64_t N = L.tokens(), H = o.heads;
    const size_t n = static_cast<size_t>(H) * N * kD;
    const auto q = random_vec(n, 1), k = random_vec(n, 2), v = random_vec(n, 3);
    std::vector<float> out(n);
    const int iN = static_cast<int>(N), iH = static_cast<int>(H);
    double t_fp32 = -1;
    if (o.fp32) t_fp32 = scale_heads * seconds([&] { ops::flash_attention(q.data(), k.data(), v.data(), out.data(), 1, iH, iN, kD, scale); });
    const double t_bf16 = scale_heads * seconds([&] {
      ops::flash_attention_bf16(q.data(), k.data(), v.data(), out.data(), 1, iH, iN, kD, scale);
    });
    // Frame attention: the same tokens as S sequences of P (the layout differs, the work does not).
    const double t_frame = scale_heads * seconds([&] {
      ops::flash_attention_bf16(q.data(), k.data(), v.data(), out.data(), S, iH, static_cast<int>(L.P), kD, scale);
    });
    const double t_kv = scale_heads * seconds([&] {
      ops::kv_subsample_attention(ops::AttentionKernel::flash_bf16, q.data(), k.data(), v.data(), out.data(), H, L, kD,
                                  scale, stride);
    });
    const double t_sparse = scale_heads * seconds([&] {
      ops::block_sparse_attention(ops::AttentionKernel::flash_bf16, q.data(), k.data(), v.data(), out.data(), H, L, kD,
                                  scale, keep, cdf);
    });
    const double mean = (n_frame * t_frame + n_kv * t_kv + n_sparse * t_sparse) / kDepth;
    nlohmann::json row = {{"frames", S},           {"N", N},
                          {"heads_timed", H},      {"flash_fp32_seconds", t_fp32},
                          {"flash_bf16_seconds", t_bf16},
                          {"early_frame_seconds", t_frame},
                          {"kv_subsample_seconds", t_kv},
                          {"block_sparse_seconds", t_sparse},
                          {"defaults_mean_layer_seconds", mean},
                          {"bf16_over_kv_subsample", t_bf16 / t_kv},
                          {"bf16_over_block_sparse", t_bf16 / t_sparse},
                          {"bf16_over_early_frame", t_bf16 / t_frame},
                          {"bf16_over_defaults_mean", t_bf16 / mean},
                          {"native_bf16", ops::flash_bf16_sparse_native(kD)}};
    rows.push_back(row);
    if (!o.json)
      std::printf("%5d %7lld | %9.2f %9.2f | %9.3f %9.3f %9.3f | %9.3f %6.1fx   (bf16/kv %.1fx, bf16/sparse %.1fx)\n", S,
                  static_cast<long long>(N), t_fp32, t_bf16, t_frame, t_kv, t_sparse, mean, t_bf16 / mean, t_bf16 / t_kv,
                  t_bf16 / t_sparse);
    std::fflush(stdout);
  }
  return {{"heads", kHeads},
          {"heads_timed", o.heads},
          {"defaults", option_params_json(defaults)},
          {"layers", {{"frame", n_frame}, {"kv_subsample", n_kv}, {"block_sparse", n_sparse}}},
          {"rows", rows}};
}

}  // namespace vggt
