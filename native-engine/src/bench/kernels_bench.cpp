// `vggt-engine bench-kernels`: oneDNN GEMM rates per dtype on VGGT-1B Linear shapes, the
// engine's Linear wrappers as a fraction of them, and global attention naive vs flash.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>
#include <oneapi/dnnl/dnnl.hpp>

#include "bench/kernels_bench.h"
#include "bench/global_attention_bench.h"
#include "core/cpu_features.h"
#include "ops/attention.h"
#include "ops/flash_attention.h"
#include "ops/layernorm_fused.h"
#include "ops/linear_lowp.h"
#include "ops/qkv_epilogue.h"
#include "ops/rope.h"

namespace vggt {
namespace {

constexpr int kTokensPerFrame = 930;  // 518x350 input: 37x25 patches + 1 camera + 4 registers

struct Options {
  int threads = 0;
  bool json = false;
  std::vector<int> gemm_frames = {2, 4};
  std::vector<int> attn_frames = {2, 4, 8, 16};
  int naive_max_frames = 1 << 30;
  double min_seconds = 0.5;  // repeat each measurement until this much time has passed
  int max_reps = 5;
  bool global_attention = false;  // --global-attention: only the many-frame per-layer table
  bool frame_attention = false;   // --frame-attention: frame attention kernel and its QKV epilogue
  std::vector<int> frame_attention_frames = {2, 8};
  GlobalAttentionBenchOptions global;
};

std::vector<int> parse_list(const std::string& s, const char* flag) {
  std::vector<int> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end || v <= 0 || v > 1024)
      throw std::invalid_argument(std::string(flag) + ": bad value '" + item + "'");
    out.push_back(static_cast<int>(v));
  }
  return out;
}

void usage() {
  std::printf(
      "usage: vggt-engine bench-kernels [--threads N] [--json] [--gemm-frames 2,4]\n"
      "         [--attn-frames 2,4,8,16] [--naive-max-frames S] [--min-seconds T]\n"
      "  tokens = 930 * frames (518x350 images). Naive attention needs 4*N^2 bytes per thread.\n"
      "       vggt-engine bench-kernels --global-attention [--frames 25,100,200] [--heads 1] [--no-fp32]\n"
      "         [--threads N] [--json]\n"
      "  one global attention layer per attention variant (dense fp32/bf16 flash, early-frame,\n"
      "  kv-subsample, block-sparse at their defaults); heads are independent, so only --heads of\n"
      "  the 16 are computed and times are scaled to 16.\n"
      "       vggt-engine bench-kernels --frame-attention [--frames 2,8] [--threads N] [--json]\n"
      "  one frame-attention layer: the bf16 and fp32 flash kernels (B = frames, N = 930) against\n"
      "  the raw bf16 GEMM rate, and the QKV epilogue (split, QK-norm, RoPE) fused vs separate.\n");
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "bench-kernels" && i == 1) continue;  // called with the CLI's full argv
    if (a == "--threads") {
      o.threads = parse_list(next(), "--threads").at(0);
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--gemm-frames") {
      o.gemm_frames = parse_list(next(), "--gemm-frames");
    } else if (a == "--attn-frames") {
      o.attn_frames = parse_list(next(), "--attn-frames");
    } else if (a == "--naive-max-frames") {
      o.naive_max_frames = parse_list(next(), "--naive-max-frames").at(0);
    } else if (a == "--global-attention") {
      o.global_attention = true;
    } else if (a == "--frame-attention") {
      o.frame_attention = true;
    } else if (a == "--frames") {
      o.global.frames = o.frame_attention_frames = parse_list(next(), "--frames");
    } else if (a == "--heads") {
      o.global.heads = parse_list(next(), "--heads").at(0);
      if (o.global.heads > 16) throw std::invalid_argument("--heads: at most 16 (VGGT-1B's heads)");
    } else if (a == "--no-fp32") {
      o.global.fp32 = false;
    } else if (a == "--min-seconds") {
      o.min_seconds = std::atof(next().c_str());
    } else if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    } else {
      throw std::invalid_argument("unknown argument '" + a + "' (see --help)");
    }
  }
  return o;
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Best time of up to max_reps runs (after one warm-up run), stopping once min_seconds passed.
double best_time(const Options& o, const std::function<void()>& fn) {
  fn();
  double best = 1e30, start = now();
  for (int r = 0; r < o.max_reps; ++r) {
    const double t0 = now();
    fn();
    best = std::min(best, now() - t0);
    if (now() - start > o.min_seconds) break;
  }
  return best;
}

