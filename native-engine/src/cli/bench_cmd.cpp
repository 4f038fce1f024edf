// `vggt-engine bench`: latency, per-stage breakdown, memory and accuracy of option sets,
// measured in one process run (ratios, not absolute times, are what carries across machines).
// Output schema: docs/BENCH-JSON.md.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

#include "cli/args.h"
#include "core/version.h"
#include "cli/commands.h"
#include "runtime/model_setup.h"
#include "core/cpu_features.h"
#include "model/accuracy.h"
#include "preprocess/preprocess.h"
#include "runtime/options_json.h"
#include "runtime/run_io.h"
#include "runtime/memory_usage.h"

namespace vggt::cli {


namespace {

using json = nlohmann::json;

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Process CPU time: on a shared machine it moves far less with other tenants' load than wall time.
double cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// The machine's own matmul rate per data type on a VGGT-sized product (fc1 of 2 frames).
double gemm_gflops(dnnl::memory::data_type dt) {
  using namespace dnnl;
  const memory::dim M = 1860, N = 4096, K = 1024;
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  const auto acc = dt == memory::data_type::s8 ? memory::data_type::s32 : memory::data_type::f32;
  const auto src_dt = dt == memory::data_type::s8 ? memory::data_type::u8 : dt;
  matmul::primitive_desc pd(matmul::desc({{M, K}, src_dt, memory::format_tag::ab}, {{K, N}, dt, memory::format_tag::any},
                                         {{M, N}, acc, memory::format_tag::ab}),
                            eng);
  memory a(pd.src_desc(), eng), b(pd.weights_desc(), eng), c(pd.dst_desc(), eng);
  std::fill_n(static_cast<uint8_t*>(a.get_data_handle()), pd.src_desc().get_size(), 1);
  std::fill_n(static_cast<uint8_t*>(b.get_data_handle()), pd.weights_desc().get_size(), 1);
  matmul mm(pd);
  double best = 1e30;
  for (int r = 0; r < 4; ++r) {
    double t0 = now_ms();
    mm.execute(s, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
    s.wait();
    if (r) best = std::min(best, now_ms() - t0);
  }
  return 2.0 * M * N * K / (best * 1e6);
}

std::vector<std::string> list_images(const std::string& dir, int limit) {
  std::vector<std::string> files;
  DIR* d = opendir(dir.c_str());
  if (!d) throw std::runtime_error(dir + ": cannot open image folder");
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name, lower = n;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (lower.ends_with(".png") || lower.ends_with(".jpg") || lower.ends_with(".jpeg")) files.push_back(dir + "/" + n);
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  if (limit > 0 && static_cast<int>(files.size()) > limit) files.resize(limit);
  if (files.empty()) throw std::runtime_error(dir + ": no PNG or JPEG images");
  return files;
}

// Values of a list option, each also split at commas (`--scaling 2,8 25` = 2, 8, 25).
std::vector<std::string> comma_list(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& v : in) {
    size_t start = 0;
    while (true) {
      const size_t c = v.find(',', start);
      out.push_back(v.substr(start, c - start));
      if (c == std::string::npos) break;
      start = c + 1;
    }
  }
  return out;
}

// Image files from one or more folders (comma-separated), cycled until there are `frames`:
// `--images kitchen,room --frames 200` = kitchen's 25, room's 8, kitchen's 25, ...
std::vector<std::string> cycled_images(const std::vector<std::string>& dirs, int frames) {
  std::vector<std::string> all;
  for (const auto& d : dirs) {
    auto f = list_images(d, 0);
    all.insert(all.end(), f.begin(), f.end());
  }
  std::vector<std::string> out;
  for (int i = 0; i < frames; ++i) out.push_back(all[i % all.size()]);
  return out;
}

// Peak resident memory since the last runtime::reset_peak_rss() (VmHWM; Linux resets it on "5"
// written to /proc/self/clear_refs), or the process-lifetime peak where that is refused.
size_t peak_rss_since_reset() { return runtime::memory_usage().peak_rss_bytes; }

json machine_json() {
  json m = {{"cores", sysconf(_SC_NPROCESSORS_ONLN)},
            {"memory_bytes", static_cast<double>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE)}};
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) {
      m["cpu"] = line.substr(line.find(':') + 2);
      break;
    }
  return m;
}

