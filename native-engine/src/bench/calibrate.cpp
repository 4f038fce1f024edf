#include "bench/calibrate.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <oneapi/dnnl/dnnl.hpp>

#include "core/cpu_features.h"
#include "core/version.h"
#include "model/default_choice.h"
#include "model/engine_options.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/flash_attention.h"
#include "ops/linear_lowp.h"

namespace vggt {
namespace {

// VGGT-1B's transformer: embed 1024, 16 heads of 64, MLP 4096; 1 camera + 4 register tokens per
// frame. Per frame a forward runs 72 such blocks (24 encoder, 24 frame, 24 global; at one frame a
// global block is a frame block) and ~280 GFLOP of DPT-head convolutions (both heads, 518x350;
// docs/PERFORMANCE.md "DPT heads").
constexpr int kEmbed = 1024, kHeads = 16, kHeadDim = 64, kHidden = 4096, kSpecialTokens = 5;
constexpr int kBlocksPerFrame = 72;
constexpr double kHeadConvGflopPerFrame = 280;
// A representative head convolution: 3x3, 256 -> 256 channels at twice the patch grid.
constexpr int kConvChannels = 256, kConvH = 50, kConvW = 74;

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Process CPU seconds (all threads). On a shared machine a kernel's CPU time moves far less with
// other tenants' load than its wall time; between candidates at the same thread count it compares
// the work each path does (it also counts the threads' barrier spinning, alike for all).
double cpu_now() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

std::vector<float> random_vec(size_t n, unsigned seed, float scale) {
  std::vector<float> v(n);
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(-scale, scale);  // values do not change the speed
  for (auto& x : v) x = u(g);
  return v;
}

Tensor random_tensor(std::vector<int64_t> shape, unsigned seed, float scale) {
  Tensor t(shape);
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = u(g);
  return t;
}

// int8_f32: int8 Linears with fp32 attention and convolutions (`all,-bf16,w8a8`).
enum class Path { exact, bf16, int8, int8_f32 };
bool bf16_attention_and_convs(Path p) { return p == Path::bf16 || p == Path::int8; }
const char* path_name(Path p) {
  return p == Path::exact ? "fp32" : p == Path::bf16 ? "bf16" : p == Path::int8 ? "int8" : "int8+fp32";
}

struct Op {
  const char* name;
  double gflop;
  std::function<void()> run;
  double best = 1e30;       // process CPU seconds, best round
  double best_wall = 1e30;  // wall seconds, best round
};

struct Candidate {
  std::string preset;
  Path path;
  std::string unavailable;  // why its kernels cannot run here (empty: they run)
  std::vector<Op> ops;  // one transformer block's work, then the head convolution (last)
  bool bf16_native = false, flash_bf16_native = false;
};

// Inputs shared by every candidate (one frame of tokens).
struct Inputs {
  int rows;
  std::vector<float> Wqkv, bqkv, Wproj, bproj, Wfc1, bfc1, Wfc2, bfc2;
  std::vector<float> x, qkv_out, q, k, v, attn, hidden, out;
  std::vector<uint16_t> hidden_bf16;
  Tensor conv_w, conv_b, conv_x;
  int conv_h, conv_w_px;
};

Inputs make_inputs(int rows) {
  Inputs in;
  in.rows = rows;
  in.Wqkv = random_vec(size_t(3 * kEmbed) * kEmbed, 1, 0.03f);
  in.bqkv = random_vec(3 * kEmbed, 2, 0.1f);
  in.Wproj = random_vec(size_t(kEmbed) * kEmbed, 3, 0.03f);
  in.bproj = random_vec(kEmbed, 4, 0.1f);
  in.Wfc1 = random_vec(size_t(kHidden) * kEmbed, 5, 0.03f);
  in.bfc1 = random_vec(kHidden, 6, 0.1f);
  in.Wfc2 = random_vec(size_t(kEmbed) * kHidden, 7, 0.015f);
  in.bfc2 = random_vec(kEmbed, 8, 0.1f);
  in.x = random_vec(size_t(rows) * kEmbed, 9, 1.f);
  in.qkv_out.resize(size_t(rows) * 3 * kEmbed);
  in.q = random_vec(size_t(rows) * kEmbed, 10, 1.f);
  in.k = random_vec(size_t(rows) * kEmbed, 11, 1.f);
  in.v = random_vec(size_t(rows) * kEmbed, 12, 1.f);
  in.attn.resize(size_t(rows) * kEmbed);
  in.hidden.resize(size_t(rows) * kHidden);
  in.hidden_bf16.resize(size_t(rows) * kHidden);
  in.out.resize(size_t(rows) * kEmbed);
  // Tests shrink the tokens; the convolution shrinks with them (same aspect).
  const double f = std::min(1.0, std::sqrt(rows / 930.0));
  in.conv_h = std::max(4, static_cast<int>(kConvH * f));
  in.conv_w_px = std::max(4, static_cast<int>(kConvW * f));
  in.conv_w = random_tensor({kConvChannels, kConvChannels, 3, 3}, 13, 0.02f);
  in.conv_b = random_tensor({kConvChannels}, 14, 0.1f);
  in.conv_x = random_tensor({1, in.conv_h, in.conv_w_px, kConvChannels}, 15, 1.f);
  return in;
}

// The kernels each candidate's options select in the model (model/layers.cpp): `fastest-exact`
// prepacked fp32 Linears and fp32 flash attention; `all` bf16 Linears with the GELU fused into
// fc1 where bf16 is native, bf16 flash attention, bf16 convolutions; `fastest-int8` (= all,w8a8,
// default parameters: every Linear, camera/register rows in two int8 levels) int8 Linears with the
// rest as `all`; `int8-fp32` (= all,-bf16,w8a8) the same int8 Linears with the rest as
// `fastest-exact`.
Candidate make_candidate(const std::string& preset, Path path, Inputs& in) {
  Candidate c{preset, path, {}};
  const int M = in.rows, E = kEmbed, Hd = kHidden;
  const double g_qkv = 2.0 * M * 3 * E * E / 1e9, g_proj = 2.0 * M * E * E / 1e9, g_mlp = 2.0 * 2 * M * E * Hd / 1e9;
  const double g_attn = 4.0 * kHeads * double(M) * M * kHeadDim / 1e9;
  const double g_conv = 2.0 * kConvChannels * kConvChannels * 9 * double(in.conv_h) * in.conv_w_px / 1e9;
  auto conv = std::make_shared<ops::Conv2d>(in.conv_w, in.conv_b, 1, 1);
  conv->set_prepack(true);
  conv->set_bf16(bf16_attention_and_convs(path));
  auto conv_op = [conv, &in] { Tensor y = conv->forward(in.conv_x, true); };
  const float scale = 1.f / std::sqrt(float(kHeadDim));
  auto attn = [&in, path, scale, M] {
    if (!bf16_attention_and_convs(path))
      ops::flash_attention(in.q.data(), in.k.data(), in.v.data(), in.attn.data(), 1, kHeads, M, kHeadDim, scale);
    else
      ops::flash_attention_bf16(in.q.data(), in.k.data(), in.v.data(), in.attn.data(), 1, kHeads, M, kHeadDim, scale);
  };
  c.flash_bf16_native = bf16_attention_and_convs(path) && ops::flash_attention_bf16_native(kHeadDim);
  if (path == Path::exact) {
    auto qkv = std::make_shared<ops::LinearF32Packed>(in.Wqkv.data(), in.bqkv.data(), 3 * E, E);
    auto proj = std::make_shared<ops::LinearF32Packed>(in.Wproj.data(), in.bproj.data(), E, E);
    auto fc1 = std::make_shared<ops::LinearF32Packed>(in.Wfc1.data(), in.bfc1.data(), Hd, E);
    auto fc2 = std::make_shared<ops::LinearF32Packed>(in.Wfc2.data(), in.bfc2.data(), E, Hd);
    c.ops = {{"qkv", g_qkv, [qkv, &in, M] { qkv->forward(in.x.data(), in.qkv_out.data(), M); }},
             {"attention", g_attn, attn},
             {"proj", g_proj, [proj, &in, M] { proj->forward(in.attn.data(), in.out.data(), M); }},
             {"mlp", g_mlp, [fc1, fc2, &in, M] {
                fc1->forward(in.x.data(), in.hidden.data(), M);
                ops::gelu_erf(in.hidden.data(), int64_t(M) * kHidden);
                fc2->forward(in.hidden.data(), in.out.data(), M);
              }}};
  } else if (path == Path::bf16) {
    auto qkv = std::make_shared<ops::LinearBF16>(in.Wqkv.data(), in.bqkv.data(), 3 * E, E);
    auto proj = std::make_shared<ops::LinearBF16>(in.Wproj.data(), in.bproj.data(), E, E);
    auto fc1 = std::make_shared<ops::LinearBF16>(in.Wfc1.data(), in.bfc1.data(), Hd, E);
    auto fc2 = std::make_shared<ops::LinearBF16>(in.Wfc2.data(), in.bfc2.data(), E, Hd);
    c.bf16_native = fc1->native_bf16() && fc2->native_bf16();
    const bool fused = c.bf16_native;
    c.ops = {{"qkv", g_qkv, [qkv, &in, M] { qkv->forward(in.x.data(), in.qkv_out.data(), M); }},
             {"attention", g_attn, attn},
             {"proj", g_proj, [proj, &in, M] { proj->forward(in.attn.data(), in.out.data(), M); }},
             {"mlp", g_mlp, [fc1, fc2, fused, &in, M] {
                if (fused) {
                  fc1->forward_gelu_to_bf16(in.x.data(), in.hidden_bf16.data(), M);
                  fc2->forward_bf16_input(in.hidden_bf16.data(), in.out.data(), M);
                } else {
                  fc1->forward(in.x.data(), in.hidden.data(), M);
                  ops::gelu_erf(in.hidden.data(), int64_t(M) * kHidden);
                  fc2->forward(in.hidden.data(), in.out.data(), M);
                }
              }}};
  } else {
    auto qkv = std::make_shared<ops::LinearW8A8>(in.Wqkv.data(), in.bqkv.data(), 3 * E, E);
    auto proj = std::make_shared<ops::LinearW8A8>(in.Wproj.data(), in.bproj.data(), E, E);
    auto fc1 = std::make_shared<ops::LinearW8A8>(in.Wfc1.data(), in.bfc1.data(), Hd, E);
    auto fc2 = std::make_shared<ops::LinearW8A8>(in.Wfc2.data(), in.bfc2.data(), E, Hd);
    const int P = M, sp = kSpecialTokens;
    c.ops = {{"qkv", g_qkv, [qkv, &in, M, P, sp] { qkv->forward(in.x.data(), in.qkv_out.data(), M, P, sp); }},
             {"attention", g_attn, attn},
             {"proj", g_proj, [proj, &in, M, P, sp] { proj->forward(in.attn.data(), in.out.data(), M, P, sp); }},
             {"mlp", g_mlp, [fc1, fc2, &in, M, P, sp] {
                fc1->forward(in.x.data(), in.hidden.data(), M, P, sp);
                ops::gelu_erf(in.hidden.data(), int64_t(M) * kHidden);
                fc2->forward(in.hidden.data(), in.out.data(), M, P, sp);
              }}};
  }
  c.ops.push_back({"head_conv", g_conv, conv_op});
  return c;
}

std::string read_loadavg() {
  std::ifstream f("/proc/loadavg");
  std::string s;
  std::getline(f, s);
  return s;
}

}  // namespace

nlohmann::json run_calibration(const CalibrateOptions& o) {
  if (o.tokens < 8 || o.tokens > 4096) throw std::invalid_argument("calibrate: --tokens must be in [8, 4096]");
  if (o.rounds < 1 || o.rounds > 20) throw std::invalid_argument("calibrate: --rounds must be in [1, 20]");
  const double t_start = now();
  const int threads = o.threads > 0 ? o.threads : omp_get_num_procs();
  omp_set_num_threads(threads);
  const std::string load_start = read_loadavg();
  Inputs in = make_inputs(o.tokens);
  std::vector<Candidate> cands;
  for (const OptionPreset& p : option_presets()) {
    if (!p.default_candidate) continue;
    const EngineOptions opts = parse_option_list(p.options, threads);
    const Path path = opts.on(Opt::w8a8) ? (opts.on(Opt::bf16) ? Path::int8 : Path::int8_f32)
                      : opts.on(Opt::bf16) ? Path::bf16
                                           : Path::exact;
    // A path oneDNN cannot run at this ISA level (e.g. int8 matmuls or bf16 convolutions with
    // the ISA forced below AVX-512) is reported as unavailable and never chosen.
    try {
      cands.push_back(make_candidate(p.name, path, in));
    } catch (const std::exception& e) {
      Candidate c{p.name, path, e.what(), {}};
      cands.push_back(std::move(c));
    }
  }
  size_t n_ops = 0;
  for (const Candidate& c : cands) n_ops = std::max(n_ops, c.ops.size());
  // One warm-up round (primitive creation, weight packing), then rounds that interleave the
  // candidates op by op, so a burst of load from other processes hits them all alike.
  for (int r = 0; r <= o.rounds; ++r)
    for (size_t i = 0; i < n_ops; ++i)
      for (Candidate& c : cands) {
        if (!c.unavailable.empty()) continue;
        Op& op = c.ops[i];
        const double t0 = now(), c0 = cpu_now();
        try {
          op.run();
        } catch (const std::exception& e) {
          c.unavailable = std::string(op.name) + ": " + e.what();
          continue;
        }
        if (r > 0) {
          op.best = std::min(op.best, cpu_now() - c0);
          op.best_wall = std::min(op.best_wall, now() - t0);
        }
      }

  const double rows_scale = 930.0 / o.tokens;  // predictions are per 930-token frame
  std::vector<CandidateTime> times;
  nlohmann::json cj = nlohmann::json::array();
  for (const Candidate& c : cands) {
    const OptionPreset& p = *find_preset(c.preset);
    const nlohmann::json accuracy = {{"rotation_deg", p.accuracy.rotation_deg},
                                     {"points_rel_rms", p.accuracy.points_rel_rms},
                                     {"basis", p.accuracy.basis}};
    if (!c.unavailable.empty()) {
      times.push_back({c.preset, 0, false});
      cj.push_back({{"preset", c.preset}, {"options", p.options}, {"path", path_name(c.path)}, {"available", false},
                    {"error", c.unavailable}, {"accuracy", accuracy}});
      continue;
    }
    double block = 0;
    nlohmann::json ops = nlohmann::json::object();
    for (const Op& op : c.ops) {
      // gflops per CPU-second of all threads together: the machine's rate for this work.
      ops[op.name] = {{"cpu_seconds", op.best}, {"wall_seconds", op.best_wall}, {"gflops", op.gflop / op.best}};
      if (std::string(op.name) != "head_conv") block += op.best;
    }
    const Op& conv = c.ops.back();
    const double predicted = kBlocksPerFrame * block * rows_scale + kHeadConvGflopPerFrame / (conv.gflop / conv.best);
    times.push_back({c.preset, predicted});
    cj.push_back({{"preset", c.preset},
                  {"options", p.options},
                  {"path", path_name(c.path)},
                  {"available", true},
                  {"ops", ops},
                  {"block_cpu_seconds", block},
                  {"predicted_seconds_per_frame", predicted},
                  {"bf16_native", c.bf16_native},
                  {"flash_bf16_native", c.flash_bf16_native},
                  {"accuracy", accuracy}});
  }
  const DefaultChoice choice = choose_default(times);
  double exact_s = 0;
  for (const CandidateTime& t : times)
    if (t.preset == exact_candidate()) exact_s = t.seconds;
  for (size_t i = 0; i < cj.size(); ++i) {
    if (!times[i].available) continue;
    cj[i]["relative_time"] = times[i].seconds / exact_s;
    cj[i]["speedup_vs_exact"] = exact_s / times[i].seconds;
    cj[i]["inside_bound"] = std::find(choice.inside_bound.begin(), choice.inside_bound.end(), times[i].preset) !=
                            choice.inside_bound.end();
  }
  const auto v = dnnl::version();
  return {{"schema", "vggt-calibration/1"},
          {"engine_version", engine_version()},
          {"cpu", cpu_model_name()},
          {"isa", isa_level_name(isa_level())},
          {"isa_detail", isa_name()},
          {"threads", threads},
          {"onednn", std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch)},
          {"tokens", o.tokens},
          {"rounds", o.rounds},
          {"timing", "process CPU seconds per op, best of the rounds (wall seconds reported beside)"},
          {"model", "per frame: " + std::to_string(kBlocksPerFrame) +
                        " transformer blocks (qkv, attention, proj, fc1+GELU+fc2 at 930 rows) + " +
                        std::to_string(static_cast<int>(kHeadConvGflopPerFrame)) +
                        " GFLOP of DPT-head convolutions at a 3x3 256->256 convolution's rate"},
          {"candidates", cj},
          {"bound", default_bound_json()},
          {"min_gain", kDefaultMinGain},
          {"chosen", {{"preset", choice.preset}, {"speedup_vs_exact", choice.speedup_vs_exact}, {"reason", choice.reason}}},
          {"loadavg", load_start},
          {"loadavg_end", read_loadavg()},
          {"seconds", now() - t_start}};
}