// Peak resident-set growth of fn (Linux: reset VmHWM through clear_refs, read it back).
long long read_status_kb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::atoll(line.c_str() + std::strlen(key));
  return -1;
}
long long peak_rss_growth(const std::function<void()>& fn) {
  const long long before = read_status_kb("VmRSS:");
  {
    std::ofstream c("/proc/self/clear_refs");
    c << "5";
  }
  fn();
  const long long hwm = read_status_kb("VmHWM:");
  if (before < 0 || hwm < 0) return -1;
  return std::max(0LL, hwm - before) * 1024;
}

std::vector<float> random_vec(size_t n, unsigned seed, float s) {
  std::vector<float> v(n);
  std::mt19937 g(seed);
  std::normal_distribution<float> nd(0.0f, s);
  for (auto& x : v) x = nd(g);
  return v;
}

// Raw oneDNN matmul of one dtype: inputs already in that dtype, weights prepacked.
double raw_matmul_seconds(const Options& o, dnnl::memory::data_type dt, int M, int N, int K) {
  using namespace dnnl;
  using tag = memory::format_tag;
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  const auto ddt = dt == memory::data_type::s8 ? memory::data_type::s32 : memory::data_type::f32;
  memory::desc src({M, K}, dt, tag::ab), wei({K, N}, dt, tag::any), dst({M, N}, ddt, tag::ab);
  matmul::primitive_desc pd(matmul::desc(src, wei, dst), eng);
  memory a(src, eng), w(pd.weights_desc(), eng), c(dst, eng);
  std::memset(a.get_data_handle(), 0, src.get_size());  // values do not change the speed
  std::memset(w.get_data_handle(), 0, pd.weights_desc().get_size());
  matmul prim(pd);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, c}};
  return best_time(o, [&] {
    prim.execute(s, args);
    s.wait();
  });
}

// raw_matmul_seconds in process CPU seconds (see best_cpu_time).
double best_cpu_time(const Options& o, const std::function<void()>& fn);
double raw_matmul_cpu_seconds(const Options& o, dnnl::memory::data_type dt, int M, int N, int K) {
  using namespace dnnl;
  using tag = memory::format_tag;
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  memory::desc src({M, K}, dt, tag::ab), wei({K, N}, dt, tag::any), dst({M, N}, memory::data_type::f32, tag::ab);
  matmul::primitive_desc pd(matmul::desc(src, wei, dst), eng);
  memory a(src, eng), w(pd.weights_desc(), eng), c(dst, eng);
  std::memset(a.get_data_handle(), 0, src.get_size());
  std::memset(w.get_data_handle(), 0, pd.weights_desc().get_size());
  matmul prim(pd);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, c}};
  return best_cpu_time(o, [&] {
    prim.execute(s, args);
    s.wait();
  });
}

struct Shape {
  const char* name;
  int N, K;
};
const Shape kShapes[] = {{"qkv", 3072, 1024}, {"proj", 1024, 1024}, {"fc1", 4096, 1024},
                         {"fc2", 1024, 4096}};