struct RowResult {
  json row;
  Predictions pred;
};

// --memory-trace: at every step of a forward (encoder and aggregator layers, head chunks) the
// process's peak RSS and the tensors' peak since the previous step, and the tensor cache, so a
// many-frame run shows where its memory goes and how much of it is not tensors.
size_t g_traced_rss_peak = 0;  // tracing resets VmHWM at every step: the process peak is kept here

struct MemoryTrace {
  size_t rss_peak = 0, tensor_peak = 0;  // maxima over the traced forwards
  json steps = json::array();            // the row's "memory_trace"
  bool print = true;                     // one stderr line per step (not with --quiet)
  void start() {
    runtime::reset_peak_rss();
    reset_tensor_bytes_peak();
  }
  void step(const ProgressEvent& e) {
    const size_t rss = peak_rss_since_reset(), tensors = tensor_bytes_peak(), cache = tensor_cache_bytes();
    rss_peak = std::max(rss_peak, rss);
    g_traced_rss_peak = std::max(g_traced_rss_peak, rss);
    tensor_peak = std::max(tensor_peak, tensors);
    steps.push_back({{"stage", e.stage}, {"step", e.step}, {"total", e.total}, {"peak_rss_bytes", rss},
                     {"tensor_peak_bytes", tensors}, {"cache_bytes", cache}});
    const double mib = 1048576.0;
    if (print)
      std::fprintf(stderr,
                 "  memory %-12s %3d/%-3d  peak RSS %7.0f MiB  tensors at peak %7.0f MiB (now %7.0f)  cache %5.0f MiB"
                 "  RSS - tensors %+6.0f MiB\n",
                 e.stage.c_str(), e.step, e.total, rss / mib, tensors / mib, tensor_bytes_in_use() / mib, cache / mib,
                 (static_cast<double>(rss) - static_cast<double>(tensors)) / mib);
    start();
  }
};

// Runs `model` with `opts` (repeats times after `warmup` runs) and describes the row.
RowResult run_row(VggtModel& model, const Tensor& images, const EngineOptions& opts, const std::string& name,
                  int warmup, int repeats, bool quiet, bool trace = false) {
  model.set_options(opts);
  RowResult r;
  MemoryTrace tr;
  RunContext ctx;
  tr.print = !quiet;
  if (trace) ctx.on_progress = [&tr](const ProgressEvent& e) { tr.step(e); };
  // The process's own peak during this row (weights as held for these options + activations +
  // allocator slack), not only the tensors: VmHWM reset here where the kernel allows it.
  const bool row_scope = runtime::reset_peak_rss();
  for (int i = 0; i < warmup; ++i) model.forward(images);
  std::vector<double> lat, cpu;
  size_t peak = 0;
  for (int i = 0; i < repeats; ++i) {
    const size_t base = tensor_bytes_in_use();
    reset_tensor_bytes_peak();
    if (trace) tr.start();
    double t0 = now_ms(), c0 = cpu_ms();
    r.pred = model.forward(images, ctx);
    lat.push_back(now_ms() - t0);
    cpu.push_back(cpu_ms() - c0);
    // Tracing resets both peaks at every step: the row's peaks are then the trace's maxima.
    if (trace) tr.step({"end", 1, 1, 0});
    peak = std::max(peak, (trace ? tr.tensor_peak : tensor_bytes_peak()) - base);
    if (!quiet) std::fprintf(stderr, "  %-24s run %d/%d: %.0f ms\n", name.c_str(), i + 1, repeats, lat.back());
  }
  std::vector<double> s = lat;
  std::sort(s.begin(), s.end());
  json stages = json::array();
  for (auto& t : r.pred.timings) stages.push_back({{"stage", t.stage}, {"ms", t.ms}, {"gflop", t.gflop}});
  r.row = {{"name", name},
           {"options", runtime::option_flags_json(opts)},
           {"option_params", option_params_json(opts)},
           {"latency_ms", lat},
           {"cpu_ms", cpu},
           {"median_ms", s[s.size() / 2]},
           {"peak_bytes", peak},
           {"peak_rss_bytes", trace ? std::max<uint64_t>(tr.rss_peak, runtime::memory_usage().peak_rss_bytes)
                                    : runtime::memory_usage().peak_rss_bytes},
           {"peak_rss_scope", row_scope ? "row" : "process"},
           {"weight_bytes", model.weight_bytes()},
           {"stages", stages}};
  if (trace) r.row["memory_trace"] = tr.steps;
  return r;
}