int calibrate_main(int argc, char** argv) {
  CalibrateOptions o;
  bool json = false;
  auto int_arg = [](const std::string& flag, const char* v) {
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    if (!*v || *end || n < 0 || n > 1 << 20) throw std::invalid_argument(flag + ": expected a whole number, got '" + v + "'");
    return static_cast<int>(n);
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if ((a == "--threads" || a == "--tokens" || a == "--rounds") && i + 1 < argc) {
      const int n = int_arg(a, argv[++i]);
      (a == "--threads" ? o.threads : a == "--tokens" ? o.tokens : o.rounds) = n;
    } else if (a == "--help" || a == "-h") {
      std::printf(
          "usage: vggt-engine calibrate [--json] [--threads N] [--rounds R]\n"
          "  Times VGGT-1B's transformer-block GEMMs (qkv, proj, fc1, fc2 at 930 rows), frame attention and a\n"
          "  DPT-head convolution with each default candidate's kernels (fastest-exact: fp32; all: bf16;\n"
          "  fastest-int8 = all,w8a8: int8; int8-fp32 = all,-bf16,w8a8: int8 Linears, fp32 attention and\n"
          "  convolutions), predicts their relative forward times, and names the fastest\n"
          "  candidate inside the official bf16 accuracy bound: the default set for this machine.\n"
          "  A few seconds; --tokens N (rows per frame, default 930) is for tests.\n");
      return 0;
    } else {
      std::fprintf(stderr, "vggt-engine calibrate: unknown or incomplete argument '%s' (see --help)\n", a.c_str());
      return 2;
    }
  }
  const nlohmann::json r = run_calibration(o);
  if (json) {
    std::printf("%s\n", r.dump(2).c_str());
    return 0;
  }
  std::printf("calibrate: %s, isa %s, %d threads, oneDNN %s, %.1f s (load average %s)\n",
              r["cpu"].get<std::string>().c_str(), r["isa_detail"].get<std::string>().c_str(), r["threads"].get<int>(),
              r["onednn"].get<std::string>().c_str(), r["seconds"].get<double>(), r["loadavg"].get<std::string>().c_str());
  std::printf("%-14s %-9s | %9s %9s %9s %9s %9s | %10s %8s %8s | %s\n", "preset", "path", "qkv", "attn", "proj", "mlp",
              "conv", "cpu s/frame", "relative", "speedup", "accuracy (rotation deg, points rel)");
  for (const auto& c : r["candidates"]) {
    if (!c["available"].get<bool>()) {
      std::printf("%-14s %-9s | cannot run here: %s\n", c["preset"].get<std::string>().c_str(),
                  c["path"].get<std::string>().c_str(), c["error"].get<std::string>().c_str());
      continue;
    }
    const auto& ops = c["ops"];
    auto g = [&](const char* k) { return ops[k]["gflops"].get<double>(); };
    std::printf("%-14s %-9s | %9.0f %9.0f %9.0f %9.0f %9.0f | %10.2f %8.2f %7.2fx | %.3f, %.1e%s\n",
                c["preset"].get<std::string>().c_str(), c["path"].get<std::string>().c_str(), g("qkv"), g("attention"),
                g("proj"), g("mlp"), g("head_conv"), c["predicted_seconds_per_frame"].get<double>(),
                c["relative_time"].get<double>(), c["speedup_vs_exact"].get<double>(),
                c["accuracy"]["rotation_deg"].get<double>(), c["accuracy"]["points_rel_rms"].get<double>(),
                c["inside_bound"].get<bool>() ? "" : " (outside the bound)");
  }
  std::printf("(GFLOP per CPU-second per op; predicted CPU seconds per frame: %s)\n", r["model"].get<std::string>().c_str());
  std::printf("default for this machine: %s — %s\n", r["chosen"]["preset"].get<std::string>().c_str(),
              r["chosen"]["reason"].get<std::string>().c_str());
  return 0;
}

}  // namespace vggt