nlohmann::json bench_gemm(const Options& o) {
  nlohmann::json rows = nlohmann::json::array();
  if (!o.json)
    std::printf("\nLinear GEMMs (GFLOP/s; fraction = wrapper / raw oneDNN matmul of its dtype)\n"
                "%-5s %6s %-6s | %8s %8s %8s | %8s %8s %8s | %6s %6s %6s\n",
                "S", "M", "layer", "raw f32", "raw bf16", "raw s8", "F32Pack", "BF16", "W8A8",
                "f32", "bf16", "w8a8");
  for (int S : o.gemm_frames) {
    const int M = kTokensPerFrame * S;
    for (const Shape& sh : kShapes) {
      const double flop = 2.0 * M * sh.N * sh.K;
      auto W = random_vec(static_cast<size_t>(sh.N) * sh.K, 1, 0.03f);
      auto b = random_vec(sh.N, 2, 0.1f);
      auto x = random_vec(static_cast<size_t>(M) * sh.K, 3, 1.0f);
      std::vector<float> y(static_cast<size_t>(M) * sh.N);
      using dt = dnnl::memory::data_type;
      // A dtype oneDNN cannot run here (bf16 below AVX-512, e.g. under VGGT_ISA=avx2) reads
      // NaN in the table and null in the JSON.
      auto raw = [&](dt t) {
        try {
          return flop / raw_matmul_seconds(o, t, M, sh.N, sh.K) / 1e9;
        } catch (const dnnl::error&) {
          return std::nan("");
        }
      };
      const double r32 = raw(dt::f32), r16 = raw(dt::bf16), r8 = raw(dt::s8);
      ops::LinearF32Packed lf(W.data(), b.data(), sh.N, sh.K);
      ops::LinearBF16 lb(W.data(), b.data(), sh.N, sh.K);
      ops::LinearW8A8 lq(W.data(), b.data(), sh.N, sh.K);
      const double w32 = flop / best_time(o, [&] { lf.forward(x.data(), y.data(), M); }) / 1e9;
      const double w16 = flop / best_time(o, [&] { lb.forward(x.data(), y.data(), M); }) / 1e9;
      const double w8 = flop / best_time(o, [&] { lq.forward(x.data(), y.data(), M); }) / 1e9;
      // The model's int8 default: camera + register rows (5 per frame) in two levels, and with
      // residual weights (docs/INT8.md); same FLOP count, so the ratio is the overhead.
      ops::LinearW8A8 lr(W.data(), b.data(), sh.N, sh.K, false, /*residual=*/true);
      const double w8s = flop / best_time(o, [&] { lq.forward(x.data(), y.data(), M, kTokensPerFrame, 5); }) / 1e9;
      const double w8r = flop / best_time(o, [&] { lr.forward(x.data(), y.data(), M, kTokensPerFrame, 5); }) / 1e9;
      nlohmann::json row = {{"frames", S},
                            {"M", M},
                            {"layer", sh.name},
                            {"N", sh.N},
                            {"K", sh.K},
                            {"raw_gflops", {{"f32", r32}, {"bf16", r16}, {"s8s8_s32", r8}}},
                            {"linear_gflops",
                             {{"f32_packed", w32},
                              {"bf16", w16},
                              {"w8a8", w8},
                              {"w8a8_special", w8s},
                              {"w8a8_special_residual", w8r}}},
                            {"fraction_of_raw",
                             {{"f32_packed", w32 / r32}, {"bf16", w16 / r16}, {"w8a8", w8 / r8}}},
                            {"bf16_native", lb.native_bf16()},
                            {"weight_bytes",
                             {{"f32_packed", lf.weight_bytes()},
                              {"bf16", lb.weight_bytes()},
                              {"w8a8", lq.weight_bytes()}}}};
      rows.push_back(row);
      if (!o.json)
        std::printf("%-5d %6d %-6s | %8.0f %8.0f %8.0f | %8.0f %8.0f %8.0f | %6.2f %6.2f %6.2f\n",
                    S, M, sh.name, r32, r16, r8, w32, w16, w8, w32 / r32, w16 / r16, w8 / r8);
      if (!o.json)
        std::printf("%-5s %6s %-6s   int8 special rows %6.0f, + residual weights %6.0f GFLOP/s: residual / special %.3f\n",
                    "", "", "", w8s, w8r, w8r / w8s);
      std::fflush(stdout);
    }
  }
  return rows;
}