json accuracy_json(const Predictions& p, const Predictions& ref) {
  Accuracy a = compare_outputs(p.depth, ref.depth, p.world_points, ref.world_points, p.extrinsic, ref.extrinsic);
  const AbsError pe = abs_error(p.pose_enc, ref.pose_enc), wp = abs_error(p.world_points, ref.world_points);
  return {{"depth_rel", a.depth_rel},
          {"points_rel", a.points_rel},
          {"rotation_deg", a.rotation_deg},
          {"translation_rel", a.translation_rel},
          {"pose_enc_max", pe.max},
          {"pose_enc_rms", pe.rms},
          {"world_points_max", wp.max},
          {"world_points_rms", wp.rms}};
}

void print_rows(const json& j) {
  std::printf("%-22s %10s %10s %8s %10s %10s %10s %10s %9s\n", "row", "median ms", "cpu ms", "speedup", "peak MiB",
              "weights MiB", "depth rel", "points rel", "rot deg");
  for (auto& r : j["rows"]) {
    const json& a = r["accuracy"];
    std::printf("%-22s %10.0f %10.0f %7.2fx %10.0f %10.0f %10.1e %10.1e %9.4f\n", r["name"].get<std::string>().c_str(),
                r["median_ms"].get<double>(), r["cpu_ms"][0].get<double>(), r.value("speedup", 1.0), r["peak_bytes"].get<double>() / 1048576.0,
                r["weight_bytes"].get<double>() / 1048576.0, a.value("depth_rel", 0.0), a.value("points_rel", 0.0),
                a.value("rotation_deg", 0.0));
  }
}

}  // namespace