nlohmann::json bench_attention(const Options& o, int threads) {
  nlohmann::json rows = nlohmann::json::array();
  const int H = 16, D = 64;
  const float scale = 0.125f;
  if (!o.json)
    std::printf("\nGlobal attention, H=%d D=%d (latency s; scratch = bytes each path allocates; "
                "peak = measured RSS growth; flash-bf16 = bf16 dot products, %s)\n"
                "%-3s %6s | %9s %9s %7s | %12s %12s | %12s %12s | %9s | %9s %7s %9s\n",
                H, D, ops::flash_attention_bf16_native(D) ? "AVX512-BF16 kernel" : "not native here: fp32 kernel",
                "S", "N", "naive", "flash", "ratio", "naive scr", "flash scr", "naive peak",
                "flash peak", "max|diff|", "flash-bf16", "f32/bf16", "bf16 diff");
  for (int S : o.attn_frames) {
    const int N = kTokensPerFrame * S;
    const size_t n = static_cast<size_t>(H) * N * D;
    auto q = random_vec(n, 4, 1.0f), k = random_vec(n, 5, 1.0f), v = random_vec(n, 6, 1.0f);
    std::vector<float> of(n), on(n);
    const double flop = 4.0 * H * static_cast<double>(N) * N * D;
    const long long flash_peak = peak_rss_growth(
        [&] { ops::flash_attention(q.data(), k.data(), v.data(), of.data(), 1, H, N, D, scale); });
    const double tf = best_time(o, [&] {
      ops::flash_attention(q.data(), k.data(), v.data(), of.data(), 1, H, N, D, scale);
    });
    nlohmann::json row = {{"frames", S},
                          {"N", N},
                          {"H", H},
                          {"D", D},
                          {"flash_seconds", tf},
                          {"flash_gflops", flop / tf / 1e9},
                          {"flash_scratch_bytes", ops::flash_attention_scratch_bytes(1, H, N, D, threads)},
                          {"flash_peak_rss_growth_bytes", flash_peak}};
    // bf16 dot products (the flash-attn + bf16 options), against the fp32 flash output.
    std::vector<float> ob(n);
    const double tb = best_time(o, [&] {
      ops::flash_attention_bf16(q.data(), k.data(), v.data(), ob.data(), 1, H, N, D, scale);
    });
    double bdiff = 0;
    for (size_t i = 0; i < n; ++i) bdiff = std::max(bdiff, static_cast<double>(std::fabs(of[i] - ob[i])));
    row["flash_bf16_seconds"] = tb;
    row["flash_bf16_gflops"] = flop / tb / 1e9;
    row["flash_bf16_native"] = ops::flash_attention_bf16_native(D);
    row["flash_over_flash_bf16"] = tf / tb;
    row["flash_bf16_max_abs_diff"] = bdiff;
    row["flash_bf16_scratch_bytes"] = ops::flash_attention_bf16_scratch_bytes(1, H, N, D, threads);
    double tn = -1, diff = -1;
    long long naive_peak = -1;
    if (S <= o.naive_max_frames) {
      naive_peak = peak_rss_growth(
          [&] { ops::naive_attention(q.data(), k.data(), v.data(), on.data(), 1, H, N, D, scale); });
      // The naive path at 16 frames takes tens of seconds: time it once (its first run above
      // already warmed it up).
      const double t0 = now();
      ops::naive_attention(q.data(), k.data(), v.data(), on.data(), 1, H, N, D, scale);
      tn = now() - t0;
      diff = 0;
      for (size_t i = 0; i < n; ++i) diff = std::max(diff, static_cast<double>(std::fabs(of[i] - on[i])));
      row["naive_seconds"] = tn;
      row["naive_gflops"] = flop / tn / 1e9;
      row["naive_scratch_bytes"] = ops::naive_attention_scratch_bytes(1, H, N, D, threads);
      row["naive_peak_rss_growth_bytes"] = naive_peak;
      row["naive_over_flash"] = tn / tf;
      row["max_abs_diff"] = diff;
    }
    rows.push_back(row);
    if (!o.json) {
      auto mb = [](long long b) { return b < 0 ? std::string("-") : std::to_string(b / (1 << 20)) + " MiB"; };
      if (tn >= 0)
        std::printf("%-3d %6d | %9.3f %9.3f %7.2f | %12s %12s | %12s %12s | %.2e | %9.3f %7.2f %.2e\n", S,
                    N, tn, tf, tn / tf, mb(ops::naive_attention_scratch_bytes(1, H, N, D, threads)).c_str(),
                    mb(ops::flash_attention_scratch_bytes(1, H, N, D, threads)).c_str(),
                    mb(naive_peak).c_str(), mb(flash_peak).c_str(), diff, tb, tf / tb, bdiff);
      else
        std::printf("%-3d %6d | %9s %9.3f %7s | %12s %12s | %12s %12s | %9s | %9.3f %7.2f %.2e\n", S, N,
                    "skipped", tf, "-", "-", mb(ops::flash_attention_scratch_bytes(1, H, N, D, threads)).c_str(),
                    "-", mb(flash_peak).c_str(), "-", tb, tf / tb, bdiff);
    }
    std::fflush(stdout);
  }
  return rows;
}

// One frame-attention layer of VGGT-1B at S frames (16 heads of 64, 930 tokens per frame): the
// attention kernels with all frames and heads in one call, as a fraction of the raw bf16 GEMM
// rate of the same run, and the QKV epilogue as separate passes (split, QK-norm on q and k,
// RoPE on q and k: the path without fused-add-ln/rope-cache) vs the one fused pass.
// Best process CPU seconds of one call of fn (after a warm-up call): on a shared machine CPU time
// moves far less with other tenants' load than wall time (it still counts the threads' barrier
// spinning, so compare it between kernels at the same thread count).
double best_cpu_time(const Options& o, const std::function<void()>& fn) {
  auto cpu = [] {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
  };
  fn();
  double best = 1e30;
  const double start = now();
  for (int r = 0; r < o.max_reps; ++r) {
    const double c0 = cpu();
    fn();
    best = std::min(best, cpu() - c0);
    if (now() - start > o.min_seconds) break;
  }
  return best;
}

nlohmann::json bench_frame_attention(const Options& o, const std::vector<int>& frames) {
  nlohmann::json rows = nlohmann::json::array();
  const int H = 16, D = 64, P = kTokensPerFrame, E = H * D;
  const float scale = 0.125f;
  using dt = dnnl::memory::data_type;
  // The machine's bf16 GEMM rate on an fc1-sized product (as `bench` measures it).
  const double raw_bf16 = 2.0 * 1860 * 4096 * 1024 / raw_matmul_cpu_seconds(o, dt::bf16, 1860, 4096, 1024) / 1e9;
  if (!o.json)
    std::printf("\nFrame attention, H=%d D=%d N=%d per frame; process CPU time per call, GFLOP per CPU-second\n"
                "(raw bf16 GEMM %.0f GFLOP per CPU-second in this run)\n"
                "%-3s | %9s %8s %7s | %9s %8s | %11s %11s %7s\n",
                H, D, P, raw_bf16, "S", "bf16 ms", "GFLOP/s", "of GEMM", "fp32 ms", "GFLOP/s", "glue sep ms",
                "glue fused", "ratio");
  // RoPE tables of one 37x25 frame (1 camera + 4 register tokens first).
  const std::vector<int32_t> pos = ops::frame_positions(5, 25, 37);
  const ops::RopeTable table = ops::RopeTable::build(D / 2, 38, 100.f);
  std::vector<float> cs(static_cast<size_t>(P) * D), sn(static_cast<size_t>(P) * D);
  ops::rope_gather(pos.data(), P, table, cs.data(), sn.data());
  auto nw = random_vec(D, 7, 1.0f), nb = random_vec(D, 8, 0.1f);
  for (int S : frames) {
    const size_t n = static_cast<size_t>(S) * P * E;
    auto q = random_vec(n, 4, 1.0f), k = random_vec(n, 5, 1.0f), v = random_vec(n, 6, 1.0f);
    std::vector<float> out(n);
    const double flop = 4.0 * S * H * static_cast<double>(P) * P * D;
    const double tb = best_cpu_time(o, [&] {
      ops::flash_attention_bf16(q.data(), k.data(), v.data(), out.data(), S, H, P, D, scale);
    });
    const double tf = best_cpu_time(o, [&] {
      ops::flash_attention(q.data(), k.data(), v.data(), out.data(), S, H, P, D, scale);
    });
    auto qkv = random_vec(3 * n, 9, 1.0f);
    const double tsep = best_cpu_time(o, [&] {
      ops::split_qkv(qkv.data(), q.data(), k.data(), v.data(), S, P, H, D);
      ops::layernorm(q.data(), q.data(), nw.data(), nb.data(), static_cast<int64_t>(S) * H * P, D, 1e-5f);
      ops::layernorm(k.data(), k.data(), nw.data(), nb.data(), static_cast<int64_t>(S) * H * P, D, 1e-5f);
      ops::rope_apply(q.data(), static_cast<int64_t>(S) * H, P, D, cs.data(), sn.data(), P, true);
      ops::rope_apply(k.data(), static_cast<int64_t>(S) * H, P, D, cs.data(), sn.data(), P, true);
    });
    const ops::HeadNorm hn{nw.data(), nb.data(), 1e-5f};
    const double tfu = best_cpu_time(o, [&] {
      ops::split_qkv_norm_rope(qkv.data(), q.data(), k.data(), v.data(), S, P, H, D, &hn, &hn, cs.data(),
                               sn.data(), P);
    });
    rows.push_back({{"frames", S},
                    {"flash_bf16_seconds", tb},
                    {"flash_bf16_gflops", flop / tb / 1e9},
                    {"flash_bf16_of_bf16_gemm", flop / tb / 1e9 / raw_bf16},
                    {"flash_bf16_native", ops::flash_attention_bf16_native(D)},
                    {"flash_seconds", tf},
                    {"flash_gflops", flop / tf / 1e9},
                    {"raw_bf16_gemm_gflops", raw_bf16},
                    {"epilogue_separate_seconds", tsep},
                    {"epilogue_fused_seconds", tfu},
                    {"epilogue_separate_over_fused", tsep / tfu}});
    if (!o.json)
      std::printf("%-3d | %9.2f %8.0f %6.0f%% | %9.2f %8.0f | %11.2f %11.2f %6.2fx\n", S, tb * 1e3, flop / tb / 1e9,
                  100.0 * flop / tb / 1e9 / raw_bf16, tf * 1e3, flop / tf / 1e9, tsep * 1e3, tfu * 1e3, tsep / tfu);
    std::fflush(stdout);
  }
  return rows;
}

}  // namespace
}  // namespace vggt