int bench_main(int argc, char** argv) {
  Args a(argc, argv, 2, {"json", "cumulative", "quiet", "memory-trace"});
  a.check_known({"weights", "config", "frames", "images", "input-tensor", "threads", "repeats", "warmup", "json",
                 "options", "height", "width", "cumulative", "ab", "seed", "quiet", "preprocess", "scaling", "sets", "memory-trace"});
  const int frames = a.get_int("frames", 2), repeats = std::max(1, a.get_int("repeats", 1));
  const int warmup = std::max(0, a.get_int("warmup", 0));
  const int threads = a.get_threads();
  const bool quiet = a.has("quiet"), trace = a.has("memory-trace");
  if (a.has("ab") && a.list("ab").size() != 2) throw std::runtime_error("--ab takes two option sets, e.g. --ab none all");
  if (a.has("ab") && a.has("cumulative")) throw std::runtime_error("--ab and --cumulative exclude each other");
  if (a.has("scaling") && (a.has("ab") || a.has("cumulative") || a.has("input-tensor")))
    throw std::runtime_error("--scaling excludes --ab, --cumulative and --input-tensor");
  std::vector<int> scaling;
  if (a.has("scaling"))
    for (const auto& s : comma_list(a.list("scaling"))) {
      char* end = nullptr;
      const long v = std::strtol(s.c_str(), &end, 10);
      if (s.empty() || *end || v < 1 || v > 4096)
        throw std::runtime_error("--scaling: frame counts must be integers in [1, 4096], got '" + s + "'");
      scaling.push_back(static_cast<int>(v));
    }
  // Synthetic frames, or the image folders cycled (see cycled_images).
  auto make_images = [&](int n) {
    if (a.has("images")) return preprocess::load_and_preprocess(cycled_images(comma_list(a.list("images")), n), preprocess::mode_from_string(a.get("preprocess", "crop"))).images;
    Tensor t({n, 3, a.get_int("height", 350), a.get_int("width", 518)});
    for (int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>((i * 7919) % 255) / 255.f;
    return t;
  };

  Tensor images;
  std::string input_desc;
  if (a.has("input-tensor")) {
    images = runtime::read_input_tensor(a.get("input-tensor"), "images",
                                        ModelConfig::resolve(a.get("config", "vggt-1b")).patch_size)
                 .images;
    input_desc = a.get("input-tensor");
  } else {
    images = make_images(scaling.empty() ? frames : scaling.front());
    input_desc = a.has("images") ? a.get("images") : "synthetic";
  }

  json j = {{"schema", "vggt-bench/1"},
            {"engine_version", engine_version()},
            {"isa", isa_name()},
            {"machine", machine_json()},
            {"threads", threads > 0 ? threads : static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN))},
            {"config", a.get("config", "vggt-1b")},
            {"input", input_desc},
            {"frames", images.dim(0)},
            {"height", images.dim(2)},
            {"width", images.dim(3)},
            {"repeats", repeats},
            {"warmup", warmup},
            {"writeup_npu_ms",
             {{"sincos-lowp", 1324.83}, {"rope-fused+rope-cache", 1239.55}, {"dpt-pos-cache", 1211.26},
              {"fused-add-ln", 1208.17}, {"bf16", 1128.18}, {"prepack", 1121.09}}}};
  const double t_load = now_ms();
  auto model = runtime::make_model(a.get("weights"), a.get("config", "vggt-1b"), EngineOptions{threads, {}},
                          static_cast<uint64_t>(a.get_int("seed", 0)));
  j["load_ms"] = now_ms() - t_load;
  j["weights"] = model->random_weights() ? "random (benchmark mode)" : a.get("weights");
  j["random_weights"] = model->random_weights();
  j["machine_gemm_gflops"] = {{"f32", gemm_gflops(dnnl::memory::data_type::f32)},
                              {"bf16", gemm_gflops(dnnl::memory::data_type::bf16)},
                              {"s8", gemm_gflops(dnnl::memory::data_type::s8)}};
  if (!quiet)
    std::fprintf(stderr, "bench: ISA %s, %s, %lld frames %lldx%lld\n", isa_name().c_str(),
                 j["weights"].get<std::string>().c_str(), static_cast<long long>(images.dim(0)),
                 static_cast<long long>(images.dim(3)), static_cast<long long>(images.dim(2)));

  json rows = json::array();
  if (!scaling.empty()) {
    // One process, one model: per frame count, one run (plus --warmup runs) with --options.
    j["kind"] = "scaling";
    const EngineOptions o = parse_option_list(a.get("options"), threads);
    for (size_t i = 0; i < scaling.size(); ++i) {
      const int n = scaling[i];
      Tensor imgs = i == 0 ? images : make_images(n);
      runtime::reset_peak_rss();
      RowResult r = run_row(*model, imgs, o, std::to_string(n) + " frames", warmup, repeats, quiet, trace);
      double total = 0, global = 0;
      for (auto& st : r.row["stages"]) {
        const std::string name = st["stage"];
        if (name.find('.') == std::string::npos) total += st["ms"].get<double>();
        if (name == "aggregator.global_attention") global = st["ms"];
      }
      r.row["frames"] = n;
      r.row["height"] = imgs.dim(2);
      r.row["width"] = imgs.dim(3);
      r.row["global_attention_share"] = total > 0 ? global / total : 0.0;
      if (!trace) r.row["peak_rss_bytes"] = peak_rss_since_reset();
      r.row["speedup"] = 1.0;
      r.row["accuracy"] = accuracy_json(r.pred, r.pred);
      rows.push_back(r.row);
      if (!quiet)
        std::fprintf(stderr, "  %d frames: %.0f ms, global attention %.0f%%, peak tensors %.2f GiB, peak RSS %.2f GiB\n", n,
                     r.row["median_ms"].get<double>(), 100 * r.row["global_attention_share"].get<double>(),
                     r.row["peak_bytes"].get<double>() / 1073741824.0, r.row["peak_rss_bytes"].get<double>() / 1073741824.0);
    }
  } else if (a.has("cumulative")) {
    j["kind"] = "cumulative";
    // The options `all` switches on, in table order, then w8a8 (off by default) as the last row.
    EngineOptions o;
    o.threads = threads;
    // Warm-up runs once, before the baseline: first-call costs (oneDNN kernel generation, page
    // faults) would otherwise land on the baseline row alone. Later rows inherit warm state, as
    // in a long-lived engine; what a row builds on its first run (caches, packed conv weights)
    // is part of its timing.
    RowResult base = run_row(*model, images, o, "baseline", warmup, repeats, quiet, trace);
    base.row["added"] = nullptr;
    base.row["speedup"] = 1.0;
    base.row["accuracy"] = accuracy_json(base.pred, base.pred);
    rows.push_back(base.row);
    for (const Opt id : cumulative_order()) {
      const std::string& opt = option_info(id).name;
      o.set(id);
      RowResult r = run_row(*model, images, o, "+ " + opt, 0, repeats, quiet, trace);
      r.row["added"] = opt;
      r.row["speedup"] = base.row["median_ms"].get<double>() / r.row["median_ms"].get<double>();
      r.row["accuracy"] = accuracy_json(r.pred, base.pred);
      rows.push_back(r.row);
    }
  } else if (a.has("sets")) {
    // One run per option set, the first ("none" = exact) the reference of every row's accuracy
    // and speedup: e.g. the int8 variants against exact and `all` in one process.
    j["kind"] = "sets";
    const auto sets = a.list("sets");
    RowResult base;
    for (size_t i = 0; i < sets.size(); ++i) {
      const EngineOptions o = parse_option_list(sets[i] == "none" ? "" : sets[i], threads);
      RowResult r = run_row(*model, images, o, sets[i], i == 0 ? warmup : 0, repeats, quiet, trace);
      if (i == 0) base = r;
      r.row["speedup"] = base.row["median_ms"].get<double>() / r.row["median_ms"].get<double>();
      r.row["accuracy"] = accuracy_json(r.pred, base.pred);
      rows.push_back(r.row);
      if (!quiet) {
        const json& ac = r.row["accuracy"];
        std::fprintf(stderr, "  %s: %.0f ms, rot %.3f deg, pose_enc %.2e/%.2e, points %.2e/%.2e\n", sets[i].c_str(),
                     r.row["median_ms"].get<double>(), ac["rotation_deg"].get<double>(), ac["pose_enc_max"].get<double>(),
                     ac["pose_enc_rms"].get<double>(), ac["world_points_max"].get<double>(),
                     ac["world_points_rms"].get<double>());
      }
    }
  } else if (a.has("ab")) {
    j["kind"] = "ab";
    const auto sets = a.list("ab");
    auto parse = [&](const std::string& s) { return parse_option_list(s == "none" ? "" : s, threads); };
    const EngineOptions oa = parse(sets[0]), ob = parse(sets[1]);
    json pairs = json::array();
    std::vector<double> ratios, la, lb, ca_all, cb_all;
    RowResult ra, rb;
    for (int i = 0; i < warmup; ++i) {
      run_row(*model, images, oa, "A", 0, 1, true);
      run_row(*model, images, ob, "B", 0, 1, true);
    }
    for (int i = 0; i < repeats; ++i) {  // interleaved, so drifting machine load hits both alike
      RowResult x = run_row(*model, images, oa, "A", 0, 1, quiet, trace);
      RowResult y = run_row(*model, images, ob, "B", 0, 1, quiet, trace);
      const double ta = x.row["median_ms"], tb = y.row["median_ms"];
      const double ca = x.row["cpu_ms"][0], cb = y.row["cpu_ms"][0];
      la.push_back(ta);
      lb.push_back(tb);
      ca_all.push_back(ca);
      cb_all.push_back(cb);
      ratios.push_back(ta / tb);
      pairs.push_back({{"a_ms", ta}, {"b_ms", tb}, {"ratio", ta / tb}, {"a_cpu_ms", ca}, {"b_cpu_ms", cb},
                       {"cpu_ratio", ca / cb}});
      if (i == 0) {
        ra = x;
        rb = y;
      }
      ra.row["peak_bytes"] = std::max(ra.row["peak_bytes"].get<size_t>(), x.row["peak_bytes"].get<size_t>());
      rb.row["peak_bytes"] = std::max(rb.row["peak_bytes"].get<size_t>(), y.row["peak_bytes"].get<size_t>());
      ra.row["peak_rss_bytes"] = std::max(ra.row["peak_rss_bytes"].get<uint64_t>(), x.row["peak_rss_bytes"].get<uint64_t>());
      rb.row["peak_rss_bytes"] = std::max(rb.row["peak_rss_bytes"].get<uint64_t>(), y.row["peak_rss_bytes"].get<uint64_t>());
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    ra.row["latency_ms"] = la;
    ra.row["cpu_ms"] = ca_all;
    rb.row["cpu_ms"] = cb_all;
    ra.row["median_ms"] = median(la);
    rb.row["latency_ms"] = lb;
    rb.row["median_ms"] = median(lb);
    ra.row["speedup"] = 1.0;
    rb.row["speedup"] = median(ratios);
    ra.row["accuracy"] = accuracy_json(ra.pred, ra.pred);
    rb.row["accuracy"] = accuracy_json(rb.pred, ra.pred);
    rows.push_back(ra.row);
    rows.push_back(rb.row);
    j["pairs"] = pairs;
    j["ratio"] = {{"median", median(ratios)},
                  {"min", *std::min_element(ratios.begin(), ratios.end())},
                  {"max", *std::max_element(ratios.begin(), ratios.end())}};
  } else {
    j["kind"] = "single";
    RowResult r = run_row(*model, images, parse_option_list(a.get("options"), threads), "run", warmup, repeats, quiet, trace);
    r.row["speedup"] = 1.0;
    r.row["accuracy"] = accuracy_json(r.pred, r.pred);
    rows.push_back(r.row);
  }
  j["rows"] = rows;
  j["peak_rss_bytes"] = std::max(runtime::peak_rss_bytes(), g_traced_rss_peak);

  if (a.has("json")) {
    std::printf("%s\n", j.dump(1).c_str());
    return 0;
  }
  std::printf("vggt-engine bench (%s) — ISA %s, %d threads; weights: %s\n", j["kind"].get<std::string>().c_str(),
              isa_name().c_str(), j["threads"].get<int>(),
              model->random_weights() ? "RANDOM (benchmark mode, full architecture)" : a.get("weights").c_str());
  std::printf("input: %s, %lld frames of %lldx%lld; machine GEMM GFLOP/s: f32 %.0f, bf16 %.0f, int8 %.0f\n",
              input_desc.c_str(), static_cast<long long>(images.dim(0)), static_cast<long long>(images.dim(3)),
              static_cast<long long>(images.dim(2)), j["machine_gemm_gflops"]["f32"].get<double>(),
              j["machine_gemm_gflops"]["bf16"].get<double>(), j["machine_gemm_gflops"]["s8"].get<double>());
  print_rows(j);
  if (j["kind"] == "scaling") {
    std::printf("\n%7s %10s %8s %10s %10s | stage ms\n", "frames", "total ms", "global", "tensors GiB", "RSS GiB");
    for (auto& r : rows) {
      std::printf("%7d %10.0f %7.0f%% %10.2f %10.2f |", r["frames"].get<int>(), r["median_ms"].get<double>(),
                  100 * r["global_attention_share"].get<double>(), r["peak_bytes"].get<double>() / 1073741824.0,
                  r["peak_rss_bytes"].get<double>() / 1073741824.0);
      for (auto& st : r["stages"]) std::printf(" %s %.0f", st["stage"].get<std::string>().c_str(), st["ms"].get<double>());
      std::printf("\n");
    }
  }
  const json& last = rows.back();
  std::printf("\nstages of '%s':\n", last["name"].get<std::string>().c_str());
  const double f32 = j["machine_gemm_gflops"]["f32"];
  for (auto& s : last["stages"]) {
    const double ms = s["ms"], gf = s["gflop"];
    if (gf > 0 && ms > 0)
      std::printf("  %-30s %9.0f ms %9.1f GFLOP %7.1f GFLOP/s (%3.0f%% of f32 GEMM)\n",
                  s["stage"].get<std::string>().c_str(), ms, gf, gf / ms * 1000, 100 * gf / ms * 1000 / f32);
    else
      std::printf("  %-30s %9.0f ms\n", s["stage"].get<std::string>().c_str(), ms);
  }
  if (j.contains("ratio"))
    std::printf("A/B ratio (A time / B time): median %.3f, min %.3f, max %.3f over %d interleaved pairs\n",
                j["ratio"]["median"].get<double>(), j["ratio"]["min"].get<double>(), j["ratio"]["max"].get<double>(),
                repeats);
  std::printf("peak RSS %.2f GiB\n", std::max(runtime::peak_rss_bytes(), g_traced_rss_peak) / 1073741824.0);
  return 0;
}

}  // namespace vggt::cli