int kernels_bench_main(int argc, char** argv) {
  using namespace vggt;
  try {
    Options o = parse(argc, argv);
    const int threads = o.threads > 0 ? o.threads : omp_get_num_procs();
    omp_set_num_threads(threads);
    const std::string isa = isa_name();
    const auto v = dnnl::version();
    const std::string onednn = std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                               std::to_string(v->patch);
    if (!o.json)
      std::printf("bench-kernels: isa %s, threads %d, oneDNN %s\n", isa.c_str(), threads,
                  onednn.c_str());
    // Other processes on the machine skew every number; record how busy it was.
    std::string load;
    {
      std::ifstream f("/proc/loadavg");
      std::getline(f, load);
    }
    if (!o.json) std::printf("load average at start: %s\n", load.c_str());
    nlohmann::json out = {{"isa", isa}, {"threads", threads}, {"onednn", onednn}, {"loadavg", load}};
    o.global.json = o.json;
    if (o.frame_attention) {
      out["frame_attention"] =
          bench_frame_attention(o, o.frame_attention_frames);
    } else if (o.global_attention) {
      out["global_attention"] = bench_global_attention(o.global);
    } else {
      if (!o.gemm_frames.empty()) out["gemm"] = bench_gemm(o);
      if (!o.attn_frames.empty()) out["attention"] = bench_attention(o, threads);
    }
    {
      std::ifstream f("/proc/loadavg");
      std::getline(f, load);
    }
    out["loadavg_end"] = load;
    if (o.json)
      std::printf("%s\n", out.dump(2).c_str());
    else
      std::printf("load average at end: %s\n", load.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench-kernels: %s\n", e.what());
    return 2;
  }
}
